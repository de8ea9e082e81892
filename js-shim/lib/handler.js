'use strict';
// A Node `(req, res[, next])` handler serving the host's management endpoints with the host's
// answers: GET /health, GET /sessions, GET /sessions/{id}/qr, POST /cleanup-inactive-sessions,
// POST /cleanup-pending-sessions, GET /metrics. The host (axum) is the reference: statuses,
// `{error}` texts, `Allow` and `WWW-Authenticate` headers, the 64 KiB body limit, percent-decoding
// of the path, and the serde_json messages for a bad cleanup body are reproduced here, and
// tests/conformance/ sends the same requests to both edges to prove it.

const crypto = require('node:crypto');
const wasm = require('./wasm');
const { qrPng, qrSvg } = require('./qr');
const { metricsRenderer, METRICS_CONTENT_TYPE } = require('./metrics');

/** The host's `BODY_LIMIT`: larger bodies are answered 413, after being read and discarded. */
const MAX_BODY = 64 * 1024;
/** The host's `DRAINED_BODY_LIMIT`: a longer declared body is refused at once, unread. */
const DRAINED_BODY = 1024 * 1024;


// The host's fixed messages (host/src/api: mod.rs, auth.rs, ops.rs, sessions.rs; axum's body
// limit rejection). Same text on both edges, so clients can match on them.
const MSG = {
  notFound: 'no such endpoint',
  methodNotAllowed: 'method not allowed',
  unauthorized: 'missing or invalid API key',
  tooLarge: 'Failed to buffer the request body: length limit exceeded',
  badUtf8Id: 'Invalid URL: Invalid UTF-8 in `id`',
  badFormat: 'format must be png, svg or raw',
  duplicateFormat: 'Failed to deserialize query string: duplicate field `format`',
};

/** Routes served here and the methods each answers (`HEAD` with every `GET`, as axum does). */
const ROUTES = {
  '/health': 'GET',
  '/sessions': 'GET',
  '/metrics': 'GET',
  '/dead-letters': 'GET',
  '/cleanup-inactive-sessions': 'POST',
  '/cleanup-pending-sessions': 'POST',
};
const QR_ROUTE = /^\/sessions\/([^/]*)\/qr$/;
/** `DELETE /dead-letters/{id}` and `POST /dead-letters/{id}/retry` (the host routes an empty id of the retry route, not of the other). */
const DEAD_LETTER_ROUTE = /^\/dead-letters\/([^/]+)$/;
const DEAD_LETTER_RETRY_ROUTE = /^\/dead-letters\/([^/]*)\/retry$/;
const U64_MAX = 2n ** 64n - 1n;

/** A dead letter's `{id}` as its decimal digits, read as Rust's `u64::from_str` reads it. */
function deadLetterId(raw) {
  const text = decodeIdSegment(raw);
  if (!/^\+?\d+$/.test(text) || BigInt(text) > U64_MAX) {
    throw httpError(400, `dead letter id must be an item id (a whole number), got \`${text}\``);
  }
  return BigInt(text).toString();
}

function httpError(status, message, headers) {
  const err = new Error(message);
  err.status = status;
  err.headers = headers;
  return err;
}

/** Writes a complete answer with an explicit length (also for HEAD, which gets no body). */
function send(res, status, body, type = 'application/json', headers = {}) {
  const payload = type === 'application/json' ? JSON.stringify(body) : body;
  const length = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.length;
  res.writeHead(status, { 'content-type': type, 'content-length': length, 'cache-control': 'no-store', ...headers });
  res.end(payload);
}

function sendError(res, err) {
  // Core errors carry the status the host answers them with; the shim's own input errors are 400s.
  const status = err.status || (err.code === 'InvalidInput' ? 400 : 500);
  const headers = { ...(err.headers || {}) };
  if (status === 503) headers['retry-after'] = '1';
  if (res.headersSent) return res.end();
  const message = (err.message || String(err)).replace(/^sessionkeeper: /, '');
  send(res, status, { error: message }, 'application/json', headers);
}

// ---- request line: the raw path (no URL normalisation: the host matches the path as sent) ----

/** `req.url` split into the raw path and the raw query (absolute-form targets reduced). */
function splitTarget(url) {
  let target = url || '/';
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(target);
  if (absolute) target = target.slice(absolute[0].length) || '/';
  const q = target.indexOf('?');
  return q < 0 ? { path: target, query: '' } : { path: target.slice(0, q), query: target.slice(q + 1) };
}

const HEX = (b) => (b >= 48 && b <= 57 ? b - 48 : b >= 65 && b <= 70 ? b - 55 : b >= 97 && b <= 102 ? b - 87 : -1);

/** Percent-decoding as the `percent-encoding` crate does it: a `%` not followed by two hex digits stays. */
function percentDecode(bytes) {
  const out = [];
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (b === 37 && i + 2 < bytes.length && HEX(bytes[i + 1]) >= 0 && HEX(bytes[i + 2]) >= 0) {
      out.push(HEX(bytes[i + 1]) * 16 + HEX(bytes[i + 2]));
      i += 2;
    } else out.push(b);
  }
  return Buffer.from(out);
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const LOSSY_UTF8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

/** The `{id}` path segment, decoded like axum's `Path<String>` (invalid UTF-8 is a 400). */
function decodeIdSegment(raw) {
  try {
    return STRICT_UTF8.decode(percentDecode(Buffer.from(raw, 'latin1')));
  } catch {
    throw httpError(400, MSG.badUtf8Id);
  }
}

/** `application/x-www-form-urlencoded` pairs as `form_urlencoded::parse` yields them. */
function queryPairs(query) {
  const pairs = [];
  for (const piece of query.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const [k, v] = eq < 0 ? [piece, ''] : [piece.slice(0, eq), piece.slice(eq + 1)];
    const dec = (s) => LOSSY_UTF8.decode(percentDecode(Buffer.from(s.replace(/\+/g, ' '), 'latin1')));
    pairs.push([dec(k), dec(v)]);
  }
  return pairs;
}

/** `?format=` of the QR route: one value at most (serde_urlencoded refuses a repeated field). */
function qrFormat(query) {
  const formats = queryPairs(query).filter(([k]) => k === 'format');
  if (formats.length > 1) throw httpError(400, MSG.duplicateFormat);
  const format = formats.length === 1 ? formats[0][1] : 'png';
  if (format !== 'png' && format !== 'svg' && format !== 'raw') throw httpError(400, MSG.badFormat);
  return format;
}

// ---- API key: `Authorization: Bearer <key>` (scheme in any case) or `x-api-key`, trimmed ----

/** The first value of a header (the host reads only the first), or undefined. */
function firstHeader(req, name) {
  const distinct = req.headersDistinct && req.headersDistinct[name];
  if (distinct) return distinct[0];
  const raw = req.rawHeaders;
  if (Array.isArray(raw)) {
    for (let i = 0; i + 1 < raw.length; i += 2) if (raw[i].toLowerCase() === name) return raw[i + 1];
    return undefined;
  }
  const v = req.headers && req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A header value the host can read as text (`HeaderValue::to_str`: visible ASCII and tab). */
const readable = (v) => typeof v === 'string' && !/[^\t\x20-\x7e]/.test(v);
const trimAscii = (s) => s.replace(/^[\t\n\v\f\r ]+|[\t\n\v\f\r ]+$/g, '');
const digest = (s) => crypto.createHash('sha256').update(s, 'utf8').digest();

/** A checker comparing in constant time: SHA-256 digests have equal lengths whatever is sent. */
function apiKeyCheck(apiKey) {
  if (!apiKey) return () => true;
  const expected = digest(apiKey);
  return (req) => {
    const given = [];
    const auth = firstHeader(req, 'authorization');
    if (readable(auth) && /^bearer /i.test(auth)) given.push(auth.slice(7));
    const key = firstHeader(req, 'x-api-key');
    if (readable(key)) given.push(key);
    let ok = false;
    for (const g of given) ok = crypto.timingSafeEqual(digest(trimAscii(g)), expected) || ok;
    return ok;
  };
}

// ---- request bodies ----

/** Whether a framework already read the stream (body-parser sets `_body`; others end it). */
function consumedByFramework(req) {
  return req._body === true || req.readableEnded === true || typeof req.on !== 'function';
}

/**
 * The body bytes. A body a framework already parsed (`req.body`, e.g. `express.json()`) is used
 * as it is: raw bytes and strings as sent, parsed values as their JSON text.
 */
function readBody(req) {
  if (req.body !== undefined && consumedByFramework(req)) {
    const b = req.body;
    let bytes;
    if (b instanceof Uint8Array) bytes = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    else bytes = Buffer.from(typeof b === 'string' ? b : JSON.stringify(b), 'utf8');
    return bytes.length > MAX_BODY ? Promise.reject(httpError(413, MSG.tooLarge)) : Promise.resolve(bytes);
  }
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    let ended = false;
    // Over the limit: keep reading and drop the rest, then answer 413 on a connection that
    // stays usable (destroying the socket would make the client see a reset, not the 413).
    req.on('data', (c) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
      else chunks.length = 0;
    });
    req.on('end', () => {
      ended = true;
      if (size > MAX_BODY) reject(httpError(413, MSG.tooLarge));
      else resolve(Buffer.concat(chunks));
    });
    req.on('error', reject);
    req.on('close', () => {
      if (!ended) reject(new Error('request aborted'));
    });
  });
}

// ---- what only the core decides: body parsing and id checks, with the host's words ----

/** A core refusal as an HTTP error with the status the host gives it. */
function coreCall(fn) {
  try {
    return fn();
  } catch (err) {
    if (err && err.name === 'KeeperError' && typeof err.status === 'number') {
      throw httpError(err.status, err.message.replace(/^sessionkeeper: /, ''));
    }
    throw err;
  }
}

/** The optional milliseconds of a cleanup body, parsed by the core exactly as the host does. */
function cleanupMs(route, bytes) {
  return coreCall(() => wasm.cleanupMs(route, bytes));
}

// ---- the handler ----

/**
 * @param {import('./keeper').SessionKeeper} keeper
 * @param {{ apiKey?: string }} settings
 */
function createHandler(keeper, settings) {
  const authorized = apiKeyCheck(settings.apiKey);
  const metrics = metricsRenderer(keeper);
  return async function sessionkeeperHandler(req, res, next) {
    const { path, query } = splitTarget(req.url);
    const qrMatch = QR_ROUTE.exec(path);
    const deadMatch = DEAD_LETTER_ROUTE.exec(path);
    const retryMatch = DEAD_LETTER_RETRY_ROUTE.exec(path);
    const allowed = qrMatch ? 'GET' : deadMatch ? 'DELETE' : retryMatch ? 'POST' : ROUTES[path];
    const method = req.method === 'HEAD' && allowed === 'GET' ? 'GET' : req.method;
    // Routes and methods it does not serve go to `next` (the gateway's own routes) when given.
    if (!allowed || method !== allowed) {
      if (typeof next === 'function') return next();
    }
    // Before anything else, as the host's outermost layer: a declared body far over the limit
    // (up to DRAINED_BODY the body is read and discarded, and answered 413 below).
    if (Number(req.headers && req.headers['content-length']) > DRAINED_BODY) {
      return sendError(res, httpError(413, MSG.tooLarge));
    }
    if (!allowed) return send(res, 404, { error: MSG.notFound });
    try {
      if (method !== allowed) {
        throw httpError(405, MSG.methodNotAllowed, { allow: allowed === 'GET' ? 'GET,HEAD' : allowed });
      }
      // A closed keeper answers nothing but that, /health included, so a balancer moves on.
      if (keeper.closed) throw httpError(503, 'the keeper is closed');
      if (path !== '/health' && !authorized(req)) {
        throw httpError(401, MSG.unauthorized, { 'www-authenticate': 'Bearer' });
      }
      // Open to load balancers; without the key it shows counts only, as on the host.
      if (path === '/health') return send(res, 200, authorized(req) ? keeper.health() : keeper._healthCountsOnly());
      if (path === '/sessions') return send(res, 200, keeper.sessions());
      if (path === '/metrics') {
        return send(res, 200, metrics(), METRICS_CONTENT_TYPE);
      }
      if (path === '/cleanup-inactive-sessions') {
        const idleForMs = cleanupMs('inactive', await readBody(req));
        return send(res, 200, keeper.cleanupInactiveSessions({ idleForMs }));
      }
      if (path === '/cleanup-pending-sessions') {
        const olderThanMs = cleanupMs('pending', await readBody(req));
        return send(res, 200, keeper.cleanupPendingSessions({ olderThanMs }));
      }
      if (path === '/dead-letters') return send(res, 200, keeper.deadLetters());
      if (deadMatch || retryMatch) {
        const itemId = deadLetterId((deadMatch || retryMatch)[1]);
        if (retryMatch) {
          keeper.retryDeadLetter(itemId);
          return send(res, 200, { itemId: Number(itemId), retried: true });
        }
        keeper.discardDeadLetter(itemId);
        return send(res, 200, { itemId: Number(itemId), discarded: true });
      }
      const id = decodeIdSegment(qrMatch[1]);
      coreCall(() => wasm.checkSessionId(id));
      const format = qrFormat(query);
      if (!keeper.hasSession(id)) throw httpError(404, `unknown session \`${id}\``);
      const qr = keeper.qr(id);
      if (qr === undefined) throw httpError(404, `no QR for session \`${id}\``);
      if (format === 'png') return send(res, 200, qrPng(qr), 'image/png');
      if (format === 'svg') return send(res, 200, qrSvg(qr), 'image/svg+xml');
      return send(res, 200, { sessionId: id, qr });
    } catch (err) {
      return sendError(res, err);
    }
  };
}

module.exports = { createHandler, MAX_BODY };
