//! `seed-after`: the seed gateway with its v2.2 fixes, exactly and nothing more.
//!
//! - a FIFO queue drained by a 400 ms interval: one request per tick (2.5 requests/s at most), sent
//!   without waiting for the previous answer; no coalescing, no per-session order, no priority;
//! - a failed request goes back to the tail of the queue, at most 3 attempts, then it is dropped;
//! - the classic breaker with 20 failures / 180 s; a tick that finds it OPEN takes the head item
//!   and drops it ("Circuit breaker is OPEN"): the queue does not hold while OPEN;
//! - pending sessions (QR shown, not connected) older than 120 s are removed by a sweep every
//!   30 s (told `expired`); sessions not connected and idle for 30 min are removed by a sweep
//!   every 30 min (told `removed`);
//! - reconnects as before: every close but 401 reconnects at once.

use std::collections::{BTreeMap, VecDeque};

use sessionkeeper_core::{classify_close, CloseKind, Connection, ConnectionUpdate, DeliveryOutcome};

use super::breaker::NaiveBreaker;
use super::seed_before::status;
use super::{Action, Books, BreakerLevel, Payload, PolicyModel, Probe};

const TICK_MS: u64 = 400;
const ATTEMPTS: u32 = 3;
const PENDING_TIMEOUT_MS: u64 = 120_000;
const PENDING_SWEEP_MS: u64 = 30_000;
const INACTIVE_TIMEOUT_MS: u64 = 1_800_000;
const INACTIVE_SWEEP_MS: u64 = 1_800_000;

#[derive(Debug, Clone)]
struct Item {
    key: String,
    payload: Payload,
    attempts: u32,
}

#[derive(Debug, Clone, Copy)]
struct SeedSession {
    connected: bool,
    pending_since: Option<u64>,
    last_activity: u64,
}

/// The seed after its v2.2 fixes.
#[derive(Debug)]
pub struct SeedAfter {
    sessions: BTreeMap<String, SeedSession>,
    breaker: NaiveBreaker,
    queue: VecDeque<Item>,
    flights: BTreeMap<u64, Item>,
    actions: VecDeque<Action>,
    next_delivery: u64,
    next_key: u64,
    next_pending_sweep: u64,
    next_inactive_sweep: u64,
    status_dropped: u64,
    qr_dropped: u64,
    now: u64,
}

impl Default for SeedAfter {
    fn default() -> Self {
        Self::new()
    }
}

impl SeedAfter {
    /// A fresh gateway.
    pub fn new() -> Self {
        Self {
            sessions: BTreeMap::new(),
            breaker: NaiveBreaker::new(20, 180_000),
            queue: VecDeque::new(),
            flights: BTreeMap::new(),
            actions: VecDeque::new(),
            next_delivery: 1,
            next_key: 1,
            next_pending_sweep: PENDING_SWEEP_MS,
            next_inactive_sweep: INACTIVE_SWEEP_MS,
            status_dropped: 0,
            qr_dropped: 0,
            now: 0,
        }
    }

    fn enqueue(&mut self, payload: Payload) {
        let key = format!("a{}", self.next_key);
        self.next_key += 1;
        self.queue.push_back(Item { key, payload, attempts: 0 });
    }

    fn drop_item(&mut self, item: &Item) {
        match item.payload {
            Payload::Qr { .. } => self.qr_dropped += 1,
            Payload::Status { .. } => self.status_dropped += 1,
        }
    }

    fn remove(&mut self, session: &str, final_status: &str) {
        self.sessions.remove(session);
        self.actions.push_back(Action::Close(session.to_owned()));
        self.enqueue(status(session, final_status));
    }

    /// The interval tick: one item leaves (or is burned by the OPEN breaker).
    fn tick(&mut self, now: u64) {
        let Some(mut item) = self.queue.pop_front() else { return };
        if !self.breaker.allow(now) {
            self.drop_item(&item);
            return;
        }
        item.attempts += 1;
        let delivery = self.next_delivery;
        self.next_delivery += 1;
        self.actions.push_back(Action::Post {
            delivery,
            key: item.key.clone(),
            payload: item.payload.clone(),
        });
        self.flights.insert(delivery, item);
    }

    fn sweep_pending(&mut self, now: u64) {
        let old: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.pending_since.is_some_and(|t| now.saturating_sub(t) > PENDING_TIMEOUT_MS))
            .map(|(id, _)| id.clone())
            .collect();
        for id in old {
            self.remove(&id, "expired");
        }
    }

    fn sweep_inactive(&mut self, now: u64) {
        let idle: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| {
                !s.connected
                    && s.pending_since.is_none()
                    && now.saturating_sub(s.last_activity) > INACTIVE_TIMEOUT_MS
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in idle {
            self.remove(&id, "removed");
        }
    }

    fn next_tick(&self) -> u64 {
        (self.now / TICK_MS + 1) * TICK_MS
    }
}

impl PolicyModel for SeedAfter {
    fn name(&self) -> String {
        "seed-after".into()
    }

    fn add_session(&mut self, now: u64, session: &str) {
        self.now = now;
        self.sessions.insert(
            session.to_owned(),
            SeedSession { connected: false, pending_since: None, last_activity: now },
        );
    }

    fn connection_update(&mut self, now: u64, session: &str, update: &ConnectionUpdate) {
        self.now = now;
        let Some(s) = self.sessions.get_mut(session) else { return };
        s.last_activity = now;
        if let Some(qr) = &update.qr {
            if !s.connected && s.pending_since.is_none() {
                s.pending_since = Some(now);
            }
            self.enqueue(Payload::Qr { session: session.to_owned(), qr: qr.clone() });
        }
        let Some(s) = self.sessions.get_mut(session) else { return };
        match update.connection {
            Some(Connection::Open) => {
                s.connected = true;
                s.pending_since = None;
                self.enqueue(status(session, "connected"));
            }
            Some(Connection::Close) => {
                let kind = classify_close(update.status_code(), update.error_message());
                if kind == CloseKind::LoggedOut {
                    self.remove(session, "logged_out");
                    return;
                }
                if s.connected {
                    s.connected = false;
                    self.enqueue(status(session, "disconnected"));
                }
                self.actions.push_back(Action::Reconnect(session.to_owned()));
            }
            _ => {}
        }
    }

    fn delivery_result(&mut self, now: u64, delivery: u64, outcome: &DeliveryOutcome) {
        self.now = now;
        let Some(item) = self.flights.remove(&delivery) else { return };
        let ok = matches!(outcome, DeliveryOutcome::Response { status: 200..=299, .. });
        self.breaker.record(now, ok);
        if ok {
            return;
        }
        if item.attempts < ATTEMPTS {
            self.queue.push_back(item);
        } else {
            self.drop_item(&item);
        }
    }

    fn handle_timeout(&mut self, now: u64) {
        self.now = now;
        if now >= self.next_pending_sweep {
            self.sweep_pending(now);
            self.next_pending_sweep = (now / PENDING_SWEEP_MS + 1) * PENDING_SWEEP_MS;
        }
        if now >= self.next_inactive_sweep {
            self.sweep_inactive(now);
            self.next_inactive_sweep = (now / INACTIVE_SWEEP_MS + 1) * INACTIVE_SWEEP_MS;
        }
        if now.is_multiple_of(TICK_MS) {
            self.tick(now);
        }
    }

    fn poll_timeout(&self) -> Option<u64> {
        let last = self.next_pending_sweep.min(self.next_inactive_sweep);
        let tick = (!self.queue.is_empty()).then(|| self.next_tick());
        Some(tick.map_or(last, |t| t.min(last)))
    }

    fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn take_breaker_changes(&mut self) -> Vec<(u64, BreakerLevel, BreakerLevel)> {
        self.breaker.take_changes()
    }

    fn probe(&self) -> Probe {
        Probe {
            queue_depth: self.queue.len() as u64,
            breaker: self.breaker.level(),
            sessions_held: self.sessions.len() as u64,
        }
    }

    fn books(&self) -> Books {
        self.breaker.books(
            self.status_dropped,
            self.qr_dropped,
            (self.queue.len() + self.flights.len()) as u64,
        )
    }
}
