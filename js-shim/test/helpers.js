'use strict';
// Test helpers: a fake backend with faults, a fake clock, a fake Baileys socket, polling.

const http = require('node:http');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { EventEmitter } = require('node:events');
const Boom = require('@hapi/boom');

/**
 * A backend on 127.0.0.1:0 that records every request. `respond(req)` decides the answer:
 * `{status, headers?, delayMs?, destroy?}`; default 200.
 */
async function fakeBackend(respond = () => ({ status: 200 })) {
  const requests = [];
  const backend = { requests, respond };
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const entry = { method: req.method, path: req.url, headers: req.headers, text, body: JSON.parse(text || 'null') };
      requests.push(entry);
      const answer = backend.respond(entry) || { status: 200 };
      const finish = () => {
        if (answer.destroy) return req.socket.destroy();
        res.writeHead(answer.status, { 'content-type': 'application/json', ...(answer.headers || {}) });
        res.end(JSON.stringify({ ok: answer.status < 300 }));
      };
      if (answer.delayMs) setTimeout(finish, answer.delayMs);
      else finish();
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  backend.url = `http://127.0.0.1:${server.address().port}/api`;
  backend.close = () =>
    new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  backend.paths = () => requests.map((r) => r.path);
  return backend;
}

/** A port nothing listens on. */
async function closedPort() {
  const server = http.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A clock that moves only when told. */
function fakeClock(start = 1_700_000_000_000) {
  const clock = { t: start };
  clock.now = () => clock.t;
  clock.advance = (ms) => {
    clock.t += ms;
    return clock.t;
  };
  return clock;
}

/** Polls `predicate` until it is truthy or `timeoutMs` passes (then throws `what`). */
async function waitFor(predicate, what = 'condition', timeoutMs = 5000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Lets queued microtasks (the keeper's drain) run. */
function flush() {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Collects a keeper's events by name. */
function record(keeper, names = ['command', 'breaker', 'session', 'deadLetter', 'delivery', 'warning']) {
  const events = {};
  for (const name of names) {
    events[name] = [];
    keeper.on(name, (e) => events[name].push(e));
  }
  return events;
}

/** A socket whose `ev` emits Baileys' real `connection.update` shapes. */
function fakeSocket() {
  const ev = new EventEmitter();
  return {
    ev,
    connecting: () => ev.emit('connection.update', { connection: 'connecting', receivedPendingNotifications: false, qr: undefined }),
    qr: (qr) => ev.emit('connection.update', { qr }),
    scanned: () => ev.emit('connection.update', { isNewLogin: true }),
    open: () => ev.emit('connection.update', { connection: 'open', isOnline: true, receivedPendingNotifications: false }),
    /** A close as Baileys reports it: a Boom error with `output.statusCode`. */
    close: (statusCode, message = 'Connection Failure') =>
      ev.emit('connection.update', {
        connection: 'close',
        lastDisconnect: { error: new Boom.Boom(message, { statusCode, data: { reason: String(statusCode) } }), date: new Date() },
      }),
  };
}

/** With a fake clock: moves time in `stepMs` steps until the queue is empty and nothing is in flight. */
async function drainQueue(keeper, clock, stepMs, maxSteps = 100) {
  for (let i = 0; i < maxSteps; i++) {
    await flush();
    await keeper.idle();
    const q = keeper.health().queue;
    if (q.depth === 0 && q.inFlight === 0) return;
    clock.advance(stepMs);
    keeper.tick();
  }
  throw new Error('the queue did not drain');
}

function tmpDir() {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'sessionkeeper-test-'));
}

/** A Baileys-sized QR string. */
function qrString(n) {
  return `2@${'Q'.repeat(140)}${n},${'k'.repeat(44)},${'i'.repeat(44)},${'a'.repeat(24)}`;
}

module.exports = { fakeBackend, closedPort, fakeClock, waitFor, flush, record, fakeSocket, tmpDir, qrString, drainQueue };
