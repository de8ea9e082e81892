//! The gateway control policies under test. Each one sees the same events (sessions added, Baileys
//! `connection.update`s, delivery results, its own timers) and answers with [`Action`]s.

mod breaker;
mod keeper;
mod seed_after;
mod seed_before;

pub use breaker::NaiveBreaker;
pub use keeper::KeeperPolicy;
pub use seed_after::SeedAfter;
pub use seed_before::SeedBefore;

use sessionkeeper_core::{ConnectionUpdate, DeliveryOutcome};

/// What a request carries, as far as the simulator needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// `POST /qr`; `qr` is the simulator's QR string (`q<index>`).
    Qr {
        /// Session.
        session: String,
        /// QR string.
        qr: String,
    },
    /// `POST /status`.
    Status {
        /// Session.
        session: String,
        /// Status value.
        status: String,
    },
}

/// What a policy asks the gateway to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send a request to the backend; report its outcome with `delivery`.
    Post {
        /// Delivery id, echoed in [`PolicyModel::delivery_result`].
        delivery: u64,
        /// Stable identity of the item (retries share it).
        key: String,
        /// What it carries.
        payload: Payload,
    },
    /// Start a new socket for the session.
    Reconnect(String),
    /// End the session's socket and forget the session.
    Close(String),
}

/// Breaker state as plotted: 0 closed, 1 half-open, 2 open.
pub type BreakerLevel = u8;

/// What a policy shows at a sampling instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Probe {
    /// Items waiting to be sent.
    pub queue_depth: u64,
    /// 0 closed, 1 half-open, 2 open.
    pub breaker: BreakerLevel,
    /// Sessions held in memory.
    pub sessions_held: u64,
}

/// The policy's own books, read at the end of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Books {
    /// CLOSED -> OPEN transitions.
    pub breaker_opens: u64,
    /// HALF_OPEN -> OPEN transitions (a failed probe).
    pub breaker_reopens: u64,
    /// QRs replaced in the queue by a newer QR of the same session (latest wins).
    pub qr_superseded: u64,
    /// Statuses the policy gave up on (dropped while OPEN, retries exhausted, dead-lettered).
    pub status_dropped: u64,
    /// QRs the policy gave up on or refused.
    pub qr_dropped: u64,
    /// Items (QRs and statuses) still queued or in flight at the end (not lost, not delivered yet).
    pub items_outstanding: u64,
}

/// A gateway control policy.
pub trait PolicyModel {
    /// Its name in reports.
    fn name(&self) -> String;
    /// A session was created (the gateway starts its socket right after).
    fn add_session(&mut self, now: u64, session: &str);
    /// A Baileys `connection.update` for a session.
    fn connection_update(&mut self, now: u64, session: &str, update: &ConnectionUpdate);
    /// The outcome of a `Post`.
    fn delivery_result(&mut self, now: u64, delivery: u64, outcome: &DeliveryOutcome);
    /// Fires the policy's timers due by `now`.
    fn handle_timeout(&mut self, now: u64);
    /// The next timer.
    fn poll_timeout(&self) -> Option<u64>;
    /// The next action (drain until `None` after every call).
    fn poll_action(&mut self) -> Option<Action>;
    /// Breaker transitions since the last call: (at, from-level, to-level).
    fn take_breaker_changes(&mut self) -> Vec<(u64, BreakerLevel, BreakerLevel)>;
    /// Current figures for the time series.
    fn probe(&self) -> Probe;
    /// The policy's books.
    fn books(&self) -> Books;
}

/// Parses the simulator's QR string `q<index>`.
pub fn qr_index(qr: &str) -> Option<usize> {
    qr.strip_prefix('q')?.parse().ok()
}
