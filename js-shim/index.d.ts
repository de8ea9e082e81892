// Types of the `sessionkeeper` package. The boundary types (Input, Output, views, config) are
// generated from the Rust binding into ./wasm/sessionkeeper_wasm.d.ts.
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
  Delivery,
  DeliveryOutcome,
  DeadLetter,
  KeeperError,
  KeeperErrorCode,
} from "./wasm/sessionkeeper_wasm";

export type {
  KeeperConfig, ConnectionUpdate, Input, Ack, SessionsView, HealthView, BreakerState, SessionState,
  Delivery, DeliveryOutcome, DeadLetter, KeeperError, KeeperErrorCode,
};

/** `createKeeper` options: the core's config keys plus the shim's own. */
export interface KeeperOptions extends KeeperConfig {
  /** Backend base URL; requests go to `POST {laravelApiUrl}{path}`. Required. */
  laravelApiUrl: string;
  /** Sent as `Authorization: Bearer <token>`. */
  laravelApiToken?: string;
  /** JSON file the state is saved to (autosave, `close()`, `save()`) and restored from on start. */
  statePath?: string;
  /** With `statePath`: save at most this long (ms, default 5000) after the state changes; 0 saves only on `close()` / `save()`. */
  autosaveInterval?: number;
  /** Defaults to the global `fetch`. */
  fetch?: typeof fetch;
  /** Per-request timeout (ms, default 10000): a timeout is reported to the core as such. */
  requestTimeout?: number;
  /** When set, requests carry `X-Timestamp` and `X-Signature: sha256=<HMAC(timestamp.body)>`. */
  signingSecret?: string;
  /** When set, `handler()` requires `Authorization: Bearer <apiKey>` or `x-api-key` (not on /health). */
  apiKey?: string;
  /** Format of `body.qrImage` data URLs (default `png`, as the host and the seed send). */
  qrImageFormat?: "png" | "svg";
  /** The clock (unix ms); defaults to `Date.now`. For tests. */
  now?: () => number;
  /** Accepted and ignored (the seed's config files carry it). */
  port?: number;
}

export interface CommandEvent { type: "close" | "reconnect"; sessionId: string; reason: string; at: number }
export interface BreakerEvent { from: BreakerState; to: BreakerState; at: number }
export interface SessionEvent { sessionId: string; state: SessionState; reason?: string; at: number }
export interface DeliveryEvent { delivery: Delivery; outcome: DeliveryOutcome; outcomeClass: "success" | "failure" | "throttled" | "rejected" }
export interface WarningEvent { sessionId?: string; error: Error }
export interface Removed { removed: string[]; count: number }

/** A Baileys socket, as far as `attachBaileys` needs it. */
export interface BaileysLikeSocket {
  ev: {
    on(event: "connection.update", listener: (update: any) => void): unknown;
    off(event: "connection.update", listener: (update: any) => void): unknown;
  };
}

export declare class SessionKeeper extends EventEmitter {
  constructor(options: KeeperOptions);
  /** Starts managing a session; `meta` (flat, at most 16 keys) goes into its `/qr` and `/status` bodies. */
  addSession(sessionId: string, options?: { meta?: Record<string, string | number | boolean | null> }): void;
  removeSession(sessionId: string, reason?: string): void;
  connectionUpdate(sessionId: string, update: ConnectionUpdate): void;
  attachBaileys(sessionId: string, sock: BaileysLikeSocket): () => void;
  enqueue(item: { path: string; payload: unknown; key?: string; sessionId?: string }): {
    itemId: number;
    idempotencyKey: string;
  };
  handleBatch(inputs: Input[]): Array<Ack | KeeperError>;
  sessions(): SessionsView;
  health(): HealthView;
  hasSession(sessionId: string): boolean;
  qr(sessionId: string): string | undefined;
  cleanupInactiveSessions(options?: { idleForMs?: number }): Removed;
  cleanupPendingSessions(options?: { olderThanMs?: number }): Removed;
  handler(): (req: IncomingMessage, res: ServerResponse, next?: () => void) => Promise<void>;
  tick(): void;
  idle(): Promise<void>;
  save(): Promise<void>;
  close(): Promise<void>;

  on(event: "command", listener: (e: CommandEvent) => void): this;
  on(event: "breaker", listener: (e: BreakerEvent) => void): this;
  on(event: "session", listener: (e: SessionEvent) => void): this;
  on(event: "deadLetter", listener: (e: DeadLetter) => void): this;
  on(event: "delivery", listener: (e: DeliveryEvent) => void): this;
  on(event: "warning", listener: (e: WarningEvent) => void): this;
  /** After each autosave (keeper time). */
  on(event: "saved", listener: (e: { at: number }) => void): this;
  on(event: string | symbol, listener: (...args: any[]) => void): this;
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
