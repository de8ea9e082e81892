'use strict';
// A multi-user WhatsApp gateway on Baileys 7, wired to sessionkeeper.
//
// The seed's shape: a `sessions` Map with one socket per user, multi-file auth state per user,
// reconnect on close, and a plain `http` server on port 4000. What the seed did by hand
// (LaravelSync queue, CircuitBreaker, QrController pending map, setInterval cleanups, backoff)
// is now the keeper's: this file only owns sockets and routes.
//
//   LARAVEL_API_URL=https://backend.example/api/whatsapp LARAVEL_API_TOKEN=... \
//     node examples/gateway/index.js
//
// Environment: PORT (4000), HOST (127.0.0.1), AUTH_DIR (./auth), LARAVEL_API_URL,
// LARAVEL_API_TOKEN, SIGNING_SECRET, API_KEY, LOG_LEVEL (warn), WA_WEBSOCKET_URL (tests only).

const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const { createKeeper } = require('../..'); // in your gateway: require('sessionkeeper')

const PORT = Number(process.env.PORT ?? 4000);
const HOST = process.env.HOST || '127.0.0.1';
const AUTH_DIR = path.resolve(process.env.AUTH_DIR || path.join(__dirname, 'auth'));
const SESSION_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

async function main() {
  const { makeWASocket, useMultiFileAuthState } = await import('baileys');
  const logger = require('pino')({ level: process.env.LOG_LEVEL || 'warn' });
  fs.mkdirSync(AUTH_DIR, { recursive: true });

  const keeper = createKeeper({
    laravelApiUrl: process.env.LARAVEL_API_URL || 'http://127.0.0.1:8000/api/whatsapp',
    laravelApiToken: process.env.LARAVEL_API_TOKEN,
    signingSecret: process.env.SIGNING_SECRET,
    apiKey: process.env.API_KEY,
    statePath: path.join(AUTH_DIR, 'sessionkeeper-state.json'),
    pendingSessionTimeout: 120_000,
    inactiveSessionTimeout: 1_800_000,
    circuitBreakerThreshold: 20,
    circuitBreakerResetTimeout: 180_000,
    syncSpacing: 400,
  });

  /** sessionId -> the session's current Baileys socket. */
  const sessions = new Map();

  async function startSocket(sessionId) {
    const { state, saveCreds } = await useMultiFileAuthState(path.join(AUTH_DIR, sessionId));
    if (!keeper.hasSession(sessionId)) return; // removed while the auth state loaded
    const sock = makeWASocket({
      auth: state,
      logger,
      printQRInTerminal: false,
      ...(process.env.WA_WEBSOCKET_URL ? { waWebSocketUrl: process.env.WA_WEBSOCKET_URL } : {}),
    });
    sock.ev.on('creds.update', saveCreds);
    sessions.set(sessionId, sock);
    // QR codes, opens and closes go to the keeper; it decides what they mean.
    keeper.attachBaileys(sessionId, sock);
  }

  keeper.on('command', (cmd) => {
    const sock = sessions.get(cmd.sessionId);
    if (cmd.type === 'close') {
      // The keeper removed the session (expired QR, logged out, inactive, operator...).
      sessions.delete(cmd.sessionId);
      if (sock) sock.end(undefined);
      if (cmd.reason !== 'inactive' && cmd.reason !== 'removed_by_operator') {
        // Logged out or never scanned: its credentials are useless now.
        fs.rmSync(path.join(AUTH_DIR, cmd.sessionId), { recursive: true, force: true });
      }
    } else if (cmd.type === 'reconnect') {
      // The old socket has closed; the keeper chose when (backoff, no storms, 515 at once).
      startSocket(cmd.sessionId).catch((err) => logger.error({ err, sessionId: cmd.sessionId }, 'reconnect failed'));
    }
    logger.info(cmd, 'command');
  });
  keeper.on('breaker', (e) => logger.warn(e, 'backend circuit breaker'));
  keeper.on('deadLetter', (d) => logger.error(d, 'backend call given up'));
  keeper.on('warning', (w) => logger.warn({ sessionId: w.sessionId, err: w.error }, 'keeper warning'));

  // Sessions the keeper knows (restored from its state file) or that have auth state on disk.
  const onDisk = fs.readdirSync(AUTH_DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  for (const id of onDisk) if (SESSION_ID.test(id) && !keeper.hasSession(id)) keeper.addSession(id);
  for (const { sessionId } of keeper.sessions().sessions) await startSocket(sessionId);

  const keeperRoutes = keeper.handler(); // GET /health, GET /sessions, GET /sessions/{id}/qr, cleanups
  const server = http.createServer((req, res) => {
    keeperRoutes(req, res, () => ownRoutes(req, res));
  });

  function reply(res, status, body) {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  function ownRoutes(req, res) {
    const url = new URL(req.url, 'http://localhost');
    if (req.method === 'POST' && url.pathname === '/sessions') {
      let text = '';
      req.on('data', (c) => (text += c));
      req.on('end', async () => {
        try {
          const { sessionId } = JSON.parse(text || '{}');
          keeper.addSession(sessionId); // throws on a bad or duplicate id, changing nothing
          await startSocket(sessionId);
          reply(res, 201, { sessionId, state: 'new', qr: `/sessions/${sessionId}/qr` });
        } catch (err) {
          const status = err.code === 'SessionExists' ? 409 : err.code ? 400 : 500;
          reply(res, status, { error: err.message });
        }
      });
      return;
    }
    const del = /^\/sessions\/([^/]+)$/.exec(url.pathname);
    if (req.method === 'DELETE' && del) {
      try {
        keeper.removeSession(decodeURIComponent(del[1])); // a 'close' command follows
        return reply(res, 200, { removed: [decodeURIComponent(del[1])], count: 1 });
      } catch (err) {
        return reply(res, err.code === 'UnknownSession' ? 404 : 400, { error: err.message });
      }
    }
    reply(res, 404, { error: `no route for ${req.method} ${url.pathname}` });
  }

  server.listen(PORT, HOST, () => {
    const { port } = server.address();
    console.log(`gateway listening on http://${HOST}:${port}`);
  });

  let stopping = false;
  async function shutdown(signal) {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    server.close();
    const sockets = [...sessions.values()];
    await keeper.close(); // detaches sockets, waits for in-flight deliveries, saves state
    for (const sock of sockets) sock.end(undefined);
    process.exit(0);
  }
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
