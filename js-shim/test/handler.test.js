'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { createKeeper } = require('..');
const { fakeBackend, fakeClock, flush, qrString } = require('./helpers');

async function serve(handler) {
  const server = http.createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  const call = async (method, path, { body, headers } = {}) => {
    const res = await fetch(base + path, { method, body: body === undefined ? undefined : JSON.stringify(body), headers });
    const type = res.headers.get('content-type') || '';
    const payload = type.includes('json') ? await res.json() : Buffer.from(await res.arrayBuffer());
    return { status: res.status, type, body: payload, headers: res.headers };
  };
  const close = () => new Promise((resolve) => server.close(resolve));
  return { call, close };
}

async function setup(t, extra = {}) {
  const backend = await fakeBackend();
  const clock = fakeClock();
  const keeper = createKeeper({ laravelApiUrl: backend.url, pendingSessionTimeout: 60_000, now: clock.now, ...extra });
  const api = await serve(keeper.handler());
  t.after(async () => {
    await api.close();
    await keeper.close();
    await backend.close();
  });
  return { keeper, api, clock };
}

test('GET /health and GET /sessions answer the host JSON shapes', async (t) => {
  const { keeper, api, clock } = await setup(t);
  keeper.addSession('alice');
  keeper.addSession('bob');
  keeper.connectionUpdate('alice', { qr: qrString(1) });
  keeper.connectionUpdate('bob', { connection: 'open' });
  await flush();
  clock.advance(1_000);

  const health = await api.call('GET', '/health');
  assert.equal(health.status, 200);
  for (const key of ['status', 'activeSessions', 'pendingCount', 'circuitBreaker', 'queue', 'alerts']) {
    assert.ok(key in health.body, key);
  }
  assert.equal(health.body.activeSessions, 2);
  assert.equal(health.body.pendingCount, 1);
  assert.equal(health.body.connectedSessions, 1);
  assert.equal(health.body.circuitBreaker.state, 'CLOSED');

  const sessions = await api.call('GET', '/sessions');
  assert.equal(sessions.status, 200);
  assert.deepEqual(Object.keys(sessions.body).sort(), ['pendingCount', 'pendingSessions', 'sessions']);
  assert.deepEqual(sessions.body.sessions.map((s) => [s.sessionId, s.state]), [['alice', 'pending'], ['bob', 'connected']]);
  assert.equal(sessions.body.pendingSessions[0].sessionId, 'alice');
  assert.equal(sessions.body.pendingSessions[0].ageMs, 1_000);
});

test('POST cleanup endpoints answer {removed, count}', async (t) => {
  const { keeper, api, clock } = await setup(t);
  keeper.addSession('idle');
  keeper.addSession('pend');
  keeper.addSession('live');
  keeper.connectionUpdate('pend', { qr: qrString(1) });
  keeper.connectionUpdate('live', { connection: 'open' });
  clock.advance(10);

  assert.deepEqual((await api.call('POST', '/cleanup-pending-sessions', { body: { olderThanMs: 60_000 } })).body, { removed: [], count: 0 });
  // Without a body only what is past its configured timeout goes: never a login in progress.
  assert.deepEqual((await api.call('POST', '/cleanup-pending-sessions')).body, { removed: [], count: 0 });
  assert.deepEqual((await api.call('POST', '/cleanup-inactive-sessions', { body: {} })).body, { removed: [], count: 0 });
  const pending = await api.call('POST', '/cleanup-pending-sessions', { body: { olderThanMs: 0 } });
  assert.deepEqual(pending.body, { removed: ['pend'], count: 1 });
  const inactive = await api.call('POST', '/cleanup-inactive-sessions', { body: { idleForMs: 0 } });
  assert.deepEqual(inactive.body, { removed: ['idle'], count: 1 });
  assert.deepEqual(keeper.sessions().sessions.map((s) => s.sessionId), ['live'], 'connected sessions are never touched');
  const bad = await api.call('POST', '/cleanup-inactive-sessions', { body: { idleForMs: -1 } });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error, /^invalid JSON body: invalid value: integer `-1`, expected u64/);
});

test('GET /sessions/{id}/qr in png, svg and raw; errors are {error} with fitting statuses', async (t) => {
  const { keeper, api } = await setup(t);
  keeper.addSession('alice');
  keeper.connectionUpdate('alice', { qr: qrString(7) });
  const png = await api.call('GET', '/sessions/alice/qr');
  assert.equal(png.type, 'image/png');
  assert.equal(png.body.subarray(1, 4).toString(), 'PNG');
  const svg = await api.call('GET', '/sessions/alice/qr?format=svg');
  assert.match(svg.body.toString(), /<svg/);
  assert.deepEqual((await api.call('GET', '/sessions/alice/qr?format=raw')).body, { sessionId: 'alice', qr: qrString(7) });
  assert.equal((await api.call('GET', '/sessions/nobody/qr')).status, 404);
  assert.equal((await api.call('GET', '/sessions/alice/qr?format=gif')).status, 400);
  const missing = await api.call('GET', '/nope');
  assert.equal(missing.status, 404);
  assert.ok(missing.body.error);
  assert.equal((await api.call('DELETE', '/health')).status, 405);
  assert.equal((await api.call('POST', '/cleanup-pending-sessions', { body: 'x' })).status, 400);
});

test('with apiKey, everything but /health needs the key; unknown routes go to next()', async (t) => {
  const backend = await fakeBackend();
  const keeper = createKeeper({ laravelApiUrl: backend.url, apiKey: 'k3y' });
  const handle = keeper.handler();
  const api = await serve((req, res) =>
    handle(req, res, () => {
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ mine: `${req.method} ${req.url}` }));
    }),
  );
  t.after(async () => {
    await api.close();
    await keeper.close();
    await backend.close();
  });
  assert.equal((await api.call('GET', '/health')).status, 200);
  assert.equal((await api.call('GET', '/sessions')).status, 401);
  assert.equal((await api.call('GET', '/sessions', { headers: { 'x-api-key': 'k3y' } })).status, 200);
  assert.equal((await api.call('GET', '/sessions', { headers: { authorization: 'Bearer k3y' } })).status, 200);
  assert.equal((await api.call('GET', '/sessions', { headers: { authorization: 'Bearer nope' } })).status, 401);
  const own = await api.call('POST', '/sessions', { body: { sessionId: 'x' } });
  assert.deepEqual([own.status, own.body], [201, { mine: 'POST /sessions' }]);
});
