'use strict';
// The example gateway runs: it serves the keeper's routes and its own, drives real Baileys
// sockets (pointed at a closed local port), and saves its state on SIGTERM.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { fakeBackend, closedPort, waitFor, tmpDir } = require('./helpers');

test('examples/gateway: POST /sessions, GET /sessions and /health, reconnect scheduling, state on SIGTERM', async (t) => {
  const backend = await fakeBackend();
  const dir = tmpDir();
  const port = await closedPort();
  const child = spawn(process.execPath, [path.join(__dirname, '..', 'examples', 'gateway', 'index.js')], {
    env: {
      ...process.env,
      PORT: '0',
      AUTH_DIR: dir,
      LARAVEL_API_URL: backend.url,
      WA_WEBSOCKET_URL: `ws://127.0.0.1:${port}`,
      LOG_LEVEL: 'silent',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  t.after(async () => {
    if (child.exitCode === null) child.kill('SIGKILL');
    await backend.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const base = (await waitFor(() => /listening on (http:\/\/\S+)/.exec(out), `the gateway to listen (${out})`, 15_000))[1];
  const created = await fetch(`${base}/sessions`, { method: 'POST', body: JSON.stringify({ sessionId: 'alice' }) });
  assert.equal(created.status, 201);
  const dup = await fetch(`${base}/sessions`, { method: 'POST', body: JSON.stringify({ sessionId: 'alice' }) });
  assert.equal(dup.status, 409);
  const bad = await fetch(`${base}/sessions`, { method: 'POST', body: JSON.stringify({ sessionId: 'no spaces' }) });
  assert.equal(bad.status, 400);

  // The socket cannot connect (408): the keeper schedules a reconnect with backoff.
  await waitFor(async () => {
    const s = await (await fetch(`${base}/sessions`)).json();
    return s.sessions.length === 1 && s.sessions[0].state === 'reconnecting' && s.sessions[0].lastDisconnectCode === 408;
  }, 'the session to be reconnecting after a 408', 10_000);
  const health = await (await fetch(`${base}/health`)).json();
  assert.equal(health.activeSessions, 1);
  assert.equal(health.circuitBreaker.state, 'CLOSED');

  child.kill('SIGTERM');
  assert.equal(await exited, 0, out);
  const state = JSON.parse(fs.readFileSync(path.join(dir, 'sessionkeeper-state.json'), 'utf8'));
  assert.ok(JSON.stringify(state).includes('alice'), 'the session is in the saved state');
});
