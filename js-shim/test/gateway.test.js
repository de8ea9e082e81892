'use strict';
// The example gateway as real processes: its Express routes in front of keeper.handler() behind
// express.json(), real Baileys sockets (pointed at a port nothing listens on), its state saved on
// SIGTERM and restored by a second process that re-adds every auth folder, the statePath lock
// refusing a third, and which removals delete a session's auth folder.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { fakeBackend, closedPort, waitFor, tmpDir } = require('./helpers');

const GATEWAY = path.join(__dirname, '..', 'examples', 'gateway', 'index.mjs');

/** Starts the example; `url()` resolves to its base URL once it prints the port it bound. */
function startGateway(env) {
  const child = spawn(process.execPath, [GATEWAY], {
    env: { ...process.env, PORT: '0', LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const gw = { child, out: '' };
  child.stdout.on('data', (d) => (gw.out += d));
  child.stderr.on('data', (d) => (gw.out += d));
  gw.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));
  gw.url = async () => {
    const m = await waitFor(() => {
      if (child.exitCode !== null) throw new Error(`the gateway exited (${child.exitCode}):\n${gw.out}`);
      return /listening on (http:\/\/\S+)/.exec(gw.out);
    }, 'the gateway to listen', 15_000);
    return m[1];
  };
  gw.stop = async () => {
    child.kill('SIGTERM');
    return gw.exited;
  };
  return gw;
}

/** A request with a JSON body; a route that never answers fails here instead of hanging the test. */
function call(base, method, route, body) {
  const init = { method, signal: AbortSignal.timeout(5_000) };
  if (body !== undefined) {
    init.headers = { 'content-type': 'application/json' };
    init.body = JSON.stringify(body);
  }
  return fetch(`${base}${route}`, init);
}

const sessionsOf = async (base) => (await (await call(base, 'GET', '/sessions')).json()).sessions;

test('examples/gateway: routes behind express.json(), reconnects, SIGTERM, restart via ensureSession, lock, auth folders', async (t) => {
  const backend = await fakeBackend();
  const dir = tmpDir();
  const auth = path.join(dir, 'auth');
  const statePath = path.join(dir, 'data', 'sessionkeeper.json');
  const env = {
    AUTH_DIR: auth,
    STATE_PATH: statePath,
    LARAVEL_API_URL: backend.url,
    WA_WEBSOCKET_URL: `ws://127.0.0.1:${await closedPort()}`,
  };
  const started = [];
  const start = () => {
    const gw = startGateway(env);
    started.push(gw);
    return gw;
  };
  t.after(async () => {
    for (const gw of started) if (gw.child.exitCode === null) gw.child.kill('SIGKILL');
    await backend.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  // ---- first process ----
  const first = start();
  let base = await first.url();
  const created = await call(base, 'POST', '/sessions', { sessionId: 'alice', meta: { tenant: 'acme' } });
  assert.equal(created.status, 201, first.out);
  assert.deepEqual(await created.json(), { sessionId: 'alice', added: true });
  assert.equal((await call(base, 'POST', '/sessions', { sessionId: 'alice' })).status, 409);
  assert.equal((await call(base, 'POST', '/sessions', { sessionId: 'no spaces' })).status, 400);
  assert.equal((await call(base, 'POST', '/sessions', { sessionId: '..' })).status, 400, 'an id that names no folder');
  assert.equal((await call(base, 'POST', '/sessions', {})).status, 400);
  const malformed = await fetch(`${base}/sessions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{' });
  assert.equal(malformed.status, 400);
  assert.ok((await malformed.json()).error, 'a JSON error, not an HTML page');

  // The socket cannot connect (408): the keeper schedules a reconnect, and the gateway's
  // 'command' listener starts a new socket, which fails again (attempt 2).
  await waitFor(async () => {
    const s = await sessionsOf(base);
    return s.length === 1 && s[0].state === 'reconnecting' && s[0].lastDisconnectCode === 408;
  }, 'alice to be reconnecting after a 408', 10_000);
  await waitFor(async () => (await sessionsOf(base))[0].reconnectAttempt >= 2, 'a second socket after the backoff', 10_000);
  const health = await (await call(base, 'GET', '/health')).json();
  assert.equal(health.activeSessions, 1);
  assert.equal(health.circuitBreaker.state, 'CLOSED');

  // Behind express.json() the cleanup routes read the parsed body (they used to wait forever for
  // a stream the parser had already consumed).
  const inactive = await call(base, 'POST', '/cleanup-inactive-sessions', { idleForMs: 3_600_000 });
  assert.equal(inactive.status, 200);
  assert.deepEqual(await inactive.json(), { removed: [], count: 0 });
  const pending = await call(base, 'POST', '/cleanup-pending-sessions', {});
  assert.equal(pending.status, 200);
  assert.deepEqual(await pending.json(), { removed: [], count: 0 });
  const badBody = await call(base, 'POST', '/cleanup-inactive-sessions', { idleForMs: 'soon' });
  assert.equal(badBody.status, 400, 'the parsed body reached the keeper');
  const aliceBefore = (await sessionsOf(base))[0];

  // Folders with no keeper state (sessions of the gateway before it used the keeper): bob never
  // finished his login, carol's holds a linked device (`account` comes from Baileys' pair-success).
  fs.mkdirSync(path.join(auth, 'bob'));
  fs.mkdirSync(path.join(auth, 'carol'));
  const { initAuthCreds, BufferJSON } = await import('baileys');
  const linkedCreds = { ...initAuthCreds(), account: { details: 'AA==', accountSignature: 'AA==' } };
  fs.writeFileSync(path.join(auth, 'carol', 'creds.json'), JSON.stringify(linkedCreds, BufferJSON.replacer));

  assert.equal(await first.stop(), 0, first.out);
  const saved = fs.readFileSync(statePath, 'utf8');
  assert.ok(saved.includes('alice'), 'the session is in the saved state');
  assert.equal(fs.existsSync(`${statePath}.lock`), false, 'close() released the lock');
  assert.deepEqual(fs.readdirSync(auth).sort(), ['alice', 'bob', 'carol'], 'nothing of the keeper in the auth folder');

  // ---- second process: alice restored from the state file, bob and carol added from their folders ----
  const restartedAt = Date.now();
  const second = start();
  base = await second.url();
  const restored = await sessionsOf(base);
  assert.deepEqual(restored.map((s) => s.sessionId), ['alice', 'bob', 'carol'], second.out);
  assert.equal(restored[0].createdAt, aliceBefore.createdAt, 'alice was restored, not added again');
  assert.doesNotMatch(second.out, /SessionExists/);
  await waitFor(async () => {
    const s = await sessionsOf(base);
    return s.length === 3 && s.every((x) => x.lastEventAt >= restartedAt && x.lastDisconnectCode === 408);
  }, 'a socket for each session, started by this process', 10_000);

  // ---- a third process on the same statePath is refused while the second holds it ----
  const third = start();
  assert.notEqual(await third.exited, 0);
  assert.match(third.out, new RegExp(`pid ${second.child.pid}\\b`), 'the refusal names the holder');
  assert.doesNotMatch(third.out, /listening on/);

  // ---- DELETE: the session goes, its folder with it; ids that name no folder touch nothing ----
  fs.mkdirSync(path.join(dir, 'sentinel'));
  assert.equal((await call(base, 'DELETE', '/sessions/..%2Fsentinel')).status, 404);
  assert.ok(fs.existsSync(path.join(dir, 'sentinel')));
  const del = await call(base, 'DELETE', '/sessions/alice?reason=moved%20to%20another%20plan');
  assert.equal(del.status, 200);
  assert.deepEqual(await del.json(), { sessionId: 'alice', removed: true });
  await waitFor(() => !fs.existsSync(path.join(auth, 'alice')), "alice's auth folder to be deleted", 5_000);
  assert.deepEqual((await sessionsOf(base)).map((s) => s.sessionId), ['bob', 'carol']);
  assert.equal((await call(base, 'DELETE', '/sessions/alice')).status, 404);
  // Told with the operator's reason and the meta given before the restart (kept in the state).
  const removal = await waitFor(
    () => backend.requests.find((r) => r.path.endsWith('/status') && r.body.sessionId === 'alice' && r.body.status === 'removed'),
    'the backend to be told alice was removed',
    10_000,
  );
  assert.equal(removal.body.reason, 'moved to another plan');
  assert.deepEqual(removal.body.meta, { tenant: 'acme' });

  // ---- removed as inactive: an unfinished login loses its folder, a linked device keeps it ----
  const cleaned = await call(base, 'POST', '/cleanup-inactive-sessions', { idleForMs: 0 });
  assert.deepEqual(await cleaned.json(), { removed: ['bob', 'carol'], count: 2 });
  await waitFor(() => !fs.existsSync(path.join(auth, 'bob')), "bob's auth folder to be deleted", 5_000);
  assert.deepEqual(await sessionsOf(base), []);

  assert.equal(await second.stop(), 0, second.out);
  assert.deepEqual(fs.readdirSync(auth), ['carol'], 'the linked login is kept for the next start');
});
