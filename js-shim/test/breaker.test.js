'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { createKeeper } = require('..');
const { fakeBackend, closedPort, fakeClock, waitFor, record } = require('./helpers');

const fast = {
  syncSpacing: 0,
  maxConcurrentMessages: 1,
  retryBaseDelay: 1,
  retryMaxDelay: 5,
  circuitBreakerThreshold: 3,
  circuitBreakerResetTimeout: 100,
  circuitBreakerMaxResetTimeout: 400,
};

test('the breaker opens on 5xx, holds the queue, and recovers through HALF_OPEN', async (t) => {
  let failing = true;
  const backend = await fakeBackend(() => ({ status: failing ? 500 : 200 }));
  const keeper = createKeeper({ laravelApiUrl: backend.url, ...fast });
  t.after(async () => {
    await keeper.close();
    await backend.close();
  });
  const events = record(keeper);
  for (let i = 0; i < 5; i++) keeper.enqueue({ path: '/custom', payload: { i }, key: `k${i}` });

  await waitFor(() => events.breaker.some((b) => b.to === 'OPEN'), 'the breaker to open');
  assert.deepEqual(events.breaker.map((b) => [b.from, b.to]), [['CLOSED', 'OPEN']]);
  assert.equal(backend.requests.length, 3, 'three failures, then nothing is sent while OPEN');
  assert.equal(keeper.health().circuitBreaker.state, 'OPEN');
  assert.equal(keeper.health().queue.depth, 5, 'the queue holds, it does not burn items');

  failing = false;
  await waitFor(() => events.breaker.some((b) => b.to === 'CLOSED'), 'the breaker to close');
  assert.deepEqual(events.breaker.map((b) => [b.from, b.to]), [
    ['CLOSED', 'OPEN'],
    ['OPEN', 'HALF_OPEN'],
    ['HALF_OPEN', 'CLOSED'],
  ]);
  await waitFor(() => keeper.health().queue.delivered === 5, 'every item delivered');
  const q = keeper.health().queue;
  assert.equal(q.deadLettered, 0);
  assert.ok(q.conservationOk);
  const seen = new Set(backend.requests.map((r) => r.body.i));
  assert.deepEqual([...seen].sort(), [0, 1, 2, 3, 4]);
});

test('network errors and timeouts count as failures', async (t) => {
  const port = await closedPort();
  const slow = await fakeBackend(() => ({ status: 200, delayMs: 1_000 }));
  const down = createKeeper({ laravelApiUrl: `http://127.0.0.1:${port}`, ...fast });
  const hung = createKeeper({ laravelApiUrl: slow.url, ...fast, requestTimeout: 30 });
  t.after(async () => {
    await down.close();
    await hung.close();
    await slow.close();
  });
  const downEvents = record(down);
  const hungEvents = record(hung);
  down.enqueue({ path: '/x', payload: 1 });
  hung.enqueue({ path: '/x', payload: 1 });
  await waitFor(() => downEvents.breaker.length > 0 && hungEvents.breaker.length > 0, 'both breakers to open');
  assert.equal(downEvents.delivery[0].outcome.kind, 'networkError');
  assert.match(downEvents.delivery[0].outcome.message, /ECONNREFUSED|fetch failed/);
  assert.deepEqual(hungEvents.delivery[0].outcome, { kind: 'timeout' });
});

test('a 4xx is dead-lettered, not retried, and does not trip the breaker', async (t) => {
  const backend = await fakeBackend(() => ({ status: 422 }));
  const keeper = createKeeper({ laravelApiUrl: backend.url, ...fast });
  t.after(async () => {
    await keeper.close();
    await backend.close();
  });
  const events = record(keeper);
  keeper.enqueue({ path: '/bad', payload: {} });
  await waitFor(() => events.deadLetter.length === 1, 'the dead letter');
  assert.equal(events.deadLetter[0].path, '/bad');
  assert.match(events.deadLetter[0].reason, /422/);
  assert.equal(backend.requests.length, 1);
  assert.equal(keeper.health().circuitBreaker.state, 'CLOSED');
  assert.equal(keeper.health().queue.deadLetters.length, 1);
});

test('Retry-After is honoured: nothing leaves before it, the next item right after', async (t) => {
  let first = true;
  const backend = await fakeBackend(() => {
    if (first) {
      first = false;
      return { status: 429, headers: { 'retry-after': '2' } };
    }
    return { status: 200 };
  });
  const clock = fakeClock();
  const keeper = createKeeper({ laravelApiUrl: backend.url, ...fast, now: clock.now });
  t.after(async () => {
    await keeper.close();
    await backend.close();
  });
  const events = record(keeper);
  keeper.enqueue({ path: '/a', payload: 'a', key: 'a' });
  keeper.enqueue({ path: '/b', payload: 'b', key: 'b' });
  await waitFor(() => events.delivery.length === 1, 'the throttled answer');
  await keeper.idle();
  assert.equal(events.delivery[0].outcome.retryAfter, '2');
  const q = keeper.health().queue;
  assert.equal(q.throttled, 1);
  assert.equal(q.pausedUntil, clock.t + 2_000);
  assert.equal(keeper.health().circuitBreaker.consecutiveFailures, 0, 'throttling is not a failure');

  clock.advance(1_999);
  keeper.tick();
  await keeper.idle();
  assert.equal(backend.requests.length, 1, 'paused');
  clock.advance(1);
  keeper.tick();
  await waitFor(() => backend.requests.length >= 2, 'the send after the pause');
});
