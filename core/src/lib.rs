//! # sessionkeeper-core
//!
//! The sans-IO control logic of a WhatsApp gateway: session lifecycle (Baileys semantics),
//! pending-QR expiry, inactive cleanup, reconnect policy, a circuit breaker and a paced,
//! coalescing sync queue toward the backend. No I/O, no clock, no threads; the only randomness
//! comes from `Config::seed`. The same inputs give byte-identical outputs on every target.
//!
//! ## Call contract
//!
//! Time is always an argument: `now` is unix milliseconds as the caller sees it. A `now` earlier
//! than one already seen is treated as the latest seen.
//!
//! 1. `handle(now, input)` feeds something that happened ([`Input`]): a session event, a delivery
//!    result, an operator command, an item for the backend. It returns an [`Ack`] or a
//!    [`KeeperError`] (and then the input changed nothing).
//! 2. After every `handle*`, drain [`Keeper::poll_output`] until `None` and execute each
//!    [`Output`]: deliver a request (then report it with `Input::DeliveryResult`), run a socket
//!    command, record a state change.
//! 3. [`Keeper::poll_timeout`] gives the next deadline (always after the last `now`); sleep until
//!    then and call [`Keeper::handle_timeout`]. Extra calls are harmless.
//! 4. Getters ([`Keeper::sessions`], [`Keeper::health`], [`Keeper::qr`]) are `&self` and cheap.
//! 5. [`Keeper::snapshot`] / [`Keeper::restore`] carry the whole state across a restart; after a
//!    crash, feed `Input::Restarted` so requests that were in flight are sent again.
//!
//! ```
//! use sessionkeeper_core::{Config, DeliveryOutcome, Input, Keeper, Output};
//! let mut k = Keeper::new(Config::default()).unwrap();
//! k.handle(1_000, Input::AddSession { session_id: "alice".into(), meta: None }).unwrap();
//! let update = serde_json::from_str(r#"{"qr":"2@abc"}"#).unwrap();
//! k.handle(2_000, Input::ConnectionUpdate { session_id: "alice".into(), update }).unwrap();
//! let mut sent = Vec::new();
//! while let Some(out) = k.poll_output() {
//!     if let Output::Deliver(d) = out { sent.push(d); }
//! }
//! // The session's `pending` status leaves first: a backend finds the row before the QR.
//! assert_eq!(sent.len(), 1);
//! assert_eq!(sent[0].path, "/status");
//! let ok = DeliveryOutcome::Response { status: 200, retry_after: None };
//! k.handle(2_050, Input::DeliveryResult { delivery_id: sent[0].delivery_id, outcome: ok.clone() }).unwrap();
//! // The QR follows `syncSpacing` (400 ms) after the first dispatch.
//! assert_eq!(k.poll_timeout(), Some(2_400));
//! k.handle_timeout(2_400);
//! match k.poll_output() {
//!     Some(Output::Deliver(d)) => {
//!         assert_eq!(d.path, "/qr");
//!         assert_eq!(d.render_qr.as_deref(), Some("2@abc")); // rendered by the caller, at dispatch
//!     }
//!     other => panic!("{other:?}"),
//! }
//! ```

mod backoff;
mod baileys;
mod breaker;
mod clock;
mod config;
mod error;
mod hash_index;
mod input;
mod keeper;
mod meta;
mod operator;
mod output;
mod prometheus;
mod queue;
mod reasons;
mod retry_after;
mod rng;
mod session;
mod session_id;
mod snapshot;
mod views;

pub use baileys::{
    classify_close, reason, CloseKind, Connection, ConnectionUpdate, DisconnectError, ErrorOutput,
    LastDisconnect, QR_REFS_ENDED,
};
pub use breaker::{BreakerState, BreakerView, OutcomeClass};
pub use config::{Config, ConfigError, ConfigKey, PacingMode};
pub use error::{validate_session_id, KeeperError, MAX_SESSION_ID_LEN};
pub use input::{DeliveryOutcome, Input};
pub use keeper::{
    Ack, Keeper, MAX_KEY_LEN, MAX_PATH_LEN, MAX_PAYLOAD_BYTES, MAX_PAYLOAD_DEPTH, MAX_QR_LEN, MAX_REASON_LEN,
};
pub use meta::{Meta, MAX_META_BYTES, MAX_META_KEYS, MAX_META_KEY_LEN, MAX_META_VALUE_LEN};
pub use operator::{cleanup_input, parse_json_body, Cleanup};
pub use output::{
    Body, BreakerChange, Command, CommandKind, DeadLetter, Delivery, Output, QrBody, SessionChange,
    StatusBody,
};
pub use prometheus::{family_header, process_families, BREAKER_STATES, DELIVERY_OUTCOME_LABELS};
pub use reasons::Reason;
pub use retry_after::parse_retry_after;
pub use session::{BackendStatus, SessionState};
pub use session_id::SessionId;
pub use snapshot::{Snapshot, SNAPSHOT_VERSION};
pub use views::{
    Alert, AlertKind, DeadLetterDetail, HealthStatus, HealthView, PendingView, QueueView, SessionCounters,
    SessionStateCounts, SessionView, SessionsView,
};
