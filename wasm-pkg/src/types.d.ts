// TypeScript types of the values crossing the boundary (the serde shapes of sessionkeeper-core).

/** Every tunable of the keeper; durations in milliseconds. Missing keys take defaults. */
export interface KeeperConfig {
  // config-keys:start (generated from the core: cargo run -p sessionkeeper-tests --example config_docs)
  /** Consecutive backend failures that open the breaker (seed: 20). Default `20`. */
  circuitBreakerThreshold?: number;
  /** How long the breaker stays OPEN after its first trip (seed: 180 000). Default `180000`. */
  circuitBreakerResetTimeout?: number;
  /** Upper bound of the OPEN duration, which doubles with each trip in a row. Default `1800000`. */
  circuitBreakerMaxResetTimeout?: number;
  /** Requests let through as probes while HALF_OPEN. Default `1`. */
  circuitBreakerHalfOpenProbes?: number;
  /** Failure rate in percent that also trips the breaker (0 disables the rate rule). Default `0`. */
  circuitBreakerFailureRate?: number;
  /** Window of the failure-rate rule. Default `60000`. */
  circuitBreakerFailureWindow?: number;
  /** Outcomes needed in the window before the rate rule may trip. Default `20`. */
  circuitBreakerMinimumVolume?: number;
  /** A pending session (QR shown, not scanned) expires after this long (seed: 120 000). Default `120000`. */
  pendingSessionTimeout?: number;
  /** The seed's sweep interval, accepted so seed configs load; unused, since pending sessions expire by exact timers. Default `30000`. */
  pendingSessionCleanupInterval?: number;
  /** A session not connected for this long is removed (seed: 1 800 000). Default `1800000`. */
  inactiveSessionTimeout?: number;
  /** Minimum gap between two dispatches in fixed pacing (seed: 400). Default `400`. */
  syncSpacing?: number;
  /** Maximum requests in flight to the backend at once. Default `4`. */
  maxConcurrentMessages?: number;
  /** QRs per pending episode; the next one expires the session. Default `6`. */
  maxQrCodes?: number;
  /** Fixed or adaptive pacing. Default `fixed`. */
  pacing?: "fixed" | "adaptive";
  /** Smallest spacing adaptive pacing may reach. Default `10`. */
  adaptiveMinSpacing?: number;
  /** Latency above which adaptive pacing backs off. Default `1000`. */
  adaptiveLatencyTarget?: number;
  /** Items held in the queue at most (in flight excluded): a custom call over it is refused (QueueFull); a status over it replaces the same session's newest waiting status (counted as superseded), so the queue exceeds it by at most two items per session. Default `10000`. */
  maxQueueSize?: number;
  /** Delivery attempts before an item is dead-lettered. Default `10`. */
  maxAttempts?: number;
  /** Age after which a failing item is dead-lettered instead of retried. Default `86400000`. */
  maxItemAge?: number;
  /** First retry delay of a failed delivery; doubles per attempt. Default `1000`. */
  retryBaseDelay?: number;
  /** Cap of the retry delay. Default `60000`. */
  retryMaxDelay?: number;
  /** Cap applied to a backend's Retry-After. Default `300000`. */
  retryAfterCap?: number;
  /** Pause after a 429/503 that carried no usable Retry-After. Default `1000`. */
  throttleDefaultPause?: number;
  /** A dispatched request that has not reported after this long counts as a timeout. Default `60000`. */
  deliveryLeaseTimeout?: number;
  /** Dead letters kept for inspection (older ones are forgotten, still counted). Default `1000`. */
  deadLetterLimit?: number;
  /** First reconnect delay after a transient close; doubles per attempt. Default `1000`. */
  reconnectBaseDelay?: number;
  /** Cap of the reconnect delay. Default `60000`. */
  reconnectMaxDelay?: number;
  /** Sessions allowed to be reconnecting at once (no storm after a network blip). Default `10`. */
  maxConcurrentReconnects?: number;
  /** A reconnect slot is given back after this long even if the socket never reports. Default `30000`. */
  reconnectSlotTimeout?: number;
  /** 440 (connection replaced) closes within `connectionReplacedWindow` that count as a loop. Default `3`. */
  connectionReplacedLimit?: number;
  /** Window of the 440 loop detection. Default `300000`. */
  connectionReplacedWindow?: number;
  /** `health` raises an alert when more sessions than this are pending. Default `20`. */
  pendingAlertThreshold?: number;
  /** `health` raises an alert when the breaker has been OPEN longer than this. Default `300000`. */
  breakerOpenAlertAfter?: number;
  /** Seed of the jitter generator (the only randomness in the core). Default `6797357792327761921`. */
  seed?: number;
  // config-keys:end
}

/** A Baileys `connection.update` (partial; other fields are ignored). No index signatures: Baileys'
 * own `Partial<ConnectionState>` (its error is `Boom | Error`, which have none) must be accepted as is. */
export interface ConnectionUpdate {
  connection?: "connecting" | "open" | "close" | undefined;
  qr?: string | undefined;
  isNewLogin?: boolean | undefined;
  lastDisconnect?: {
    /** A Boom (`output.statusCode` is Baileys' DisconnectReason) or a plain Error. */
    error?: { message?: string | undefined; output?: { statusCode?: number | undefined } | undefined } | undefined;
    date?: Date | number | string | undefined;
  } | undefined;
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
  | { type: "restarted" }
  | { type: "retryDeadLetter"; itemId: number }
  | { type: "discardDeadLetter"; itemId: number };

/** What `handle` answers. */
export type Ack =
  | { type: "accepted" }
  | { type: "removed"; removed: string[]; count: number }
  | { type: "enqueued"; itemId: number; idempotencyKey: string };

// enums:start (generated from the core: cargo run -p sessionkeeper-tests --example config_docs)
/** Every reason the core gives by itself (`closed (<code>)` carries the Baileys code). */
export type KnownReason =
  | "closed (no code)"
  | "logged_out"
  | "connection_replaced_loop"
  | "inactive"
  | "pending_timeout"
  | "max_qr_codes"
  | "qr_refs_ended"
  | "pending_cleanup"
  | "removed_by_operator"
  | "restart_required"
  | "backoff"
  | `closed (${number})`;
/** Why a session was closed, removed or reconnected: a `KnownReason`, or an operator's own words
 * (`removeSession(id, reason)`). */
export type Reason = KnownReason | (string & {});
/** A session's lifecycle state. */
export type SessionState =
  | "new"
  | "connecting"
  | "pending"
  | "scanned"
  | "connected"
  | "reconnecting"
  | "removed";
/** The circuit breaker's state. */
export type BreakerState =
  | "CLOSED"
  | "OPEN"
  | "HALF_OPEN";
/** What a `command` asks the gateway to do with a socket. */
export type CommandType =
  | "close"
  | "reconnect";
/** The `code` of an error the core refused an input with. */
export type CoreErrorCode =
  | "UnknownSession"
  | "SessionExists"
  | "InvalidSessionId"
  | "QueueFull"
  | "InvalidItem"
  | "InvalidBody"
  | "Config"
  | "Snapshot"
  | "Closed"
  | "UnknownDeadLetter";
// enums:end

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
export interface Command { command: CommandType; sessionId: string; reason: Reason; at: number }
export interface SessionChange { sessionId: string; state: SessionState; reason?: Reason; at: number }
export interface BreakerChange { from: BreakerState; to: BreakerState; at: number }
export interface DeadLetter {
  itemId: number; idempotencyKey: string; path: string; sessionId?: string;
  reason: string; attempts: number; at: number;
}
/** A kept dead letter with the body its item is sent with (`deadLetters()`, `GET /dead-letters`). */
export interface DeadLetterDetail extends DeadLetter { body: unknown }

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
  depth: number; inFlight: number; heldQrs: number; accepted: number; delivered: number; superseded: number;
  deadLettered: number; purged: number; purgedBy: Record<string, number>; retries: number;
  throttled: number; unknownResults: number; capacity: number;
  spacingMs: number; pausedUntil?: number; conservationOk: boolean; deadLetters: DeadLetter[];
  deadLettersKept: number; deadLettersRetried: number; deadLettersDiscarded: number;
}
export interface SessionCounters {
  added: number; removed: number; expired: number; inactiveRemoved: number;
  qrAccepted: number; reconnectsIssued: number;
  reconnectsDeferred: number; replacedLoops: number;
}
export interface Alert { kind: string; message: string }
export interface HealthView {
  status: "ok" | "degraded"; activeSessions: number;
  sessionsByState: Record<Exclude<SessionState, "removed">, number>;
  connectedSessions: number; pendingCount: number;
  reconnectingSessions: number; reconnectSlotsInUse: number; circuitBreaker: BreakerView;
  queue: QueueView; counters: SessionCounters; alerts: Alert[]; now: number;
}

/** Every `KeeperError` code: the core's, plus the edges' own (`InvalidInput`: an argument of the
 * wrong shape; `Locked`: another live keeper holds the `statePath`). */
export type KeeperErrorCode = CoreErrorCode | "InvalidInput" | "Locked";
/** An error thrown by the wasm keeper: `name === "KeeperError"`, `code` names the cause,
 * `status` is the HTTP status both edges answer it with. */
export interface KeeperError extends Error { name: "KeeperError"; code: KeeperErrorCode; status?: number }
