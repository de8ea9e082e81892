//! The reference, rebuilt from the keeper's outputs: known sessions and their incarnations,
//! deliveries in flight, the breaker's state, the QRs produced and which is the latest. Each
//! output is checked against it as it is drained.

use std::collections::{BTreeMap, BTreeSet};

use sessionkeeper_core::{
    BreakerState, CommandKind, Config, Delivery, Output, PacingMode, Reason, SessionState,
};

/// A delivery the keeper handed out and that has not finished.
#[derive(Clone, Debug)]
pub struct Flight {
    /// When its lease runs out (the keeper then counts it as a timeout).
    pub lease_until: u64,
    /// Breaker epoch (number of transitions seen) at dispatch.
    pub epoch: u64,
    /// Breaker state at dispatch.
    pub state: BreakerState,
    /// The item sent.
    pub item_id: u64,
    /// The session, when this is its `pending` status.
    pub pending_of: Option<String>,
}

/// Where a QR came from.
#[derive(Clone, Debug)]
pub struct QrOrigin {
    /// Its session.
    pub session: String,
    /// The session's incarnation when it was produced.
    pub incarnation: u64,
    /// Production order.
    pub seq: u64,
}

/// Context of one call, for checks that need the state after it.
pub struct CallContext<'a> {
    /// The keeper's effective `now` of the call.
    pub now: u64,
    /// Sessions in a pending episode after the call (dispatch is the last thing a call does).
    pub pending_after: &'a BTreeSet<String>,
}

/// The observed reference.
#[derive(Debug)]
pub struct Observer {
    config: Config,
    /// Sessions known, with their last reported state.
    pub known: BTreeMap<String, SessionState>,
    /// Incarnation of each session id (bumped on every `new`).
    pub incarnation: BTreeMap<String, u64>,
    /// Deliveries in flight.
    pub in_flight: BTreeMap<u64, Flight>,
    /// Deliveries that finished (for duplicate results), most recent last.
    pub finished: Vec<u64>,
    /// Breaker state from `BreakerChanged`.
    pub breaker: BreakerState,
    /// Breaker transitions seen.
    pub epoch: u64,
    /// Last dispatch time.
    pub last_dispatch: Option<u64>,
    /// QR text -> origin.
    pub qr_origin: BTreeMap<String, QrOrigin>,
    /// Sessions (this incarnation) whose `pending` status has been sent at least once.
    pending_sent: BTreeSet<String>,
    /// Session -> (incarnation, seq) of its latest produced QR.
    pub latest_qr: BTreeMap<String, (u64, u64)>,
    /// QRs produced.
    pub qr_seq: u64,
    /// Session lane -> (item id, body.at) of the last dispatched status.
    pub last_status: BTreeMap<String, (u64, u64)>,
    /// Items enqueued without a key (never coalesced, so FIFO in their lane with statuses).
    pub unkeyed: BTreeSet<u64>,
    /// Lane -> last dispatched item among statuses and unkeyed items.
    pub lane_order: BTreeMap<String, u64>,
    /// Item id -> idempotency key.
    pub keys: BTreeMap<u64, String>,
    /// Successful results reported for deliveries in flight.
    pub delivered: u64,
    /// Items the backend took (2xx): never sent again.
    pub done_items: BTreeSet<u64>,
    /// Items dead-lettered: never sent again.
    pub dead_items: BTreeSet<u64>,
    /// Dead letters an operator sent again: they go to the end of their lane, behind newer
    /// items (a status only while it is its session's newest).
    pub retried: BTreeSet<u64>,
    /// When the breaker last opened.
    pub opened_at: Option<u64>,
    /// No dispatch before this (Retry-After pauses).
    pub paused_until: u64,
    /// Idempotency key -> item id.
    pub key_owner: BTreeMap<String, u64>,
    /// Deliveries seen.
    pub dispatches: u64,
    /// Breaker trips seen.
    pub trips: u64,
    /// QR deliveries seen.
    pub qr_dispatches: u64,
    /// `connected` changes seen.
    pub connects: u64,
    /// Removals by reason class: (expired, inactive, other).
    pub removals: (u64, u64, u64),
}

impl Observer {
    /// Nothing seen yet.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            known: BTreeMap::new(),
            incarnation: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            pending_sent: BTreeSet::new(),
            finished: Vec::new(),
            breaker: BreakerState::Closed,
            epoch: 0,
            last_dispatch: None,
            qr_origin: BTreeMap::new(),
            latest_qr: BTreeMap::new(),
            qr_seq: 0,
            last_status: BTreeMap::new(),
            keys: BTreeMap::new(),
            unkeyed: BTreeSet::new(),
            lane_order: BTreeMap::new(),
            delivered: 0,
            done_items: BTreeSet::new(),
            dead_items: BTreeSet::new(),
            retried: BTreeSet::new(),
            opened_at: None,
            paused_until: 0,
            key_owner: BTreeMap::new(),
            dispatches: 0,
            trips: 0,
            qr_dispatches: 0,
            connects: 0,
            removals: (0, 0, 0),
        }
    }

    /// Leases that ran out by `now` end their deliveries (the keeper does it first thing).
    pub fn expire_leases(&mut self, now: u64) {
        let expired: Vec<u64> =
            self.in_flight.iter().filter(|(_, f)| f.lease_until <= now).map(|(id, _)| *id).collect();
        for id in expired {
            self.finish(id);
        }
    }

    /// A delivery ended (result, lease, restart).
    pub fn finish(&mut self, id: u64) {
        if self.in_flight.remove(&id).is_some() {
            self.finished.push(id);
            if self.finished.len() > 64 {
                self.finished.remove(0);
            }
        }
    }

    /// The in-flight delivery at position `pick`.
    pub fn pick_in_flight(&self, pick: usize) -> Option<u64> {
        let n = self.in_flight.len();
        (n > 0).then(|| *self.in_flight.keys().nth(pick % n).expect("in range"))
    }

    /// A finished delivery at position `pick`.
    pub fn pick_finished(&self, pick: usize) -> Option<u64> {
        let n = self.finished.len();
        (n > 0).then(|| self.finished[pick % n])
    }

    /// Registers a QR that the keeper took for `session` (it is the session's latest).
    pub fn produced_qr(&mut self, session: &str, qr: &str) {
        self.qr_seq += 1;
        let incarnation = self.incarnation.get(session).copied().unwrap_or(0);
        self.qr_origin
            .insert(qr.to_owned(), QrOrigin { session: session.to_owned(), incarnation, seq: self.qr_seq });
        self.latest_qr.insert(session.to_owned(), (incarnation, self.qr_seq));
    }

    /// Checks and records one output of a call.
    pub fn observe(&mut self, ctx: &CallContext<'_>, out: &Output) {
        match out {
            Output::BreakerChanged(c) => {
                assert_eq!(c.at, ctx.now, "breaker change stamped with the call's now");
                assert_eq!(c.from, self.breaker, "breaker change from a state it was not in");
                assert_ne!(c.from, c.to, "breaker change to the same state");
                if c.to == BreakerState::Open {
                    self.trips += 1;
                    self.opened_at = Some(c.at);
                }
                if c.from == BreakerState::Open {
                    let opened = self.opened_at.expect("opened before");
                    assert!(
                        c.at >= opened.saturating_add(self.config.circuit_breaker_reset_timeout),
                        "breaker left OPEN at {} after opening at {opened}",
                        c.at
                    );
                }
                self.breaker = c.to;
                self.epoch += 1;
            }
            Output::SessionChanged(c) => {
                assert_eq!(c.at, ctx.now, "session change stamped with the call's now");
                match c.state {
                    SessionState::New => {
                        assert!(!self.known.contains_key(&*c.session_id), "`new` for a known session");
                        self.known.insert(c.session_id.to_string(), SessionState::New);
                        self.pending_sent.remove(&*c.session_id);
                        *self.incarnation.entry(c.session_id.to_string()).or_default() += 1;
                    }
                    SessionState::Removed => {
                        let before = self
                            .known
                            .remove(&*c.session_id)
                            .unwrap_or_else(|| panic!("`removed` for unknown session {}", c.session_id));
                        let by_cleanup = matches!(
                            c.reason,
                            Some(Reason::Inactive | Reason::PendingTimeout | Reason::PendingCleanup)
                        );
                        match c.reason {
                            Some(
                                Reason::PendingTimeout
                                | Reason::PendingCleanup
                                | Reason::MaxQrCodes
                                | Reason::QrRefsEnded,
                            ) => self.removals.0 += 1,
                            Some(Reason::Inactive) => self.removals.1 += 1,
                            _ => self.removals.2 += 1,
                        }
                        assert!(
                            !(by_cleanup && before == SessionState::Connected),
                            "connected session {} removed by cleanup ({:?})",
                            c.session_id,
                            c.reason
                        );
                    }
                    state => {
                        if state == SessionState::Connected {
                            self.connects += 1;
                        }
                        let s = self
                            .known
                            .get_mut(&*c.session_id)
                            .unwrap_or_else(|| panic!("state change for unknown session {}", c.session_id));
                        *s = state;
                    }
                }
            }
            Output::Command(c) => {
                assert_eq!(c.at, ctx.now, "command stamped with the call's now");
                assert!(
                    self.known.contains_key(&*c.session_id),
                    "{:?} command for unknown session {}",
                    c.kind,
                    c.session_id
                );
                if c.kind == CommandKind::Reconnect {
                    assert_ne!(
                        self.known[&*c.session_id],
                        SessionState::Connected,
                        "reconnect for a connected session"
                    );
                }
            }
            Output::DeadLettered(l) => {
                assert_eq!(l.at, ctx.now, "dead letter stamped with the call's now");
                assert!(self.dead_items.insert(l.item_id), "item {} dead-lettered twice", l.item_id);
                if let Some(key) = self.keys.get(&l.item_id) {
                    assert_eq!(key, &l.idempotency_key, "dead letter's key changed");
                }
            }
            Output::Deliver(d) => self.on_deliver(ctx, d),
        }
    }

    fn on_deliver(&mut self, ctx: &CallContext<'_>, d: &Delivery) {
        let now = ctx.now;
        self.dispatches += 1;
        // Breaker: nothing while OPEN, at most the probe count while HALF_OPEN.
        assert_ne!(self.breaker, BreakerState::Open, "dispatch while the breaker is OPEN: {d:?}");
        if self.breaker == BreakerState::HalfOpen {
            let probes = self
                .in_flight
                .values()
                .filter(|f| f.epoch == self.epoch && f.state == BreakerState::HalfOpen)
                .count();
            assert!(
                probes < self.config.circuit_breaker_half_open_probes as usize,
                "more than {} probes in flight in HALF_OPEN",
                self.config.circuit_breaker_half_open_probes
            );
        }
        // Spacing (fixed pacing: `syncSpacing`; adaptive: never under its floor) and max in flight.
        let spacing = match self.config.pacing {
            PacingMode::Fixed => self.config.sync_spacing,
            PacingMode::Adaptive => self.config.adaptive_min_spacing,
        };
        if let Some(last) = self.last_dispatch {
            if let Some(earliest) = last.checked_add(spacing) {
                assert!(now >= earliest, "dispatch at {now}, {} ms after the previous one", now - last);
            }
        }
        self.last_dispatch = Some(now);
        assert!(!self.in_flight.contains_key(&d.delivery_id), "delivery id {} reused", d.delivery_id);
        assert!(
            self.in_flight.len() < self.config.max_concurrent_messages as usize,
            "more than {} deliveries in flight",
            self.config.max_concurrent_messages
        );
        assert!(d.attempt >= 1, "attempt counts from 1");
        assert!(!self.done_items.contains(&d.item_id), "item {} sent again after a 2xx", d.item_id);
        assert!(!self.dead_items.contains(&d.item_id), "item {} sent after its dead letter", d.item_id);
        let key = self.keys.entry(d.item_id).or_insert_with(|| d.idempotency_key.clone());
        assert_eq!(key, &d.idempotency_key, "idempotency key of item {} changed", d.item_id);
        let owner = self.key_owner.entry(d.idempotency_key.clone()).or_insert(d.item_id);
        assert_eq!(*owner, d.item_id, "idempotency key {} shared by two items", d.idempotency_key);
        assert!(
            now >= self.paused_until,
            "dispatch at {now} during a Retry-After pause until {}",
            self.paused_until
        );
        let pending_of = (d.path == "/status"
            && d.body.to_value()["status"] == "pending"
            && !self.retried.contains(&d.item_id))
        .then(|| d.session_id.as_deref().unwrap_or_default().to_owned());
        self.in_flight.insert(
            d.delivery_id,
            Flight {
                lease_until: now.saturating_add(self.config.delivery_lease_timeout),
                epoch: self.epoch,
                state: self.breaker,
                item_id: d.item_id,
                pending_of,
            },
        );
        match &*d.path {
            "/qr" => self.on_qr_deliver(ctx, d),
            "/status" => self.on_status_deliver(d),
            _ => assert!(d.render_qr.is_none(), "custom item with a QR to render"),
        }
        // Per-lane FIFO for items that are never coalesced.
        if (d.path == "/status" || self.unkeyed.contains(&d.item_id)) && !self.retried.contains(&d.item_id) {
            let lane = d.session_id.as_deref().unwrap_or("custom").to_owned();
            if let Some(&last) = self.lane_order.get(&lane) {
                assert!(d.item_id >= last, "item {} of lane {lane} sent after a later one {last}", d.item_id);
            }
            self.lane_order.insert(lane, d.item_id);
        }
    }

    fn on_qr_deliver(&mut self, ctx: &CallContext<'_>, d: &Delivery) {
        self.qr_dispatches += 1;
        let qr = d.render_qr.as_deref().expect("a /qr delivery renders its QR");
        assert_eq!(d.body.to_value()["qr"].as_str(), Some(qr), "body.qr is the QR rendered");
        let session = d.session_id.as_deref().expect("a QR belongs to a session");
        assert_eq!(d.body.to_value()["sessionId"].as_str(), Some(session));
        let origin = self
            .qr_origin
            .get(qr)
            .unwrap_or_else(|| panic!("QR {qr} delivered but never accepted for a known session"));
        assert_eq!(origin.session, session, "QR delivered for another session");
        assert_eq!(
            self.known.contains_key(session).then(|| self.incarnation[session]),
            Some(origin.incarnation),
            "QR {qr} delivered for session {session} removed since it was produced"
        );
        assert!(ctx.pending_after.contains(session), "QR {qr} delivered for {session}, which is not pending");
        // The backend finds the pending row before the QR: the status left first and is done.
        assert!(self.pending_sent.contains(session), "QR {qr} of {session} sent before its `pending` status");
        assert!(
            !self.in_flight.values().any(|f| f.pending_of.as_deref() == Some(session)),
            "QR {qr} of {session} sent while its `pending` status is in flight"
        );
        assert_eq!(
            self.latest_qr.get(session),
            Some(&(origin.incarnation, origin.seq)),
            "superseded QR {qr} delivered for {session} (latest wins)"
        );
    }

    fn on_status_deliver(&mut self, d: &Delivery) {
        assert!(d.render_qr.is_none(), "status with a QR");
        let session = d.session_id.as_deref().expect("a status belongs to a session").to_owned();
        assert_eq!(d.body.to_value()["sessionId"].as_str(), Some(session.as_str()));
        let body = d.body.to_value();
        let status = body["status"].as_str().expect("status is a string");
        if status == "pending" {
            self.pending_sent.insert(session.clone());
        }
        assert!(
            ["pending", "connected", "disconnected", "logged_out", "expired", "removed"].contains(&status),
            "unknown status {status}"
        );
        let at = d.body.to_value()["at"].as_u64().expect("status.at is a number");
        if let Some(&(last_id, last_at)) = self.last_status.get(&session) {
            assert!(
                d.item_id >= last_id,
                "status {} of {session} sent after a later one {last_id}",
                d.item_id
            );
            assert!(at >= last_at, "status of {session} at {at} sent after one at {last_at}");
        }
        self.last_status.insert(session, (d.item_id, at));
    }
}
