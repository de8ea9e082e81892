//! `seed-before`: the seed gateway before its v2.2 fixes.
//!
//! - every QR and status is POSTed directly when it happens (no queue, no pacing);
//! - a failed request (timeout, network error, any non-2xx, 429 included) is retried at once, up
//!   to 3 retries, each attempt counted by the breaker;
//! - the classic breaker with 10 failures / 120 s; a request refused by the OPEN breaker is lost;
//! - no pending expiry and no inactive cleanup: every close but 401 reconnects at once, including
//!   408 "QR refs attempts ended", so a never-scanned session shows QRs forever (and they are
//!   posted: "QRs for inactive sessions").

use std::collections::{BTreeMap, VecDeque};

use sessionkeeper_core::{classify_close, CloseKind, Connection, ConnectionUpdate, DeliveryOutcome};

use super::breaker::NaiveBreaker;
use super::{Action, Books, BreakerLevel, Payload, PolicyModel, Probe};

/// Attempts per request: the first plus 3 immediate retries.
const ATTEMPTS: u32 = 4;

#[derive(Debug, Clone)]
struct Flight {
    key: String,
    payload: Payload,
    attempt: u32,
}

/// The seed before its fixes.
#[derive(Debug)]
pub struct SeedBefore {
    sessions: BTreeMap<String, bool>,
    breaker: NaiveBreaker,
    flights: BTreeMap<u64, Flight>,
    actions: VecDeque<Action>,
    next_delivery: u64,
    next_key: u64,
    status_dropped: u64,
    qr_dropped: u64,
}

impl Default for SeedBefore {
    fn default() -> Self {
        Self::new()
    }
}

impl SeedBefore {
    /// A fresh gateway.
    pub fn new() -> Self {
        Self {
            sessions: BTreeMap::new(),
            breaker: NaiveBreaker::new(10, 120_000),
            flights: BTreeMap::new(),
            actions: VecDeque::new(),
            next_delivery: 1,
            next_key: 1,
            status_dropped: 0,
            qr_dropped: 0,
        }
    }

    fn post(&mut self, now: u64, payload: Payload) {
        let key = format!("b{}", self.next_key);
        self.next_key += 1;
        self.attempt(now, key, payload, 1);
    }

    fn attempt(&mut self, now: u64, key: String, payload: Payload, attempt: u32) {
        if !self.breaker.allow(now) {
            // "Circuit breaker is OPEN": the caller logs it and moves on.
            match payload {
                Payload::Qr { .. } => self.qr_dropped += 1,
                Payload::Status { .. } => self.status_dropped += 1,
            }
            return;
        }
        let delivery = self.next_delivery;
        self.next_delivery += 1;
        self.actions.push_back(Action::Post { delivery, key: key.clone(), payload: payload.clone() });
        self.flights.insert(delivery, Flight { key, payload, attempt });
    }
}

/// A status payload.
pub(crate) fn status(session: &str, status: &str) -> Payload {
    Payload::Status { session: session.to_owned(), status: status.to_owned() }
}

impl PolicyModel for SeedBefore {
    fn name(&self) -> String {
        "seed-before".into()
    }

    fn add_session(&mut self, _now: u64, session: &str) {
        self.sessions.insert(session.to_owned(), false);
    }

    fn connection_update(&mut self, now: u64, session: &str, update: &ConnectionUpdate) {
        let Some(connected) = self.sessions.get(session).copied() else { return };
        if let Some(qr) = &update.qr {
            self.post(now, Payload::Qr { session: session.to_owned(), qr: qr.clone() });
        }
        match update.connection {
            Some(Connection::Open) => {
                self.sessions.insert(session.to_owned(), true);
                self.post(now, status(session, "connected"));
            }
            Some(Connection::Close) => {
                let kind = classify_close(update.status_code(), update.error_message());
                if kind == CloseKind::LoggedOut {
                    self.sessions.remove(session);
                    self.actions.push_back(Action::Close(session.to_owned()));
                    self.post(now, status(session, "logged_out"));
                    return;
                }
                if connected {
                    self.sessions.insert(session.to_owned(), false);
                    self.post(now, status(session, "disconnected"));
                }
                self.actions.push_back(Action::Reconnect(session.to_owned()));
            }
            _ => {}
        }
    }

    fn delivery_result(&mut self, now: u64, delivery: u64, outcome: &DeliveryOutcome) {
        let Some(flight) = self.flights.remove(&delivery) else { return };
        let ok = matches!(outcome, DeliveryOutcome::Response { status: 200..=299, .. });
        self.breaker.record(now, ok);
        if ok {
            return;
        }
        if flight.attempt < ATTEMPTS {
            self.attempt(now, flight.key, flight.payload, flight.attempt + 1);
        } else {
            match flight.payload {
                Payload::Qr { .. } => self.qr_dropped += 1,
                Payload::Status { .. } => self.status_dropped += 1,
            }
        }
    }

    fn handle_timeout(&mut self, _now: u64) {}

    fn poll_timeout(&self) -> Option<u64> {
        None
    }

    fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn take_breaker_changes(&mut self) -> Vec<(u64, BreakerLevel, BreakerLevel)> {
        self.breaker.take_changes()
    }

    fn probe(&self) -> Probe {
        Probe { queue_depth: 0, breaker: self.breaker.level(), sessions_held: self.sessions.len() as u64 }
    }

    fn books(&self) -> Books {
        self.breaker.books(self.status_dropped, self.qr_dropped, self.flights.len() as u64)
    }
}
