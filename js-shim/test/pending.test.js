'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { createKeeper } = require('..');
const { fakeBackend, fakeClock, waitFor, flush, record, qrString } = require('./helpers');

test('an unscanned pending session expires: close command, backend told `expired`', async (t) => {
  const backend = await fakeBackend();
  const clock = fakeClock();
  const keeper = createKeeper({ laravelApiUrl: backend.url, pendingSessionTimeout: 5_000, syncSpacing: 0, now: clock.now });
  t.after(async () => {
    await keeper.close();
    await backend.close();
  });
  const events = record(keeper);
  keeper.addSession('carol');
  keeper.connectionUpdate('carol', { connection: 'connecting' });
  keeper.connectionUpdate('carol', { qr: qrString(1) });
  await flush();
  assert.equal(keeper.sessions().pendingCount, 1);
  assert.equal(keeper.sessions().pendingSessions[0].expiresAt, clock.t + 5_000);

  clock.advance(4_999);
  keeper.tick();
  assert.equal(events.command.length, 0, 'not before the deadline');
  clock.advance(1);
  keeper.tick();
  assert.deepEqual(events.command, [{ type: 'close', sessionId: 'carol', reason: 'pending_timeout', at: clock.t }]);
  assert.equal(keeper.hasSession('carol'), false);
  assert.equal(keeper.sessions().pendingCount, 0);
  assert.equal(keeper.health().counters.expired, 1);
  await waitFor(() => backend.requests.some((r) => r.body.status === 'expired'), 'the expired status');
  const expired = backend.requests.find((r) => r.body.status === 'expired');
  assert.equal(expired.body.sessionId, 'carol');
  assert.equal(expired.body.reason, 'pending_timeout');
});

test('the pending timer is exact and driven by the keeper itself (no sweep, real clock)', async (t) => {
  const backend = await fakeBackend();
  const keeper = createKeeper({ laravelApiUrl: backend.url, pendingSessionTimeout: 150, syncSpacing: 0 });
  t.after(async () => {
    await keeper.close();
    await backend.close();
  });
  const events = record(keeper);
  keeper.addSession('dave');
  const started = Date.now();
  keeper.connectionUpdate('dave', { qr: qrString(1) });
  const close = await waitFor(() => events.command.find((c) => c.type === 'close'), 'the close command');
  assert.equal(close.sessionId, 'dave');
  assert.ok(close.at - started >= 150, `expired after ${close.at - started} ms`);
  assert.ok(Date.now() - started < 2_000);
});

test('more QRs than maxQrCodes expire the session; a scan stops the pending clock', async (t) => {
  const backend = await fakeBackend();
  const clock = fakeClock();
  const keeper = createKeeper({ laravelApiUrl: backend.url, maxQrCodes: 2, pendingSessionTimeout: 5_000, now: clock.now });
  t.after(async () => {
    await keeper.close();
    await backend.close();
  });
  const events = record(keeper);
  keeper.addSession('erin');
  keeper.addSession('fred');
  keeper.connectionUpdate('erin', { qr: qrString(1) });
  keeper.connectionUpdate('erin', { qr: qrString(2) });
  keeper.connectionUpdate('erin', { qr: qrString(3) });
  keeper.connectionUpdate('fred', { qr: qrString(1) });
  keeper.connectionUpdate('fred', { isNewLogin: true });
  await flush();
  assert.deepEqual(
    events.command.map((c) => [c.type, c.sessionId, c.reason]),
    [['close', 'erin', 'max_qr_codes']],
  );
  clock.advance(10_000);
  keeper.tick();
  assert.equal(keeper.hasSession('fred'), true, 'a scanned session does not expire');
  assert.equal(keeper.sessions().sessions.find((s) => s.sessionId === 'fred').state, 'scanned');
});
