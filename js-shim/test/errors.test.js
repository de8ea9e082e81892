'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { createKeeper, CONFIG_KEYS } = require('..');
const { fakeBackend, fakeClock, flush, qrString } = require('./helpers');

async function setup(t) {
  const backend = await fakeBackend();
  const clock = fakeClock();
  const keeper = createKeeper({ laravelApiUrl: backend.url, now: clock.now });
  t.after(async () => {
    await keeper.close();
    await backend.close();
  });
  keeper.addSession('alice');
  keeper.connectionUpdate('alice', { qr: qrString(1) });
  await flush();
  await keeper.idle(); // the pending status delivered; the QR waits for the (frozen) clock
  await flush();
  return keeper;
}

/** Everything observable about the keeper's state. */
function state(keeper) {
  return { sessions: keeper.sessions(), health: keeper.health(), snapshot: keeper._wasm.snapshot() };
}

test('bad input throws a clear KeeperError and changes nothing', async (t) => {
  const keeper = await setup(t);
  const cases = [
    [() => keeper.connectionUpdate('ghost', { connection: 'open' }), 'UnknownSession', /unknown session `ghost`/],
    [() => keeper.connectionUpdate('alice', { connection: 'sideways' }), 'InvalidInput', /unknown variant `sideways`/],
    [() => keeper.connectionUpdate('alice', null), 'InvalidInput', /must be an object, got null/],
    [() => keeper.connectionUpdate('alice', 'open'), 'InvalidInput', /must be an object, got string/],
    [() => keeper.connectionUpdate('alice', { qr: 42 }), 'InvalidInput', /invalid type/],
    [() => keeper.connectionUpdate('alice', { qr: '' }), 'InvalidItem', /qr must be 1 to/],
    [() => keeper.connectionUpdate('alice', { lastDisconnect: { error: { output: { statusCode: 'x' } } } }), 'InvalidInput', /invalid type/],
    [() => keeper.connectionUpdate(7, {}), 'InvalidInput', /sessionId must be a string/],
    [() => keeper.addSession('alice'), 'SessionExists', /already exists/],
    [() => keeper.addSession('bad id!'), 'InvalidSessionId', /not allowed/],
    [() => keeper.addSession(''), 'InvalidSessionId', /length/],
    [() => keeper.removeSession('ghost'), 'UnknownSession', /unknown session/],
    [() => keeper.enqueue({ path: 'no-slash', payload: {} }), 'InvalidItem', /path must start with/],
    [() => keeper.enqueue({ path: '/x' }), 'InvalidInput', /payload is required/],
    [() => keeper.enqueue(null), 'InvalidInput', /enqueue takes/],
    [() => keeper.attachBaileys('ghost', { ev: { on() {}, off() {} } }), 'UnknownSession', /addSession first/],
    [() => keeper.attachBaileys('alice', {}), 'InvalidInput', /needs a Baileys socket/],
    [() => keeper.handleBatch('nope'), 'InvalidInput', /array/],
  ];
  const before = state(keeper);
  for (const [call, code, message] of cases) {
    assert.throws(call, (err) => {
      assert.ok(err instanceof Error, 'an Error');
      assert.equal(err.code, code, `${err.message}`);
      assert.match(err.message, message);
      return true;
    });
    await flush();
    assert.deepEqual(state(keeper), before, `state unchanged after ${code}`);
  }
});

test('a QR for an unknown session is refused and changes nothing', async (t) => {
  const keeper = await setup(t);
  const before = keeper.health();
  assert.throws(() => keeper.connectionUpdate('ghost', { qr: qrString(2) }), { code: 'UnknownSession', status: 404 });
  const after = keeper.health();
  assert.deepEqual({ ...after, now: 0 }, { ...before, now: 0 }, 'a refusal changes no counter');
});

test('handleBatch answers each input, errors included, in one call', async (t) => {
  const keeper = await setup(t);
  const results = keeper.handleBatch([
    { type: 'addSession', sessionId: 'bob' },
    { type: 'addSession', sessionId: 'bob' },
    { type: 'nonsense' },
    { type: 'cleanupPending', olderThanMs: 0 },
  ]);
  assert.deepEqual(results[0], { type: 'accepted' });
  assert.equal(results[1].code, 'SessionExists');
  assert.ok(results[1] instanceof Error);
  assert.equal(results[2].code, 'InvalidInput');
  assert.deepEqual(results[3], { type: 'removed', removed: ['alice'], count: 1 });
});

test('createKeeper refuses bad options by name', () => {
  const url = 'http://127.0.0.1:1';
  assert.throws(() => createKeeper({}), /`laravelApiUrl`: is required/);
  assert.throws(() => createKeeper({ laravelApiUrl: 'ftp://x' }), /`laravelApiUrl`: expected an http\(s\) URL, got the string "ftp:\/\/x"/);
  assert.throws(() => createKeeper({ laravelApiUrl: url, circuitBreakerTreshold: 3 }), /`circuitBreakerTreshold`: unknown option/);
  assert.throws(() => createKeeper({ laravelApiUrl: url, circuitBreakerThreshold: 0 }), /circuitBreakerThreshold.*at least 1/);
  assert.throws(() => createKeeper({ laravelApiUrl: url, syncSpacing: 'fast' }), /syncSpacing/);
  assert.throws(() => createKeeper({ laravelApiUrl: url, requestTimeout: 0 }), /requestTimeout/);
  assert.throws(() => createKeeper({ laravelApiUrl: url, fetch: 'no' }), /`fetch`/);
  assert.ok(CONFIG_KEYS.includes('pendingSessionTimeout'));
  assert.ok(CONFIG_KEYS.includes('circuitBreakerResetTimeout'));
});
