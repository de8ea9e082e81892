// A multi-user gateway on Baileys 7, typed. Compiled (never run) by test/package.test.js: it proves
// Baileys' own types go into the keeper as they are, and that command handling is exhaustive.
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { DisconnectReason, makeWASocket, useMultiFileAuthState, type WASocket } from "baileys";
import { pino } from "pino";
import {
  createKeeper,
  KeeperError,
  type CommandEvent,
  type EffectiveConfig,
  type Reason,
  type SessionKeeper,
} from "sessionkeeper";

const AUTH_DIR = process.env["AUTH_DIR"] ?? "./auth";
const logger = pino({ level: "warn" });

const keeper: SessionKeeper = createKeeper({
  laravelApiUrl: process.env["LARAVEL_API_URL"] ?? "http://127.0.0.1:8000/api/whatsapp",
  laravelApiToken: process.env["LARAVEL_API_TOKEN"],
  statePath: "./data/sessionkeeper.json",
  pendingSessionTimeout: 120_000,
  logger,
});

const sockets = new Map<string, WASocket>();

async function startSocket(sessionId: string): Promise<void> {
  const { state, saveCreds } = await useMultiFileAuthState(join(AUTH_DIR, sessionId));
  const sock = makeWASocket({ auth: state, logger });
  sock.ev.on("creds.update", saveCreds);
  // Baileys' `Partial<ConnectionState>` straight in: no cast, no normalising.
  sock.ev.on("connection.update", (u) => keeper.connectionUpdate(sessionId, u));
  sockets.set(sessionId, sock);
}

async function startAttached(sessionId: string): Promise<() => void> {
  const { state } = await useMultiFileAuthState(join(AUTH_DIR, sessionId));
  return keeper.attachBaileys(sessionId, makeWASocket({ auth: state, logger }));
}

const LOGGED_OUT: Reason = "logged_out";

function onCommand(e: CommandEvent): void {
  const sock = sockets.get(e.sessionId);
  switch (e.type) {
    case "close":
      sockets.delete(e.sessionId);
      void sock?.end(undefined);
      if (e.reason === LOGGED_OUT) rmSync(join(AUTH_DIR, e.sessionId), { recursive: true, force: true });
      break;
    case "reconnect":
      void sock?.end(undefined);
      void startSocket(e.sessionId);
      break;
    default: {
      // A command type added to the core fails compilation here until it is handled.
      const unhandled: never = e.type;
      throw new Error(`unhandled command ${String(unhandled)}`);
    }
  }
}

function addUser(sessionId: string): number {
  try {
    keeper.addSession(sessionId, { meta: { plan: "pro", seats: 3 } });
    void startSocket(sessionId);
    return 201;
  } catch (err) {
    if (err instanceof KeeperError && err.code === "SessionExists") return 409;
    if (err instanceof KeeperError && err.status !== undefined) return err.status;
    throw err;
  }
}

export function main(): void {
  mkdirSync(AUTH_DIR, { recursive: true });
  keeper.on("command", onCommand);
  keeper.on("session", (e) => logger.info({ sessionId: e.sessionId, state: e.state, reason: e.reason }, "session"));
  keeper.on("breaker", (e) => {
    if (e.to === "OPEN") logger.warn({ from: e.from }, "backend breaker open");
  });
  // Boot: every auth folder is a session; those restored from statePath are kept as they are.
  for (const sessionId of readdirSync(AUTH_DIR)) {
    const added: boolean = keeper.ensureSession(sessionId);
    if (added || !sockets.has(sessionId)) void startSocket(sessionId);
  }
  keeper.start();

  const config: EffectiveConfig = keeper.config();
  const seed: string = config.seed;
  const spacing: number = config.syncSpacing;
  logger.info({ seed, spacing, pacing: config.pacing }, "keeper ready");
  if (DisconnectReason.loggedOut !== 401) throw new Error("Baileys changed its codes");

  const api = keeper.handler();
  createServer((req, res) => {
    if (req.method === "POST" && req.url?.startsWith("/users/")) {
      res.statusCode = addUser(req.url.slice("/users/".length));
      res.end();
      return;
    }
    void api(req, res);
  }).listen(4000, "127.0.0.1");
  process.once("SIGTERM", () => void keeper.close());
  void startAttached;
}
