'use strict';
// Benchmark (not a test): events/s and per-event overhead of the wasm keeper versus a pure-JS
// baseline of the seed's design (opossum + a 400 ms p-queue + Map pending tracking), on the same
// stream of Baileys `connection.update` events. Deliveries go to an instant in-process fetch.
//
//   node bench/bench.js [events=200000] [sessions=200] [chunk=100]     (ROUNDS=3 by default)
//
// Events arrive in chunks of `chunk` per macrotask (as socket events would). Variants of the
// wasm keeper: one `connectionUpdate` call per event (without listeners, like the baseline,
// which emits nothing; and with 'session' + 'command' listeners), and `handleBatch` per chunk.

const { createKeeper } = require('..');
const { SeedGateway } = require('./baseline');

const EVENTS = Number(process.argv[2] || 200_000);
const SESSIONS = Number(process.argv[3] || 200);
const CHUNK = Number(process.argv[4] || 100);
const ROUNDS = Number(process.env.ROUNDS || 3);

function boom(statusCode, message) {
  return { connection: 'close', lastDisconnect: { error: Object.assign(new Error(message), { output: { statusCode } }) } };
}

/** Scenario `lifecycle`: each session loops QR episode, scan, 515 restart, open, network blip. */
function lifeCycle(id, n) {
  const qr = (k) => `2@${'Q'.repeat(120)}${id}-${n}-${k},${'k'.repeat(44)},${'i'.repeat(44)},${'a'.repeat(24)}`;
  return [
    { connection: 'connecting', receivedPendingNotifications: false },
    { qr: qr(1) },
    { qr: qr(2) },
    { qr: qr(3) },
    { isNewLogin: true },
    boom(515, 'Stream Errored (restart required)'),
    { connection: 'connecting' },
    { connection: 'open', isOnline: true },
    boom(428, 'Connection Closed'),
  ];
}

/** Scenario `qr-storm`: every session pending and refreshing its QR (a QR loop). */
function qrStorm(id, n) {
  const qr = `2@${'Q'.repeat(120)}${id}-${n},${'k'.repeat(44)},${'i'.repeat(44)},${'a'.repeat(24)}`;
  return n === 0 ? [{ connection: 'connecting', receivedPendingNotifications: false }, { qr }] : [{ qr }];
}

/** The stream: [sessionId, update] pairs, sessions interleaved. */
function stream(scenario, total, sessions) {
  const out = [];
  for (let n = 0; out.length < total; n++) {
    const cycles = [];
    for (let s = 0; s < sessions; s++) cycles.push(scenario(`u${s}`, n));
    for (let step = 0; step < cycles[0].length && out.length < total; step++) {
      for (let s = 0; s < sessions && out.length < total; s++) out.push([`u${s}`, cycles[s][step]]);
    }
  }
  return out;
}

const okFetch = async () => ({ status: 200, headers: { get: () => null }, arrayBuffer: async () => new ArrayBuffer(0) });
const tick = () => new Promise((resolve) => setImmediate(resolve));

async function run(name, events, setup) {
  const { feed, done } = await setup();
  if (global.gc) global.gc();
  const start = process.hrtime.bigint();
  for (let i = 0; i < events.length; i += CHUNK) {
    feed(events.slice(i, i + CHUNK));
    await tick();
  }
  const ns = Number(process.hrtime.bigint() - start);
  await done();
  const perEvent = ns / events.length / 1000;
  return { name, events: events.length, ms: ns / 1e6, eventsPerSec: Math.round(events.length / (ns / 1e9)), usPerEvent: perEvent };
}

const config = { pendingSessionTimeout: 3_600_000, syncSpacing: 400, maxQueueSize: 1_000_000, maxQrCodes: 1000 };

async function main() {
  const { default: PQueue } = await import('p-queue');
  const { normalizeUpdate } = require('..');

  const variants = (ids) => ({
    baseline: () => {
      const gw = new SeedGateway({ PQueue, send: async () => ({ ok: true }) }, config);
      ids.forEach((id) => gw.addSession(id));
      return {
        feed: (chunk) => {
          for (const [id, u] of chunk) gw.connectionUpdate(id, u);
        },
        done: async () => gw.close(),
      };
    },
    perEvent: () => {
      const k = createKeeper({ laravelApiUrl: 'http://bench.invalid', fetch: okFetch, ...config }).start();
      ids.forEach((id) => k.addSession(id));
      return {
        feed: (chunk) => {
          for (const [id, u] of chunk) k.connectionUpdate(id, u);
        },
        done: () => k.close(),
      };
    },
    listening: () => {
      const k = createKeeper({ laravelApiUrl: 'http://bench.invalid', fetch: okFetch, ...config }).start();
      ids.forEach((id) => k.addSession(id));
      // What a gateway that logs every state change and acts on commands pays on top.
      k.on('session', () => {});
      k.on('command', () => {});
      return {
        feed: (chunk) => {
          for (const [id, u] of chunk) k.connectionUpdate(id, u);
        },
        done: () => k.close(),
      };
    },
    batch: () => {
      const k = createKeeper({ laravelApiUrl: 'http://bench.invalid', fetch: okFetch, ...config }).start();
      ids.forEach((id) => k.addSession(id));
      return {
        feed: (chunk) => {
          const inputs = chunk.map(([sessionId, u]) => ({ type: 'connectionUpdate', sessionId, update: normalizeUpdate(u) }));
          for (const r of k.handleBatch(inputs)) if (r instanceof Error) throw r;
        },
        done: () => k.close(),
      };
    },
  });
  const names = {
    baseline: 'baseline (opossum + p-queue 400 ms + Map)',
    perEvent: 'wasm keeper, connectionUpdate per event',
    listening: 'same, with session + command listeners',
    batch: `wasm keeper, handleBatch per ${CHUNK}`,
  };

  console.log(`node ${process.version}, ${EVENTS} events, ${SESSIONS} sessions, chunks of ${CHUNK}; best of ${ROUNDS} interleaved rounds`);
  for (const [label, scenario] of [['lifecycle', lifeCycle], ['qr-storm', qrStorm]]) {
    const events = stream(scenario, EVENTS, SESSIONS);
    const ids = [...new Set(events.map(([id]) => id))];
    const v = variants(ids);
    const warm = events.slice(0, Math.min(20_000, events.length));
    for (const setup of Object.values(v)) await run('warmup', warm, setup);
    const best = {};
    for (let round = 0; round < ROUNDS; round++) {
      for (const [key, setup] of Object.entries(v)) {
        const r = await run(names[key], events, setup);
        if (!best[key] || r.usPerEvent < best[key].usPerEvent) best[key] = r;
      }
    }
    console.log(`scenario ${label}:`);
    for (const key of Object.keys(v)) {
      const r = best[key];
      const ratio = key === 'baseline' ? '' : `  (${(r.usPerEvent / best.baseline.usPerEvent).toFixed(2)}x baseline time)`;
      console.log(`  ${r.name.padEnd(44)} ${String(r.eventsPerSec).padStart(8)} events/s ${r.usPerEvent.toFixed(2).padStart(7)} us/event${ratio}`);
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
