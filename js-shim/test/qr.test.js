'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { createKeeper } = require('..');
const { fakeBackend, fakeClock, waitFor, flush, record, qrString, drainQueue } = require('./helpers');

test('a QR is forwarded only for a known session, with a PNG rendered at dispatch', async (t) => {
  const backend = await fakeBackend();
  const clock = fakeClock();
  const keeper = createKeeper({ laravelApiUrl: backend.url, laravelApiToken: 'tok', syncSpacing: 100, now: clock.now });
  t.after(async () => {
    await keeper.close();
    await backend.close();
  });
  const events = record(keeper);

  assert.throws(() => keeper.connectionUpdate('ghost', { qr: qrString(0) }), { code: 'UnknownSession' });
  keeper.addSession('alice');
  keeper.connectionUpdate('alice', { qr: qrString(1) });
  await drainQueue(keeper, clock, 100);

  assert.deepEqual(backend.paths(), ['/api/status', '/api/qr'], 'the pending status first');
  const status = backend.requests.find((r) => r.path === '/api/status');
  const qr = backend.requests.find((r) => r.path === '/api/qr');
  assert.equal(status.body.status, 'pending');
  assert.equal(status.body.sessionId, 'alice');
  assert.equal(qr.body.sessionId, 'alice');
  assert.equal(qr.body.qr, qrString(1));
  assert.match(qr.body.qrImage, /^data:image\/png;base64,/);
  const png = Buffer.from(qr.body.qrImage.split(',')[1], 'base64');
  assert.equal(png.subarray(1, 4).toString('ascii'), 'PNG');
  assert.equal(qr.headers.authorization, 'Bearer tok');
  assert.match(qr.headers['idempotency-key'], /^sk-[0-9a-f]{16}-qr-alice-\d+$/);
  assert.equal(qr.headers.accept, 'application/json');
  assert.ok(backend.requests.every((r) => r.body.sessionId !== 'ghost'));
});

test('QRs coalesce: while one waits, a newer one replaces it (latest wins, counted)', async (t) => {
  const backend = await fakeBackend();
  const clock = fakeClock();
  const keeper = createKeeper({ laravelApiUrl: backend.url, syncSpacing: 400, now: clock.now });
  t.after(async () => {
    await keeper.close();
    await backend.close();
  });
  keeper.addSession('bob');
  keeper.connectionUpdate('bob', { qr: qrString(1) });
  await flush();
  await keeper.idle();
  // The clock is frozen: whatever QR is still queued waits for the pacer, and newer ones replace it.
  for (let i = 2; i <= 5; i++) keeper.connectionUpdate('bob', { qr: qrString(i) });
  await drainQueue(keeper, clock, 400);

  const sent = backend.requests.filter((r) => r.path === '/api/qr').map((r) => r.body.qr);
  assert.ok(sent.length <= 2, `at most the first and the latest QR were sent: ${sent.length}`);
  assert.equal(sent.at(-1), qrString(5), 'the latest QR is the last one sent');
  for (const i of [2, 3, 4]) assert.ok(!sent.includes(qrString(i)), `QR ${i} was replaced, never sent`);
  const q = keeper.health().queue;
  assert.equal(q.superseded, 5 - sent.length);
  assert.equal(q.depth, 0);
  assert.ok(q.conservationOk);
});

test('signingSecret adds X-Timestamp and an HMAC X-Signature over timestamp.body', async (t) => {
  const backend = await fakeBackend();
  const keeper = createKeeper({ laravelApiUrl: backend.url, signingSecret: 's3cret', syncSpacing: 0 });
  t.after(async () => {
    await keeper.close();
    await backend.close();
  });
  keeper.enqueue({ path: '/custom', payload: { hello: 'world' } });
  await waitFor(() => backend.requests.length === 1, 'the request');
  const [req] = backend.requests;
  const { sign } = require('..');
  assert.equal(req.headers['x-signature'], sign('s3cret', req.headers['x-timestamp'], req.text));
  assert.deepEqual(req.body, { hello: 'world' });
});

test('after start(), outputs nobody listens to are skipped, deliveries never; a later listener gets later events', async (t) => {
  const backend = await fakeBackend();
  const clock = fakeClock();
  const k = createKeeper({ laravelApiUrl: backend.url, syncSpacing: 0, now: clock.now }).start();
  t.after(async () => {
    await k.close();
    await backend.close();
  });
  // No 'session' or 'command' listener yet.
  k.addSession('s1');
  k.connectionUpdate('s1', { qr: qrString(1) });
  await waitFor(() => backend.requests.some((r) => r.body && r.body.qr === qrString(1)), 'the QR delivery');
  assert.equal(k.sessions().sessions[0].state, 'pending', 'state changed all the same');
  const seen = [];
  k.on('session', (e) => seen.push(e.state));
  k.connectionUpdate('s1', { connection: 'open' });
  await flush();
  assert.deepEqual(seen, ['connected']);
});
