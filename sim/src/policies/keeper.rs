//! `sessionkeeper`: the real `sessionkeeper_core::Keeper` with its defaults, driven in virtual
//! time exactly as a host drives it (handle, drain `poll_output`, `poll_timeout`,
//! `handle_timeout`).

use std::collections::VecDeque;

use sessionkeeper_core::{
    Body, BreakerState, CommandKind, Config, ConnectionUpdate, DeliveryOutcome, Input, Keeper, Output,
    PacingMode, QrBody, SessionState, StatusBody,
};

use super::{qr_index, Action, Books, BreakerLevel, Payload, PolicyModel, Probe};
use crate::error::SimError;

/// The keeper as a policy.
#[derive(Debug)]
pub struct KeeperPolicy {
    keeper: Keeper,
    name: String,
    actions: VecDeque<Action>,
    changes: Vec<(u64, BreakerLevel, BreakerLevel)>,
    opens: u64,
    reopens: u64,
    held: u64,
    status_dropped: u64,
    qr_dropped: u64,
    refused: u64,
}

fn level(state: BreakerState) -> BreakerLevel {
    match state {
        BreakerState::Closed => 0,
        BreakerState::HalfOpen => 1,
        BreakerState::Open => 2,
    }
}

impl KeeperPolicy {
    /// The keeper with `Config::default()` and the given pacing.
    pub fn new(pacing: PacingMode) -> Result<Self, SimError> {
        let config = Config { pacing, ..Config::default() };
        let name = match pacing {
            PacingMode::Fixed => "sessionkeeper",
            PacingMode::Adaptive => "sessionkeeper-adaptive",
        };
        Ok(Self {
            keeper: Keeper::new(config).map_err(|e| SimError::Core(e.to_string()))?,
            name: name.into(),
            actions: VecDeque::new(),
            changes: Vec::new(),
            opens: 0,
            reopens: 0,
            held: 0,
            status_dropped: 0,
            qr_dropped: 0,
            refused: 0,
        })
    }

    /// Inputs the keeper refused (unknown session, queue full); a refused QR is never delivered.
    pub fn refused(&self) -> u64 {
        self.refused
    }

    fn feed(&mut self, now: u64, input: Input) {
        let is_qr = matches!(&input, Input::ConnectionUpdate { update, .. } if update.qr.is_some());
        if self.keeper.handle(now, input).is_err() {
            self.refused += 1;
            if is_qr {
                self.qr_dropped += 1;
            }
        }
        self.drain();
    }

    fn drain(&mut self) {
        while let Some(out) = self.keeper.poll_output() {
            match out {
                Output::Deliver(d) => {
                    let session = d.session_id.as_deref().unwrap_or_default().to_owned();
                    let payload = match &d.body {
                        Body::Qr(QrBody { qr, .. }) => {
                            debug_assert!(qr_index(qr).is_some(), "QR strings are the simulator's");
                            Payload::Qr { session, qr: qr.to_string() }
                        }
                        Body::Status(StatusBody { status, .. }) => {
                            Payload::Status { session, status: status.as_str().to_owned() }
                        }
                        Body::Json(_) => Payload::Status { session, status: String::new() },
                    };
                    self.actions.push_back(Action::Post {
                        delivery: d.delivery_id,
                        key: d.idempotency_key,
                        payload,
                    });
                }
                Output::Command(c) => self.actions.push_back(match c.kind {
                    CommandKind::Close => Action::Close(c.session_id.to_string()),
                    CommandKind::Reconnect => Action::Reconnect(c.session_id.to_string()),
                }),
                Output::SessionChanged(c) => match c.state {
                    SessionState::New => self.held += 1,
                    SessionState::Removed => self.held = self.held.saturating_sub(1),
                    _ => {}
                },
                Output::BreakerChanged(b) => {
                    if b.to == BreakerState::Open {
                        match b.from {
                            BreakerState::Closed => self.opens += 1,
                            _ => self.reopens += 1,
                        }
                    }
                    self.changes.push((b.at, level(b.from), level(b.to)));
                }
                Output::DeadLettered(d) => {
                    if d.path == "/status" {
                        self.status_dropped += 1;
                    } else if d.path == "/qr" {
                        self.qr_dropped += 1;
                    }
                }
            }
        }
    }
}

impl PolicyModel for KeeperPolicy {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn add_session(&mut self, now: u64, session: &str) {
        self.feed(now, Input::AddSession { session_id: session.to_owned(), meta: None });
    }

    fn connection_update(&mut self, now: u64, session: &str, update: &ConnectionUpdate) {
        self.feed(now, Input::ConnectionUpdate { session_id: session.to_owned(), update: update.clone() });
    }

    fn delivery_result(&mut self, now: u64, delivery: u64, outcome: &DeliveryOutcome) {
        self.feed(now, Input::DeliveryResult { delivery_id: delivery, outcome: outcome.clone() });
    }

    fn handle_timeout(&mut self, now: u64) {
        self.keeper.handle_timeout(now);
        self.drain();
    }

    fn poll_timeout(&self) -> Option<u64> {
        self.keeper.poll_timeout()
    }

    fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    fn take_breaker_changes(&mut self) -> Vec<(u64, BreakerLevel, BreakerLevel)> {
        std::mem::take(&mut self.changes)
    }

    fn probe(&self) -> Probe {
        Probe {
            queue_depth: self.keeper.queue_depth(),
            breaker: level(self.keeper.breaker_state()),
            sessions_held: self.held,
        }
    }

    fn books(&self) -> Books {
        // Counters only: the queue's item type is the core's business.
        let q = self.keeper.health(self.keeper.now()).queue;
        Books {
            breaker_opens: self.opens,
            breaker_reopens: self.reopens,
            qr_superseded: q.superseded,
            status_dropped: self.status_dropped,
            qr_dropped: self.qr_dropped,
            items_outstanding: q.depth + q.in_flight,
        }
    }
}
