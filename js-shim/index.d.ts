// Types of the `sessionkeeper` package (CommonJS flavour; index.d.mts re-exports them for ESM so a
// class is one type whichever way it was imported). The boundary types (Input, Output, views,
// config, the enums) are generated from the Rust binding into ./wasm/sessionkeeper_wasm.d.ts.
import { EventEmitter } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import type {
  KeeperConfig,
  ConnectionUpdate,
  Input,
  Ack,
  SessionsView,
  HealthView,
  BreakerState,
  SessionState,
  CommandType,
  Reason,
  KnownReason,
  KeeperErrorCode,
  Delivery,
  DeliveryOutcome,
  DeadLetter,
  DeadLetterDetail,
  SessionView,
  PendingView,
  BreakerView,
  QueueView,
  Alert,
} from "./wasm/sessionkeeper_wasm";

export type {
  KeeperConfig, ConnectionUpdate, Input, Ack, SessionsView, HealthView, BreakerState, SessionState,
  CommandType, Reason, KnownReason, KeeperErrorCode, Delivery, DeliveryOutcome, DeadLetter,
  DeadLetterDetail, SessionView, PendingView, BreakerView, QueueView, Alert,
};

/**
 * The one error class of the package: every method throws a `KeeperError`, and `instanceof`
 * holds whether the class came from `require` or `import` (the ESM entry re-exports the CJS one).
 */
export declare class KeeperError extends Error {
  constructor(code: KeeperErrorCode, message: string, options?: { status?: number; key?: string; cause?: unknown });
  readonly name: "KeeperError";
  code: KeeperErrorCode;
  /** The HTTP status `handler()` (and the host) answer this error with, when there is one. */
  status?: number;
  /** For `Config` errors: the option at fault. */
  key?: string;
}

/**
 * A pino-compatible logger: `pino()` fits, so does any object with some of these methods (the
 * keeper skips the missing ones).
 */
export interface KeeperLogger {
  debug?(obj: object, msg?: string): void;
  info?(obj: object, msg?: string): void;
  warn?(obj: object, msg?: string): void;
  error?(obj: object, msg?: string): void;
}

/** `createKeeper` options: the core's config keys plus the shim's own. */
export interface KeeperOptions extends KeeperConfig {
  /** Backend base URL; requests go to `POST {laravelApiUrl}{path}`. Required. */
  laravelApiUrl: string;
  /** Sent as `Authorization: Bearer <token>`. */
  laravelApiToken?: string | undefined;
  /** JSON file the state is saved to (autosave, `close()`, `save()`) and restored from on start;
   * locked by `<statePath>.lock`. Keep it outside the folder that lists per-session auth folders. */
  statePath?: string | undefined;
  /** With `statePath`: save at most this long (ms, default 5000) after the state changes; 0 saves only on `close()` / `save()`. */
  autosaveInterval?: number | undefined;
  /** Defaults to the global `fetch`. */
  fetch?: typeof fetch | undefined;
  /** Per-request timeout (ms, default 10000): a timeout is reported to the core as such. */
  requestTimeout?: number | undefined;
  /** When set, requests carry `X-Timestamp` and `X-Signature: sha256=<HMAC(timestamp.body)>`. */
  signingSecret?: string | undefined;
  /** When set, `handler()` requires `Authorization: Bearer <apiKey>` or `x-api-key` (not on /health). */
  apiKey?: string | undefined;
  /** Format of `body.qrImage` data URLs (default `png`, as the host and the seed send). */
  qrImageFormat?: "png" | "svg" | undefined;
  /** Breaker changes, dead letters, refused socket events, autosave failures, lock takeovers. */
  logger?: KeeperLogger | undefined;
  /** The clock (unix ms); defaults to `Date.now`. For tests. */
  now?: (() => number) | undefined;
  /** Accepted and ignored (the seed's config files carry it). */
  port?: number | undefined;
}

/** `config()`: every core key with its default filled in, plus the shim's non-secret options. */
export interface EffectiveConfig extends Required<Omit<KeeperConfig, "seed">> {
  /** Decimal: the 64-bit seed does not fit a JS number. */
  seed: string;
  laravelApiUrl: string;
  statePath?: string | undefined;
  autosaveInterval: number;
  requestTimeout: number;
  qrImageFormat: "png" | "svg";
}

export interface CommandEvent { type: CommandType; sessionId: string; reason: Reason; at: number }
export interface BreakerEvent { from: BreakerState; to: BreakerState; at: number }
export interface SessionEvent { sessionId: string; state: SessionState; reason?: Reason; at: number }
export type OutcomeClass = "success" | "failure" | "throttled" | "rejected";
export interface DeliveryEvent { delivery: Delivery; outcome: DeliveryOutcome; outcomeClass: OutcomeClass }
export interface WarningEvent { sessionId?: string; error: Error }
export interface SavedEvent { at: number }
export interface Removed { removed: string[]; count: number }
/** `meta` of a session (flat, at most 16 keys): goes into its `/qr` and `/status` bodies. */
export type SessionMeta = Record<string, string | number | boolean | null>;

/** A Baileys socket, as far as `attachBaileys` needs it. */
export interface BaileysLikeSocket {
  ev: {
    on(event: "connection.update", listener: (update: any) => void): unknown;
    off(event: "connection.update", listener: (update: any) => void): unknown;
  };
}

export declare class SessionKeeper extends EventEmitter {
  constructor(options: KeeperOptions);
  /** Releases the events held since creation (e.g. the restore's `close`/`reconnect` commands). */
  start(): this;
  /** Starts managing a session. Throws `SessionExists` when it is already held. */
  addSession(sessionId: string, options?: { meta?: SessionMeta }): void;
  /** `addSession` unless the keeper already holds the session (e.g. restored): true when added. */
  ensureSession(sessionId: string, options?: { meta?: SessionMeta }): boolean;
  removeSession(sessionId: string, reason?: string): void;
  connectionUpdate(sessionId: string, update: ConnectionUpdate): void;
  attachBaileys(sessionId: string, sock: BaileysLikeSocket): () => void;
  enqueue(item: { path: string; payload: unknown; key?: string; sessionId?: string }): {
    itemId: number;
    idempotencyKey: string;
  };
  handleBatch(inputs: Input[]): Array<Ack | KeeperError>;
  config(): EffectiveConfig;
  sessions(): SessionsView;
  health(): HealthView;
  hasSession(sessionId: string): boolean;
  qr(sessionId: string): string | undefined;
  cleanupInactiveSessions(options?: { idleForMs?: number }): Removed;
  cleanupPendingSessions(options?: { olderThanMs?: number }): Removed;
  /** The kept dead letters with the bodies their items are sent with, oldest first. */
  deadLetters(): DeadLetterDetail[];
  /** Sends a kept dead letter again, under the idempotency key the backend saw (not a QR: those expire). */
  retryDeadLetter(itemId: number | string): void;
  /** Forgets a kept dead letter. */
  discardDeadLetter(itemId: number | string): void;
  handler(): (req: IncomingMessage, res: ServerResponse, next?: () => void) => Promise<void>;
  tick(): void;
  idle(): Promise<void>;
  save(): Promise<void>;
  /** After it, every method throws `KeeperError` code `Closed`; calling it again returns the same promise. */
  close(): Promise<void>;

  on(event: "command", listener: (e: CommandEvent) => void): this;
  on(event: "breaker", listener: (e: BreakerEvent) => void): this;
  on(event: "session", listener: (e: SessionEvent) => void): this;
  on(event: "deadLetter", listener: (e: DeadLetter) => void): this;
  on(event: "delivery", listener: (e: DeliveryEvent) => void): this;
  on(event: "warning", listener: (e: WarningEvent) => void): this;
  /** After each autosave (keeper time). */
  on(event: "saved", listener: (e: SavedEvent) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;

  once(event: "command", listener: (e: CommandEvent) => void): this;
  once(event: "breaker", listener: (e: BreakerEvent) => void): this;
  once(event: "session", listener: (e: SessionEvent) => void): this;
  once(event: "deadLetter", listener: (e: DeadLetter) => void): this;
  once(event: "delivery", listener: (e: DeliveryEvent) => void): this;
  once(event: "warning", listener: (e: WarningEvent) => void): this;
  once(event: "saved", listener: (e: SavedEvent) => void): this;
  once(event: string | symbol, listener: (...args: any[]) => void): this;
}

export declare function createKeeper(options: KeeperOptions): SessionKeeper;
/** A raw Baileys `connection.update` as the plain data the core reads. */
export declare function normalizeUpdate(update: unknown): ConnectionUpdate;
export declare function qrDataUrl(qr: string, format?: "png" | "svg"): string;
export declare function qrPng(qr: string): Buffer;
export declare function qrSvg(qr: string): string;
/** `sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`, to verify requests on the backend. */
export declare function sign(secret: string, timestamp: string, body: string): string;
/** Every core config key. */
export declare const CONFIG_KEYS: readonly string[];
