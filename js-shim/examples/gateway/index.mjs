// A multi-user WhatsApp gateway on Baileys 7 and Express 5, wired to sessionkeeper.
//
// It owns the sockets (one per user, multi-file auth state in AUTH_DIR/<sessionId>/) and two
// routes; the keeper owns every decision: pending-QR expiry, reconnect backoff, the breaker and
// the paced queue of QRs and statuses to the backend, and the management routes.
//
//   LARAVEL_API_URL=https://backend.example/api/whatsapp LARAVEL_API_TOKEN=... node index.mjs
//
// Environment: PORT (4000; 0 picks a free one), HOST (127.0.0.1), AUTH_DIR (./auth),
// STATE_PATH (./data/sessionkeeper.json), LARAVEL_API_URL, LARAVEL_API_TOKEN, SIGNING_SECRET,
// API_KEY, LOG_LEVEL (warn), WA_WEBSOCKET_URL (tests: a port nothing listens on). Relative paths
// are relative to this file's folder.

import { createHash, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express from 'express';
import pino from 'pino';
import { makeWASocket, useMultiFileAuthState } from 'baileys';
import { createKeeper, KeeperError } from 'sessionkeeper';

const here = path.dirname(fileURLToPath(import.meta.url));
const PORT = Number(process.env.PORT || 4000);
const HOST = process.env.HOST || '127.0.0.1';
const AUTH_DIR = path.resolve(here, process.env.AUTH_DIR || 'auth');
// Not inside AUTH_DIR: the keeper writes <statePath>.lock and temporary files beside it, and
// every entry of AUTH_DIR is taken for a session.
const STATE_PATH = path.resolve(here, process.env.STATE_PATH || 'data/sessionkeeper.json');
const API_KEY = process.env.API_KEY || undefined;

const logger = pino({ level: process.env.LOG_LEVEL || 'warn' });

const keeper = createKeeper({
  laravelApiUrl: process.env.LARAVEL_API_URL || 'http://127.0.0.1:8000/api/whatsapp',
  laravelApiToken: process.env.LARAVEL_API_TOKEN,
  signingSecret: process.env.SIGNING_SECRET,
  apiKey: API_KEY,
  statePath: STATE_PATH,
  logger, // breaker changes, dead letters and refused socket events end up here
  // Every other option keeps the seed's defaults (pendingSessionTimeout 120 s, syncSpacing 400 ms...).
});

/** sessionId -> the session's current Baileys socket. */
const sockets = new Map();
let server; // listening once the sessions are back
let stopping = false;

async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  logger.info({ signal }, 'shutting down');
  server?.close();
  let code = 0;
  try {
    // Detaches the sockets (ending them below is not reported as disconnects), waits for the
    // deliveries in flight, saves the state and releases the lock.
    await keeper.close();
  } catch (err) {
    logger.error({ err }, 'state not saved');
    code = 1;
  }
  for (const sock of sockets.values()) sock.end(undefined);
  process.exit(code);
}
// From the start: a stop during the restart below saves the state too.
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);

// Session ids name folders. The keeper's rule, [A-Za-z0-9._:@-]{1,128}, lets "." and ".." through,
// and a route parameter can hold anything: every path is built through this check.
const DOTS = /^\.{1,2}$/;
const FOLDER_ID = /^(?!\.{1,2}$)[A-Za-z0-9._:@-]{1,128}$/;
const authDir = (sessionId) => {
  if (!FOLDER_ID.test(sessionId)) throw new Error(`session id ${JSON.stringify(sessionId)} cannot name a folder`);
  return path.join(AUTH_DIR, sessionId);
};

/** Whether the folder holds a linked device (`account` is written by Baileys' pair-success only). */
function linked(sessionId) {
  try {
    return Boolean(JSON.parse(fs.readFileSync(path.join(authDir(sessionId), 'creds.json'), 'utf8')).account);
  } catch {
    return false;
  }
}

async function startSocket(sessionId) {
  const { state, saveCreds } = await useMultiFileAuthState(authDir(sessionId));
  if (stopping || !keeper.hasSession(sessionId)) return; // removed while the auth state loaded
  const sock = makeWASocket({
    auth: state,
    logger: logger.child({ sessionId }),
    ...(process.env.WA_WEBSOCKET_URL && { waWebSocketUrl: process.env.WA_WEBSOCKET_URL }),
  });
  // A save racing the folder's deletion fails; that must not crash the process.
  sock.ev.on('creds.update', () => saveCreds().catch((err) => logger.warn({ err, sessionId }, 'credentials not saved')));
  const old = sockets.get(sessionId);
  sockets.set(sessionId, sock);
  // QRs, opens and closes go to the keeper. Attached before the old socket ends, so that end is
  // not reported as this session's close.
  keeper.attachBaileys(sessionId, sock);
  old?.end(undefined);
}

// What a keeper's `close` means for the session's auth folder (its login):
// - gone for good, deleted: logged_out (401, the user unlinked the device), closed (403) and
//   closed (406) (WhatsApp's "locked" and "banned" logouts; whatsmeow deletes its session data on
//   the same three codes);
// - never completed, deleted unless the folder holds a linked device: the pending expiries
//   (pending_timeout, max_qr_codes, qr_refs_ended, pending_cleanup) and inactive. A linked
//   device that was offline for inactiveSessionTimeout is still a valid login: kept;
// - kept: connection_replaced_loop (another process runs the same login, as in a rolling
//   deploy), closed (402) (temporary ban), closed (405) (client outdated: upgrade Baileys),
//   closed (411) (multidevice mismatch: nothing says the login itself is gone).
// A kept folder comes back at the next start, or now with POST /sessions; DELETE /sessions/:id
// deletes the folder itself, whatever its ?reason=.
const LOGIN_GONE = new Set(['logged_out', 'closed (403)', 'closed (406)']);
const LOGIN_UNFINISHED = new Set(['pending_timeout', 'max_qr_codes', 'qr_refs_ended', 'pending_cleanup', 'inactive']);
const forgetsLogin = (sessionId, reason) =>
  LOGIN_GONE.has(reason) || (LOGIN_UNFINISHED.has(reason) && !linked(sessionId));

keeper.on('command', ({ type, sessionId, reason }) => {
  logger.info({ type, sessionId, reason }, 'keeper command');
  if (type === 'reconnect') {
    // The keeper chose the moment: after the backoff and a free slot, or at once after a scan.
    startSocket(sessionId).catch((err) => logger.error({ err, sessionId }, 'socket not started'));
  } else if (type === 'close') {
    // The keeper removed the session and told the backend why.
    const sock = sockets.get(sessionId);
    sockets.delete(sessionId);
    sock?.end(undefined);
    if (forgetsLogin(sessionId, reason)) fs.rmSync(authDir(sessionId), { recursive: true, force: true });
  }
});

// Restart. The keeper holds what restoring STATE_PATH produced until a listener takes it: let the
// one above run first (a close for a session that expired while the gateway was down deletes its
// folder), then list the folders.
await new Promise((resolve) => setImmediate(resolve));
fs.mkdirSync(AUTH_DIR, { recursive: true });
const folders = fs
  .readdirSync(AUTH_DIR, { withFileTypes: true })
  .filter((d) => d.isDirectory() && FOLDER_ID.test(d.name))
  .map((d) => d.name);
for (const { sessionId } of keeper.sessions().sessions) {
  // Restored without a folder (deleted by hand): no login to resume, and no socket would ever
  // report for it.
  if (!folders.includes(sessionId)) keeper.removeSession(sessionId, 'auth state missing');
}
for (const sessionId of folders) {
  if (stopping) break;
  keeper.ensureSession(sessionId); // false when restored from STATE_PATH: no SessionExists
  await startSocket(sessionId);
}
if (!stopping) keeper.start(); // releases what the keeper still held for kinds nobody listens to

function requireApiKey(req, res, next) {
  const given = req.get('x-api-key') ?? req.get('authorization')?.replace(/^bearer /i, '') ?? '';
  const digest = (s) => createHash('sha256').update(s.trim()).digest();
  if (!API_KEY || timingSafeEqual(digest(given), digest(API_KEY))) return next();
  res.status(401).set('www-authenticate', 'Bearer').json({ error: 'missing or invalid API key' });
}

/** A keeper refusal as its HTTP status (409 duplicate, 400 bad id, 503 closed); anything else is a bug. */
function refuse(res, err) {
  if (!(err instanceof KeeperError)) throw err;
  res.status(err.status ?? 400).json({ error: err.message });
}

const app = express();
// Parsers first: the keeper's routes read the parsed body (POST /cleanup-* with {idleForMs}).
app.use(express.json());
// GET /health, /sessions, /sessions/:id/qr, /metrics; POST /cleanup-inactive-sessions,
// /cleanup-pending-sessions. Other routes go on to next().
app.use(keeper.handler());

// The host's answers for the same routes: a gateway can move to the native host unchanged.
app.post('/sessions', requireApiKey, async (req, res) => {
  const { sessionId, meta } = req.body ?? {};
  try {
    if (typeof sessionId === 'string' && DOTS.test(sessionId)) {
      throw new KeeperError('InvalidSessionId', 'session id cannot be "." or ".." (it names a folder)', { status: 400 });
    }
    keeper.addSession(sessionId, { meta }); // refuses a bad or duplicate id, changing nothing
  } catch (err) {
    return refuse(res, err);
  }
  await startSocket(sessionId);
  res.status(201).json({ sessionId, added: true });
});

app.delete('/sessions/:id', requireApiKey, (req, res) => {
  const sessionId = req.params.id;
  const reason = typeof req.query.reason === 'string' ? req.query.reason : undefined;
  try {
    if (keeper.hasSession(sessionId)) {
      keeper.removeSession(sessionId, reason); // detaches the socket; the `close` command ends it
    } else if (!FOLDER_ID.test(sessionId) || !fs.existsSync(authDir(sessionId))) {
      return res.status(404).json({ error: `unknown session \`${sessionId}\`` });
    }
  } catch (err) {
    return refuse(res, err);
  }
  // The operator wants the login gone: without its folder the next start does not bring it back.
  fs.rmSync(authDir(sessionId), { recursive: true, force: true });
  res.json({ sessionId, removed: true });
});

// express.json() refusals (malformed JSON, too large) and bugs answer JSON too.
app.use((err, req, res, next) => {
  if (res.headersSent) return next(err);
  const status = err.status >= 400 && err.status < 500 ? err.status : 500;
  if (status === 500) logger.error({ err }, 'request failed');
  res.status(status).json({ error: status === 500 ? 'internal error' : err.message });
});

if (!stopping) {
  server = app.listen(PORT, HOST, (err) => {
    if (err) throw err;
    console.log(`gateway listening on http://${HOST}:${server.address().port}`);
  });
}
