'use strict';
// handler() answers as the host does (tests/conformance/ proves it against the binary; these pin
// the same answers without it): body limit, HEAD, API key forms, percent-decoding and id
// validation, the host's serde_json messages for cleanup bodies, /metrics, and bodies a framework
// already parsed (Express, Fastify when installed; a simulated `req.body` always).

const test = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const { createKeeper } = require('..');
const { fakeBackend, flush, qrString, waitFor } = require('./helpers');

const KEY = 'k3y';

/** One request on a given agent; resolves `{status, headers, text}` or rejects on a reset. */
function request(port, { method = 'GET', path, headers = {}, body, agent = false }) {
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (body !== undefined) h['content-length'] = Buffer.byteLength(body);
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: h, agent }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, text: Buffer.concat(chunks).toString('utf8') }),
      );
    });
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

async function listen(handler) {
  const server = http.createServer(handler);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    port: server.address().port,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(r);
      }),
  };
}

async function setup(t, wrap = (handle) => handle) {
  const backend = await fakeBackend();
  const keeper = createKeeper({ laravelApiUrl: backend.url, apiKey: KEY });
  const { port, close } = await listen(wrap(keeper.handler()));
  t.after(async () => {
    await close();
    await keeper.close();
    await backend.close();
  });
  const auth = { authorization: `Bearer ${KEY}` };
  const call = (opts) => request(port, { ...opts, headers: { ...auth, ...(opts.headers || {}) } });
  return { keeper, port, call };
}

const json = (res) => JSON.parse(res.text);

test('a body over 64 KiB is read and answered 413 on a connection that stays usable', async (t) => {
  const { port } = await setup(t);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  t.after(() => agent.destroy());
  const headers = { authorization: `Bearer ${KEY}` };
  const big = await request(port, {
    method: 'POST',
    path: '/cleanup-inactive-sessions',
    headers,
    body: ' '.repeat(1 << 20),
    agent,
  });
  assert.equal(big.status, 413);
  assert.deepEqual(json(big), { error: 'Failed to buffer the request body: length limit exceeded' });
  const limit = await request(port, {
    method: 'POST',
    path: '/cleanup-inactive-sessions',
    headers,
    body: ' '.repeat(64 * 1024),
    agent,
  });
  assert.equal(limit.status, 200, 'exactly 64 KiB is accepted');
});

test('HEAD is GET without a body; wrong methods get 405 with Allow', async (t) => {
  const { call } = await setup(t);
  const head = await call({ method: 'HEAD', path: '/health' });
  assert.equal(head.status, 200);
  assert.equal(head.text, '');
  assert.ok(Number(head.headers['content-length']) > 0);
  const del = await call({ method: 'DELETE', path: '/health' });
  assert.deepEqual([del.status, del.headers.allow, json(del)], [405, 'GET,HEAD', { error: 'method not allowed' }]);
  const get = await call({ method: 'GET', path: '/cleanup-pending-sessions' });
  assert.deepEqual([get.status, get.headers.allow], [405, 'POST']);
  const none = await call({ path: '/health/' });
  assert.deepEqual([none.status, json(none)], [404, { error: 'no such endpoint' }]);
});

test('the API key: Bearer in any case, x-api-key, trimmed, 401 with WWW-Authenticate', async (t) => {
  const { port } = await setup(t);
  const status = async (headers) => (await request(port, { path: '/sessions', headers })).status;
  assert.equal(await status({ authorization: `bearer ${KEY}` }), 200);
  assert.equal(await status({ authorization: `BEARER ${KEY}` }), 200);
  assert.equal(await status({ authorization: `Bearer   ${KEY}  ` }), 200);
  assert.equal(await status({ 'x-api-key': ` ${KEY}\t` }), 200);
  assert.equal(await status({ 'x-api-key': [KEY, 'other'] }), 200, 'the first value counts');
  assert.equal(await status({ 'x-api-key': ['other', KEY] }), 401);
  assert.equal(await status({ authorization: `Basic ${KEY}` }), 401);
  assert.equal(await status({ authorization: `Bearer ${KEY}x` }), 401);
  const denied = await request(port, { path: '/metrics' });
  assert.deepEqual(
    [denied.status, denied.headers['www-authenticate'], json(denied)],
    [401, 'Bearer', { error: 'missing or invalid API key' }],
  );
});

test('QR route: percent-decoding, id validation and query as the host reads them', async (t) => {
  const { keeper, call } = await setup(t);
  keeper.addSession('alice');
  keeper.connectionUpdate('alice', { qr: qrString(1) });
  await flush();
  const error = async (path) => {
    const res = await call({ path });
    return [res.status, json(res).error];
  };
  assert.deepEqual(await error('/sessions/%E0%A4%A/qr'), [400, 'Invalid URL: Invalid UTF-8 in `id`']);
  assert.deepEqual(await error(`/sessions/${'a'.repeat(200)}/qr`), [
    400,
    'invalid session id: length must be 1 to 128, got 200',
  ]);
  assert.deepEqual(await error('/sessions//qr'), [400, 'invalid session id: length must be 1 to 128, got 0']);
  assert.deepEqual(await error('/sessions/a%ZZ/qr'), [400, "invalid session id: character '%' not allowed"]);
  assert.deepEqual(await error('/sessions/a%0Ab/qr'), [400, "invalid session id: character '\\n' not allowed"]);
  assert.deepEqual(await error("/sessions/a'b/qr"), [400, "invalid session id: character '\\'' not allowed"]);
  assert.deepEqual(await error('/sessions/a%CC%81/qr'), [400, "invalid session id: character '\\u{301}' not allowed"]);
  assert.deepEqual(await error('/sessions/a%C3%A9/qr'), [400, "invalid session id: character 'é' not allowed"]);
  assert.deepEqual(await error('/sessions/alice/qr?format=png&format=svg'), [
    400,
    'Failed to deserialize query string: duplicate field `format`',
  ]);
  const raw = await call({ path: '/sessions/al%69ce/qr?format=r%61w' });
  assert.deepEqual(json(raw), { sessionId: 'alice', qr: qrString(1) });
});

test('cleanup bodies get the host serde_json messages, line and column included', async (t) => {
  const { call } = await setup(t);
  const answer = async (body, path = '/cleanup-inactive-sessions') => {
    const res = await call({ method: 'POST', path, body });
    return res.status === 200 ? 200 : json(res).error;
  };
  const cases = [
    ['{bad', 'key must be a string at line 1 column 2'],
    ['[]', 'invalid length 0, expected struct CleanupInactive with 1 element at line 1 column 2'],
    ['{"foo":1}', 'unknown field `foo`, expected `idleForMs` at line 1 column 6'],
    ['{"idleForMs":1.5}', 'invalid type: floating point `1.5`, expected u64 at line 1 column 16'],
    ['{"idleForMs":1e16}', 'invalid type: floating point `1e+16`, expected u64 at line 1 column 17'],
    ['{"idleForMs":"5"}', 'invalid type: string "5", expected u64 at line 1 column 16'],
    ['{"idleForMs":1,"idleForMs":2}', 'duplicate field `idleForMs` at line 1 column 26'],
    ['{"idleForMs":1,}', 'trailing comma at line 1 column 16'],
    ['{}x', 'trailing characters at line 1 column 3'],
    ['"x"', 'invalid type: string "x", expected struct CleanupInactive at line 1 column 3'],
    ['{"idleForMs":"\\ud800"}', 'unexpected end of hex escape at line 1 column 21'],
    ['{"idleForMs":1e400}', 'number out of range at line 1 column 18'],
  ];
  for (const [body, message] of cases) assert.equal(await answer(body), `invalid JSON body: ${message}`, body);
  assert.equal(
    await answer('{"idleForMs":-1}'),
    'invalid JSON body: invalid value: integer `-1`, expected u64 at line 1 column 15',
  );
  assert.equal(
    await answer('{"idleForMs":1}', '/cleanup-pending-sessions'),
    'invalid JSON body: unknown field `idleForMs`, expected `olderThanMs` at line 1 column 12',
  );
  for (const ok of ['', ' \n', 'null', '{}', '{"idleForMs":null}', '[5]', '{"idleForMs":18446744073709551615}'])
    assert.equal(await answer(ok), 200, ok);
});

test('GET /metrics serves the host families with their HELP and TYPE', async (t) => {
  const { keeper, call } = await setup(t);
  keeper.addSession('a');
  keeper.addSession('b');
  keeper.connectionUpdate('b', { connection: 'open' });
  await waitFor(() => keeper.health().queue.delivered === 1, 'the connected status delivered');
  const res = await call({ path: '/metrics' });
  assert.equal(res.status, 200);
  assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  assert.match(
    res.text,
    /^# HELP sessionkeeper_sessions Sessions held, by state\.\n# TYPE sessionkeeper_sessions gauge\n/,
  );
  assert.match(res.text, /\nsessionkeeper_sessions\{state="connected"\} 1\n/);
  assert.match(res.text, /\nsessionkeeper_sessions\{state="new"\} 1\n/);
  assert.match(res.text, /\nsessionkeeper_queue_spacing_seconds 0\.4\n/);
  assert.match(res.text, /\nsessionkeeper_circuit_breaker_state\{state="closed"\} 1\n/);
  assert.match(res.text, /\nsessionkeeper_deliveries_total\{outcome="success"\} 1\n/);
  for (const line of res.text.split('\n').filter((l) => l && !l.startsWith('#'))) {
    const name = line.split(/[{ ]/)[0];
    assert.ok(res.text.includes(`# TYPE ${name} `), `${name} has a TYPE`);
  }
});

test('a body parsed by a framework (req.body) is used instead of the stream', async (t) => {
  const { port } = await setup(t, (handle) => (req, res) => {
    // What body-parser does: read the stream, set req.body and req._body.
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      if (text) {
        req.body = req.headers['content-type'] === 'text/plain' ? text : JSON.parse(text);
        req._body = true;
      }
      handle(req, res);
    });
  });
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
  const post = (body, type = 'application/json') =>
    request(port, {
      method: 'POST',
      path: '/cleanup-pending-sessions',
      headers: { ...headers, 'content-type': type },
      body,
    });
  assert.deepEqual(json(await post('{"olderThanMs":0}')), { removed: [], count: 0 });
  assert.equal(
    json(await post('{"olderThanMs":-1}')).error,
    'invalid JSON body: invalid value: integer `-1`, expected u64 at line 1 column 17',
  );
  assert.equal(
    json(await post('{"foo":1}')).error,
    'invalid JSON body: unknown field `foo`, expected `olderThanMs` at line 1 column 6',
  );
  assert.equal(
    json(await post('{bad', 'text/plain')).error,
    'invalid JSON body: key must be a string at line 1 column 2',
    'a string body is parsed as sent',
  );
  const big = await post(JSON.stringify({ olderThanMs: 1, pad: ' '.repeat(70_000) }));
  assert.equal(big.status, 413);
});

// Real frameworks (dev dependencies): the layouts gateways use.

const express = require('express');
test('mounted after express.json()', async (t) => {
  const backend = await fakeBackend();
  const keeper = createKeeper({ laravelApiUrl: backend.url, apiKey: KEY });
  const app = express();
  app.use(express.json());
  app.use(keeper.handler());
  app.post('/sessions', (req, res) => res.status(201).json({ own: req.body.sessionId }));
  const { port, close } = await listen(app);
  t.after(async () => {
    await close();
    await keeper.close();
    await backend.close();
  });
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
  const post = (path, body) => request(port, { method: 'POST', path, headers, body });
  assert.deepEqual(json(await post('/cleanup-inactive-sessions', '{"idleForMs":0}')), { removed: [], count: 0 });
  assert.equal(
    json(await post('/cleanup-inactive-sessions', '{"idleForMs":-1}')).error,
    'invalid JSON body: invalid value: integer `-1`, expected u64 at line 1 column 15',
  );
  assert.equal((await post('/cleanup-inactive-sessions', '')).status, 200);
  assert.equal(
    (
      await request(port, {
        method: 'POST',
        path: '/cleanup-inactive-sessions',
        headers: { authorization: `Bearer ${KEY}` },
      })
    ).status,
    200,
  );
  assert.deepEqual(
    json(await post('/sessions', '{"sessionId":"x"}')),
    { own: 'x' },
    'its own routes still reach the app',
  );
  // Every route of the handler answers behind express.json().
  keeper.addSession('amy');
  keeper.connectionUpdate('amy', { qr: '2@every-route' });
  assert.deepEqual(json(await post('/cleanup-pending-sessions', '{"olderThanMs":3600000}')), { removed: [], count: 0 });
  const get = (path, method = 'GET') => request(port, { method, path, headers: { authorization: `Bearer ${KEY}` } });
  assert.equal(json(await get('/health')).status, 'ok');
  assert.equal((await get('/health', 'HEAD')).status, 200);
  assert.equal(json(await get('/sessions')).sessions[0].sessionId, 'amy');
  assert.match((await get('/metrics')).text, /^# HELP sessionkeeper_/m);
  assert.deepEqual(json(await get('/sessions/amy/qr?format=raw')), { sessionId: 'amy', qr: '2@every-route' });
  assert.equal((await get('/sessions/amy/qr')).status, 200);
  assert.equal((await get('/sessions/nobody/qr')).status, 404);
});

const fastify = require('fastify');
test('called from a Fastify route', async (t) => {
  const backend = await fakeBackend();
  const keeper = createKeeper({ laravelApiUrl: backend.url, apiKey: KEY });
  const handle = keeper.handler();
  const app = fastify();
  app.post('/cleanup-inactive-sessions', (request, reply) => {
    reply.hijack();
    request.raw.body = request.body;
    handle(request.raw, reply.raw);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(async () => {
    await app.close();
    await keeper.close();
    await backend.close();
  });
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
  const post = (body) =>
    request(app.server.address().port, { method: 'POST', path: '/cleanup-inactive-sessions', headers, body });
  assert.deepEqual(json(await post('{"idleForMs":0}')), { removed: [], count: 0 });
  assert.equal(
    json(await post('{"foo":1}')).error,
    'invalid JSON body: unknown field `foo`, expected `idleForMs` at line 1 column 6',
  );
});
