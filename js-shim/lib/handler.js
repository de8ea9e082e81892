'use strict';
// A Node `(req, res[, next])` handler serving the host's management endpoints with the same
// JSON shapes: GET /health, GET /sessions, GET /sessions/{id}/qr, POST /cleanup-inactive-sessions,
// POST /cleanup-pending-sessions. Errors are `{error}` with the host's statuses.

const { qrPng, qrSvg } = require('./qr');

const MAX_BODY = 64 * 1024;

const STATUS_BY_CODE = {
  UnknownSession: 404,
  SessionExists: 409,
  InvalidSessionId: 400,
  InvalidItem: 400,
  InvalidInput: 400,
  QueueFull: 503,
};

function send(res, status, body, type = 'application/json') {
  const payload = type === 'application/json' ? JSON.stringify(body) : body;
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  res.end(payload);
}

function sendError(res, err) {
  const status = err.status || STATUS_BY_CODE[err.code] || 500;
  if (status === 503 && !res.headersSent) res.setHeader('retry-after', '1');
  send(res, status, { error: err.message || String(err) });
}

function httpError(status, message) {
  const err = new Error(message);
  err.status = status;
  return err;
}

/** An optional JSON object body (empty body -> {}). */
function readJson(req) {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(httpError(413, 'body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      if (text === '') return resolve({});
      try {
        const value = JSON.parse(text);
        if (value === null || typeof value !== 'object' || Array.isArray(value)) {
          return reject(httpError(400, 'body must be a JSON object'));
        }
        resolve(value);
      } catch (e) {
        reject(httpError(400, `body is not JSON: ${e.message}`));
      }
    });
    req.on('error', reject);
  });
}

function optionalMs(body, key) {
  for (const k of Object.keys(body)) {
    if (k !== key) throw httpError(400, `unknown field \`${k}\` (expected \`${key}\`)`);
  }
  const v = body[key];
  if (v === undefined || v === null) return undefined;
  if (!Number.isInteger(v) || v < 0) throw httpError(400, `\`${key}\` must be a non-negative integer (ms)`);
  return v;
}

function authorized(req, apiKey) {
  if (!apiKey) return true;
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth === `Bearer ${apiKey}`) return true;
  return req.headers['x-api-key'] === apiKey;
}

/**
 * @param {import('./keeper').SessionKeeper} keeper
 * @param {{ apiKey?: string }} settings
 */
function createHandler(keeper, settings) {
  return async function sessionkeeperHandler(req, res, next) {
    const url = new URL(req.url || '/', 'http://localhost');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const qrMatch = /^\/sessions\/([^/]+)\/qr$/.exec(path);
    const routes = {
      '/health': 'GET',
      '/sessions': 'GET',
      '/cleanup-inactive-sessions': 'POST',
      '/cleanup-pending-sessions': 'POST',
    };
    const method = qrMatch ? 'GET' : routes[path];
    // Routes and methods it does not serve go to `next` (the gateway's own routes) when given.
    if (!method || req.method !== method) {
      if (typeof next === 'function') return next();
      if (!method) return send(res, 404, { error: `no route for ${req.method} ${path}` });
    }
    try {
      if (req.method !== method) {
        res.setHeader('allow', method);
        throw httpError(405, `${req.method} not allowed on ${path} (use ${method})`);
      }
      if (path !== '/health' && !authorized(req, settings.apiKey)) {
        throw httpError(401, 'missing or wrong API key (Authorization: Bearer or x-api-key)');
      }
      if (path === '/health') return send(res, 200, keeper.health());
      if (path === '/sessions') return send(res, 200, keeper.sessions());
      if (path === '/cleanup-inactive-sessions') {
        const idleForMs = optionalMs(await readJson(req), 'idleForMs');
        return send(res, 200, keeper.cleanupInactiveSessions({ idleForMs }));
      }
      if (path === '/cleanup-pending-sessions') {
        const olderThanMs = optionalMs(await readJson(req), 'olderThanMs');
        return send(res, 200, keeper.cleanupPendingSessions({ olderThanMs }));
      }
      const id = decodeURIComponent(qrMatch[1]);
      const format = url.searchParams.get('format') || 'png';
      if (!['png', 'svg', 'raw'].includes(format)) throw httpError(400, 'format must be png, svg or raw');
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

module.exports = { createHandler };
