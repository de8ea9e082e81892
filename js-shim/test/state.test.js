'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const path = require('node:path');
const { once } = require('node:events');
const { createKeeper } = require('..');
const { fakeBackend, fakeClock, waitFor, flush, tmpDir, qrString } = require('./helpers');

test('state survives close() and a new createKeeper with the same statePath', async (t) => {
  const dir = tmpDir();
  const statePath = path.join(dir, 'nested', 'keeper.json');
  const backend = await fakeBackend();
  let second;
  t.after(async () => {
    // Closed before the directory goes: its final save would write it again.
    if (second) await second.close();
    await backend.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const clock = fakeClock();
  // A long spacing keeps items queued at shutdown.
  const first = createKeeper({ laravelApiUrl: backend.url, statePath, syncSpacing: 60_000, now: clock.now });
  first.addSession('alice');
  first.addSession('bob');
  first.connectionUpdate('alice', { connection: 'open' });
  first.connectionUpdate('bob', { qr: qrString(1) });
  first.enqueue({ path: '/custom', payload: { n: 1 }, key: 'c1' });
  await flush();
  await first.idle();
  const before = first.sessions();
  const healthBefore = first.health();
  const queuedBefore = healthBefore.queue.depth;
  assert.ok(queuedBefore >= 2, `items queued at shutdown: ${queuedBefore}`);
  await first.close();
  assert.ok(fs.existsSync(statePath));
  assert.deepEqual(fs.readdirSync(path.dirname(statePath)), ['keeper.json'], 'no temp file left behind');
  assert.throws(() => first.addSession('carol'), { name: 'KeeperError', code: 'Closed', status: 503 });
  assert.throws(() => first.health(), { code: 'Closed' });

  second = createKeeper({ laravelApiUrl: backend.url, statePath, syncSpacing: 0, now: clock.now });
  assert.deepEqual(second.sessions(), before, 'sessions, states and the pending episode survive');
  assert.equal(second.qr('bob'), qrString(1));
  await waitFor(() => second.health().queue.depth === 0 && second.health().queue.inFlight === 0, 'the queue to drain');
  const bodies = backend.requests.map((r) => r.body);
  assert.ok(bodies.some((b) => b && b.n === 1), 'the custom item queued before the restart was delivered');
  assert.ok(bodies.some((b) => b && b.qr === qrString(1)), "bob's QR was delivered");
  const held = healthBefore.queue.heldQrs;
  assert.equal(second.health().queue.accepted, healthBefore.queue.accepted + held, 'nothing lost, nothing new');
});

test('a corrupt state file is a clear error', async (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const statePath = path.join(dir, 'keeper.json');
  fs.writeFileSync(statePath, '{"not":"a snapshot"}');
  assert.throws(() => createKeeper({ laravelApiUrl: 'http://127.0.0.1:1', statePath }), /cannot restore .*keeper\.json.*invalid snapshot/);
});

test('the state is autosaved autosaveInterval after it changes (keeper time), not before', async (t) => {
  const dir = tmpDir();
  const statePath = path.join(dir, 'keeper.json');
  const clock = fakeClock();
  const k = createKeeper({ laravelApiUrl: 'http://127.0.0.1:1', statePath, autosaveInterval: 1_000, syncSpacing: 60_000, now: clock.now });
  t.after(async () => {
    await k.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  let saves = 0;
  k.on('saved', () => saves++);
  k.addSession('alice');
  await flush();
  clock.advance(999);
  k.tick();
  await flush();
  assert.equal(fs.existsSync(statePath), false, 'not saved before the interval');
  clock.advance(1);
  const saved = once(k, 'saved');
  k.tick();
  await saved;
  assert.equal(saves, 1);
  // What was saved restores: a gateway that crashed now would come back with alice.
  const copy = path.join(dir, 'copy.json');
  fs.copyFileSync(statePath, copy);
  const restored = createKeeper({ laravelApiUrl: 'http://127.0.0.1:1', statePath: copy, autosaveInterval: 0, now: clock.now });
  assert.deepEqual(restored.sessions().sessions.map((s) => s.sessionId), ['alice']);
  await restored.close();
  // A later drain starts a new interval rather than saving at once.
  clock.advance(5_000);
  k.tick();
  await flush();
  assert.equal(saves, 1);
});

test('autosaveInterval 0 saves only on close(), and bad values are refused', async (t) => {
  const dir = tmpDir();
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const statePath = path.join(dir, 'keeper.json');
  const clock = fakeClock();
  const k = createKeeper({ laravelApiUrl: 'http://127.0.0.1:1', statePath, autosaveInterval: 0, now: clock.now });
  k.addSession('bob');
  await flush();
  clock.advance(3_600_000);
  k.tick();
  await flush();
  assert.equal(fs.existsSync(statePath), false);
  await k.close();
  assert.equal(fs.existsSync(statePath), true);
  for (const bad of [-1, 1.5, '5000', 86_400_001]) {
    assert.throws(() => createKeeper({ laravelApiUrl: 'http://127.0.0.1:1', autosaveInterval: bad }), /autosaveInterval/);
  }
});
