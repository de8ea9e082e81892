'use strict';
// Dead letters through the package: listed with their bodies, sent again under the key the
// backend saw, discarded; the same through handler()'s routes.
const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { createKeeper, KeeperError } = require('..');
const { fakeBackend, waitFor } = require('./helpers');

test('a dead letter is listed with its body, retried under its key, or discarded', async (t) => {
  let status = 422;
  const backend = await fakeBackend((req) => {
    req.status = status;
    return { status };
  });
  const keeper = createKeeper({ laravelApiUrl: backend.url, syncSpacing: 0 }).start();
  const server = http.createServer(keeper.handler());
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await keeper.close();
    await backend.close();
  });
  const a = keeper.enqueue({ path: '/orders', payload: { n: 1 } });
  const b = keeper.enqueue({ path: '/orders', payload: { n: 2 } });
  await waitFor(() => keeper.deadLetters().length === 2, 'both dead-lettered');
  const [first] = keeper.deadLetters();
  assert.equal(first.itemId, a.itemId);
  assert.deepEqual(first.body, { n: 1 });
  assert.equal(first.reason, 'rejected (422)');

  status = 200;
  keeper.retryDeadLetter(a.itemId);
  await waitFor(
    () => backend.requests.some((r) => r.headers['idempotency-key'] === a.idempotencyKey && r.status === 200),
    'the retried item delivered under its key',
  );
  const base = `http://127.0.0.1:${server.address().port}`;
  const del = await fetch(`${base}/dead-letters/${b.itemId}`, { method: 'DELETE' });
  assert.equal(del.status, 200);
  assert.deepEqual(await del.json(), { itemId: b.itemId, discarded: true });
  const again = await fetch(`${base}/dead-letters/${b.itemId}/retry`, { method: 'POST' });
  assert.equal(again.status, 404);
  assert.throws(() => keeper.discardDeadLetter(b.itemId), (e) => e instanceof KeeperError && e.code === 'UnknownDeadLetter');
  assert.throws(() => keeper.retryDeadLetter(-1), { code: 'InvalidInput' });
  assert.deepEqual(await (await fetch(`${base}/dead-letters`)).json(), []);
  const q = keeper.health().queue;
  assert.deepEqual([q.deadLettersRetried, q.deadLettersDiscarded, q.deadLettersKept], [1, 1, 0]);
});
