// TypeScript types of the values crossing the boundary (the serde shapes of sessionkeeper-core).

/** Every tunable of the keeper; durations in milliseconds. Missing keys take defaults. */
export interface KeeperConfig {
  circuitBreakerThreshold?: number;
  circuitBreakerResetTimeout?: number;
  circuitBreakerMaxResetTimeout?: number;
  circuitBreakerHalfOpenProbes?: number;
  circuitBreakerFailureRate?: number;
  circuitBreakerFailureWindow?: number;
  circuitBreakerMinimumVolume?: number;
  pendingSessionTimeout?: number;
  pendingSessionCleanupInterval?: number;
  inactiveSessionTimeout?: number;
  syncSpacing?: number;
  maxConcurrentMessages?: number;
  maxQrCodes?: number;
  pacing?: "fixed" | "adaptive";
  adaptiveMinSpacing?: number;
  adaptiveLatencyTarget?: number;
  maxQueueSize?: number;
  maxAttempts?: number;
  maxItemAge?: number;
  retryBaseDelay?: number;
  retryMaxDelay?: number;
  retryAfterCap?: number;
  throttleDefaultPause?: number;
  deliveryLeaseTimeout?: number;
  deadLetterLimit?: number;
  reconnectBaseDelay?: number;
  reconnectMaxDelay?: number;
  maxConcurrentReconnects?: number;
  reconnectSlotTimeout?: number;
  connectionReplacedLimit?: number;
  connectionReplacedWindow?: number;
  pendingAlertThreshold?: number;
  breakerOpenAlertAfter?: number;
  seed?: number;
}

/** A Baileys `connection.update` (partial; extra fields are ignored). */
export interface ConnectionUpdate {
  connection?: "connecting" | "open" | "close";
  qr?: string;
  isNewLogin?: boolean;
  lastDisconnect?: {
    error?: { message?: string; output?: { statusCode?: number; [k: string]: unknown }; [k: string]: unknown };
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

/** What the backend did with a delivery. */
export type DeliveryOutcome =
  | { kind: "response"; status: number; retryAfter?: string }
  | { kind: "timeout" }
  | { kind: "networkError"; message: string };

/** One thing that happened. */
export type Input =
  | { type: "addSession"; sessionId: string }
  | { type: "removeSession"; sessionId: string; reason?: string }
  | { type: "connectionUpdate"; sessionId: string; update: ConnectionUpdate }
  | { type: "deliveryResult"; deliveryId: number; outcome: DeliveryOutcome }
  | { type: "enqueue"; path: string; payload: unknown; key?: string; sessionId?: string }
  | { type: "cleanupInactive"; idleForMs?: number }
  | { type: "cleanupPending"; olderThanMs?: number }
  | { type: "restarted" };

/** What `handle` answers. */
export type Ack =
  | { type: "accepted" }
  | { type: "removed"; removed: string[]; count: number }
  | { type: "enqueued"; itemId: number; idempotencyKey: string };

export type BreakerState = "CLOSED" | "OPEN" | "HALF_OPEN";
export type SessionState =
  | "new" | "connecting" | "pending" | "scanned" | "connected" | "reconnecting" | "removed";

export interface Delivery {
  deliveryId: number;
  itemId: number;
  idempotencyKey: string;
  path: string;
  body: any;
  /** Render this QR as an image data URL into `body.qrImage` before sending. */
  renderQr?: string;
  attempt: number;
  sessionId?: string;
}
/** A socket command as the core emits it inside `Output` (the shim's `'command'` event renames
 * `command` to `type`). */
export interface Command { command: "close" | "reconnect"; sessionId: string; reason: string; at: number }
export interface SessionChange { sessionId: string; state: SessionState; reason?: string; at: number }
export interface BreakerChange { from: BreakerState; to: BreakerState; at: number }
export interface DeadLetter {
  itemId: number; idempotencyKey: string; path: string; sessionId?: string;
  reason: string; attempts: number; at: number;
}

/** Something the caller must do now. */
export type Output =
  | ({ type: "deliver" } & Delivery)
  | ({ type: "command" } & Command)
  | ({ type: "sessionChanged" } & SessionChange)
  | ({ type: "breakerChanged" } & BreakerChange)
  | ({ type: "deadLettered" } & DeadLetter);

export interface SessionView {
  sessionId: string; state: SessionState; createdAt: number; lastEventAt: number;
  notConnectedSince?: number; inactiveAt?: number; reconnectAttempt: number; reconnectAt?: number;
  lastDisconnectCode?: number; hasQr: boolean;
}
export interface PendingView { sessionId: string; since: number; ageMs: number; qrCount: number; expiresAt: number }
export interface SessionsView { sessions: SessionView[]; pendingSessions: PendingView[]; pendingCount: number }

export interface BreakerView {
  state: BreakerState; consecutiveFailures: number; openedAt: number | null; openForMs: number | null;
  nextAttemptAt: number | null; probesInFlight: number; trips: number; tripStreak: number;
  transitions: number; staleResults: number; generation: number;
}
export interface QueueView {
  depth: number; inFlight: number; accepted: number; delivered: number; superseded: number;
  deadLettered: number; purged: number; purgedBy: Record<string, number>; retries: number;
  throttled: number; unknownResults: number; rejectedFull: number; capacity: number;
  spacingMs: number; pausedUntil?: number; conservationOk: boolean; deadLetters: DeadLetter[];
}
export interface SessionCounters {
  added: number; removed: number; expired: number; inactiveRemoved: number;
  qrDroppedUnknownSession: number; qrAccepted: number; reconnectsIssued: number;
  reconnectsDeferred: number; replacedLoops: number;
}
export interface Alert { kind: string; message: string }
export interface HealthView {
  status: "ok" | "degraded"; activeSessions: number; connectedSessions: number; pendingCount: number;
  reconnectingSessions: number; reconnectSlotsInUse: number; circuitBreaker: BreakerView;
  queue: QueueView; counters: SessionCounters; alerts: Alert[]; now: number;
}

/** Errors thrown by the keeper: `name === "KeeperError"`, `code` names the cause. */
export type KeeperErrorCode =
  | "UnknownSession" | "SessionExists" | "InvalidSessionId" | "QueueFull" | "InvalidItem"
  | "Config" | "Snapshot" | "InvalidInput";
export interface KeeperError extends Error { name: "KeeperError"; code: KeeperErrorCode }
