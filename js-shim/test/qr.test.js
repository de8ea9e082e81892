'use strict';
const test = require('node:test');
const assert = require('node:assert/strict');
const { createKeeper } = require('..');
const { fakeBackend, fakeClock, waitFor, flush, record, qrString } = require('./helpers');

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
  await waitFor(() => events.delivery.length === 1, 'the pending status');
  clock.advance(100);
  keeper.tick();
  await waitFor(() => events.delivery.length === 2, 'the QR');

  assert.deepEqual(backend.paths(), ['/api/status', '/api/qr']);
  const [status, qr] = backend.requests;
  assert.equal(status.body.status, 'pending');
  assert.equal(status.body.sessionId, 'alice');
  assert.equal(qr.body.sessionId, 'alice');
  assert.equal(qr.body.qr, qrString(1));
  assert.match(qr.body.qrImage, /^data:image\/png;base64,/);
  const png = Buffer.from(qr.body.qrImage.split(',')[1], 'base64');
  assert.equal(png.subarray(1, 4).toString('ascii'), 'PNG');
  assert.equal(qr.headers.authorization, 'Bearer tok');
  assert.ok(qr.headers['idempotency-key'].length > 0);
  assert.ok(backend.requests.every((r) => r.body.sessionId !== 'ghost'));
  assert.equal(keeper.health().counters.qrDroppedUnknownSession, 1);
});

test('QRs coalesce: while one waits, a newer one replaces it (latest wins, counted)', async (t) => {
  const backend = await fakeBackend();
  const clock = fakeClock();
  const keeper = createKeeper({ laravelApiUrl: backend.url, syncSpacing: 400, now: clock.now });
  t.after(async () => {
    await keeper.close();
    await backend.close();
  });
  const events = record(keeper);
  keeper.addSession('bob');
  for (let i = 1; i <= 4; i++) keeper.connectionUpdate('bob', { qr: qrString(i) });
  await flush();
  await waitFor(() => events.delivery.length === 1, 'the pending status');
  clock.advance(400);
  keeper.tick();
  await waitFor(() => events.delivery.length === 2, 'the QR');
  clock.advance(400);
  keeper.tick();
  await keeper.idle();

  const qrs = backend.requests.filter((r) => r.path === '/api/qr');
  assert.equal(qrs.length, 1, 'one QR request for four QRs');
  assert.equal(qrs[0].body.qr, qrString(4), 'the latest QR');
  const q = keeper.health().queue;
  assert.equal(q.superseded, 3);
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
