'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const { createKeeper, normalizeUpdate } = require('..');
const { fakeBackend, closedPort, fakeClock, waitFor, flush, record, fakeSocket, tmpDir, qrString } = require('./helpers');

/** Baileys 7 is ESM-only: load it once. */
const baileys = import('baileys');

async function setup(t, extra = {}) {
  const backend = await fakeBackend();
  const clock = fakeClock();
  const keeper = createKeeper({ laravelApiUrl: backend.url, syncSpacing: 0, reconnectBaseDelay: 1_000, now: clock.now, ...extra });
  t.after(async () => {
    await keeper.close();
    await backend.close();
  });
  return { keeper, backend, clock, events: record(keeper) };
}

test('normalizeUpdate reads the Boom error of a real close (message is not enumerable)', async () => {
  const { DisconnectReason } = await baileys;
  const sock = fakeSocket();
  let seen;
  sock.ev.on('connection.update', (u) => (seen = u));
  sock.close(DisconnectReason.timedOut, 'QR refs attempts ended');
  assert.equal(Object.keys(seen.lastDisconnect.error).includes('message'), false);
  assert.deepEqual(normalizeUpdate(seen), {
    connection: 'close',
    lastDisconnect: { error: { message: 'QR refs attempts ended', output: { statusCode: 408 } } },
  });
});

test('a fake Baileys socket: QR, scan, 515 restart reconnects at once, open, detach on close', async (t) => {
  const { DisconnectReason } = await baileys;
  const { keeper, backend, events } = await setup(t);
  keeper.addSession('alice');
  const sock = fakeSocket();
  keeper.attachBaileys('alice', sock);
  assert.equal(sock.ev.listenerCount('connection.update'), 1);
  sock.connecting();
  sock.qr(qrString(1));
  sock.scanned();
  sock.close(DisconnectReason.restartRequired, 'Stream Errored (restart required)');
  await flush();
  assert.equal(sock.ev.listenerCount('connection.update'), 0, 'detached when the socket closed');
  assert.deepEqual(events.command.map((c) => [c.type, c.reason]), [['reconnect', 'restart_required']]);

  const next = fakeSocket(); // the gateway's new socket for the same session
  keeper.attachBaileys('alice', next);
  next.connecting();
  next.open();
  await flush();
  assert.equal(keeper.sessions().sessions[0].state, 'connected');
  await waitFor(() => backend.requests.some((r) => r.body.status === 'connected'), 'the connected status');
  assert.deepEqual(
    events.session.map((s) => s.state),
    ['new', 'connecting', 'pending', 'scanned', 'reconnecting', 'connecting', 'connected'],
  );
  assert.equal(events.warning.length, 0);
});

test('a fake Baileys socket: transient closes back off, loggedOut and QR refs ended remove', async (t) => {
  const { DisconnectReason } = await baileys;
  const { keeper, backend, clock, events } = await setup(t);
  for (const id of ['lost', 'out', 'qrdone']) keeper.addSession(id);
  const lost = fakeSocket();
  const out = fakeSocket();
  const qrdone = fakeSocket();
  keeper.attachBaileys('lost', lost);
  keeper.attachBaileys('out', out);
  keeper.attachBaileys('qrdone', qrdone);
  lost.open();
  lost.close(DisconnectReason.connectionLost, 'Connection was lost');
  out.open();
  out.close(DisconnectReason.loggedOut, 'Intentional Logout');
  qrdone.qr(qrString(1));
  qrdone.close(DisconnectReason.timedOut, 'QR refs attempts ended');
  await flush();
  assert.deepEqual(
    events.command.map((c) => [c.type, c.sessionId, c.reason]),
    [['close', 'out', 'logged_out'], ['close', 'qrdone', 'qr_refs_ended']],
  );
  const view = keeper.sessions().sessions;
  assert.deepEqual(view.map((s) => [s.sessionId, s.state]), [['lost', 'reconnecting']]);
  const due = view[0].reconnectAt;
  assert.ok(due > clock.t, 'a reconnect is scheduled with backoff, not at once');
  clock.advance(due - clock.t);
  keeper.tick();
  assert.deepEqual(events.command.at(-1), { type: 'reconnect', sessionId: 'lost', reason: 'backoff', at: due });
  const statuses = () => backend.requests.map((r) => `${r.body.sessionId}:${r.body.status}`);
  const expected = ['lost:disconnected', 'out:logged_out', 'qrdone:expired'];
  await waitFor(() => expected.every((s) => statuses().includes(s)), `statuses ${expected}`);
  assert.equal(backend.requests.filter((r) => r.path === '/api/qr').length <= 1, true);
});

test('a real Baileys socket to a closed port: connecting, then close 408, and a reconnect is scheduled', async (t) => {
  const { makeWASocket, useMultiFileAuthState, DisconnectReason } = await baileys;
  const pino = require('pino');
  const { keeper, events } = await setup(t, { now: undefined, reconnectBaseDelay: 50, reconnectMaxDelay: 100 });
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const port = await closedPort();
  const { state } = await useMultiFileAuthState(dir);

  keeper.addSession('real');
  const updates = [];
  const sock = makeWASocket({
    waWebSocketUrl: `ws://127.0.0.1:${port}`,
    auth: state,
    logger: pino({ level: 'silent' }),
    printQRInTerminal: false,
  });
  t.after(() => sock.end(undefined));
  sock.ev.on('connection.update', (u) => updates.push(u));
  keeper.attachBaileys('real', sock);

  const reconnect = await waitFor(() => events.command.find((c) => c.type === 'reconnect'), 'the reconnect command');
  assert.equal(reconnect.sessionId, 'real');
  assert.equal(reconnect.reason, 'backoff');
  assert.deepEqual(updates.map((u) => u.connection).filter(Boolean).slice(0, 2), ['connecting', 'close']);
  const close = updates.find((u) => u.connection === 'close');
  assert.equal(close.lastDisconnect.error.output.statusCode, DisconnectReason.connectionLost);
  assert.deepEqual(events.session.map((s) => s.state).slice(0, 3), ['new', 'connecting', 'reconnecting']);
  assert.equal(events.session[2].reason, 'closed (408)');
  assert.equal(keeper.sessions().sessions[0].lastDisconnectCode, 408);
  assert.equal(events.warning.length, 0);
});
