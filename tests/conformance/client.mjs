// A raw HTTP client for the suite. node:http rather than fetch: request targets go out exactly as
// written (no URL normalisation of `..`, `//` or malformed percent-escapes), header values can be
// repeated, bodies can be chunked, and HEAD and 413 answers are read without surprises. One
// connection per request, so an edge closing a connection after an answer is never mistaken for
// a reset of the next request.

import http from 'node:http';

/**
 * Sends one request and resolves to `{status, headers, body}` (body: Buffer), or to
 * `{error}` when the connection failed (a reset instead of an answer is a finding, not a crash).
 * @param {string} base `http://127.0.0.1:port`
 * @param {{method: string, path: string, headers?: object, body?: Buffer|string, chunked?: boolean}} req
 */
export function send(base, req) {
  const url = new URL(base);
  return new Promise((resolve) => {
    const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body);
    const headers = { ...(req.headers || {}) };
    if (body !== undefined && !req.chunked) headers['content-length'] = body.length;
    if (req.chunked) headers['transfer-encoding'] = 'chunked';
    const r = http.request(
      {
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: req.path,
        headers,
        agent: false,
        timeout: 20_000,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on('error', (error) => resolve({ error: error.code || error.message }));
      },
    );
    r.on('timeout', () => r.destroy(new Error('timeout')));
    r.on('error', (error) => resolve({ error: error.code || error.message }));
    if (body !== undefined && req.chunked) {
      // Several chunks, so the limit is crossed in the middle of the stream.
      for (let i = 0; i < body.length; i += 16 * 1024) r.write(body.subarray(i, i + 16 * 1024));
    } else if (body !== undefined) r.write(body);
    r.end();
  });
}

/** `send` that expects JSON and returns the parsed body (for the story and polling). */
export async function sendJson(base, req) {
  const res = await send(base, req);
  if (res.error) throw new Error(`${req.method} ${req.path}: ${res.error}`);
  const text = res.body.toString('utf8');
  let json;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}
