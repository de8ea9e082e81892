//! The system under test: the keeper, a twin fed the same inputs from the start, and a copy
//! restored from the keeper's snapshot at generated steps and fed the same inputs from there.
//! Every call is made on all three and compared (results, outputs, state), then its outputs are
//! checked by the [`Observer`] and the keeper's views against the invariants.

use std::collections::BTreeSet;

use serde_json::json;
use sessionkeeper_core::{
    classify_close, parse_retry_after, Ack, BreakerState, CloseKind, CommandKind, Config, ConnectionUpdate,
    DisconnectError, ErrorOutput, Input, Keeper, KeeperError, LastDisconnect, OutcomeClass, Output,
    SessionState, MAX_QR_LEN, QR_REFS_ENDED,
};

use crate::observer::{CallContext, Observer};
use crate::transitions::{CloseWhy, PathKind, Sid, Transition, Update, HUGE};

/// `handle` or `handle_timeout`.
enum Call {
    Handle(Input),
    Timeout,
}

/// Deadline hops one `Tick` may take before it is called a busy loop.
const MAX_HOPS_PER_TICK: usize = 5_000;

/// The keeper and everything checked against it.
pub struct Harness {
    config: Config,
    /// The caller's clock (may run behind the keeper's after a rewind).
    now: u64,
    main: Keeper,
    twin: Keeper,
    /// Restored from `main`'s snapshot at a `SnapshotRestore` step, then fed the same inputs.
    restored: Keeper,
    restored_at: usize,
    steps: usize,
    /// The reference built from outputs.
    pub obs: Observer,
    minted: u64,
    /// Outputs of the last call.
    last_outputs: Vec<Output>,
}

fn drain(k: &mut Keeper) -> Vec<Output> {
    std::iter::from_fn(|| k.poll_output()).collect()
}

fn run(k: &mut Keeper, at: u64, call: &Call) -> (Option<Result<Ack, KeeperError>>, Vec<Output>) {
    let result = match call {
        Call::Handle(input) => Some(k.handle(at, input.clone())),
        Call::Timeout => {
            k.handle_timeout(at);
            None
        }
    };
    (result, drain(k))
}

impl Harness {
    /// A fresh keeper at time 0.
    pub fn new(config: Config) -> Self {
        Self {
            main: Keeper::new(config.clone()).expect("valid config"),
            twin: Keeper::new(config.clone()).expect("valid config"),
            restored: Keeper::new(config.clone()).expect("valid config"),
            restored_at: 0,
            steps: 0,
            obs: Observer::new(config.clone()),
            config,
            now: 0,
            minted: 0,
            last_outputs: Vec::new(),
        }
    }

    /// The keeper under test.
    pub fn keeper(&self) -> &Keeper {
        &self.main
    }

    /// One call on every copy, compared and checked. `full` adds the refusal check.
    fn call(&mut self, at: u64, call: Call, full: bool) -> Option<Result<Ack, KeeperError>> {
        let now = self.main.now().max(at);
        self.obs.expire_leases(now);
        let connected_before: BTreeSet<String> = self
            .obs
            .known
            .iter()
            .filter(|(_, s)| **s == SessionState::Connected)
            .map(|(id, _)| id.clone())
            .collect();
        let before = (full && matches!(call, Call::Handle(_))).then(|| self.main.clone());

        let (result, outputs) = run(&mut self.main, at, &call);
        if std::env::var_os("SK_PROPTEST_TRACE").is_some() {
            let what = match &call {
                Call::Handle(input) => format!("{input:?}"),
                Call::Timeout => "handle_timeout".to_owned(),
            };
            eprintln!("@{at} (now {}) {what} -> {result:?}", self.main.now());
            for out in &outputs {
                eprintln!("    {out:?}");
            }
        }
        let (twin_result, twin_outputs) = run(&mut self.twin, at, &call);
        assert_eq!(result, twin_result, "same inputs, different result");
        assert_eq!(outputs, twin_outputs, "same inputs, different outputs");
        assert!(self.main == self.twin, "same inputs, different state");
        let (r_result, r_outputs) = run(&mut self.restored, at, &call);
        assert_eq!(result, r_result, "keeper restored at step {} answered differently", self.restored_at);
        assert_eq!(
            outputs, r_outputs,
            "keeper restored at step {} produced different outputs",
            self.restored_at
        );
        assert!(
            self.restored == self.main,
            "keeper restored at step {} has a different state",
            self.restored_at
        );
        assert_eq!(self.main.now(), now, "effective now is max(last now, now)");

        // A refused input changes nothing but firing due timers: it equals `handle_timeout`.
        // (At the end of time every deadline is `now` and the extra round of timers `handle`
        // fires after its input cascades further than `handle_timeout`'s single round.)
        if let (Some(Err(_)), Some(mut before), false) = (&result, before, now == u64::MAX) {
            let timer_outputs = {
                before.handle_timeout(at);
                drain(&mut before)
            };
            assert_eq!(timer_outputs, outputs, "a refused input produced outputs of its own");
            assert!(before == self.main, "a refused input changed the state");
            assert_eq!(before.health(now), self.main.health(now), "a refused input changed a counter");
        }

        // What the call produced, against the reference.
        if let (Call::Handle(Input::ConnectionUpdate { session_id, update }), Some(r)) = (&call, &result) {
            if let Some(qr) = &update.qr {
                match r {
                    Ok(_) if self.main.qr(session_id) == Some(qr.as_str()) => {
                        self.obs.produced_qr(session_id, qr)
                    }
                    _ => {}
                }
            }
        }
        if let (
            Call::Handle(Input::Enqueue { key, .. }),
            Some(Ok(Ack::Enqueued { item_id, idempotency_key })),
        ) = (&call, &result)
        {
            if key.is_none() {
                self.obs.unkeyed.insert(*item_id);
            }
            // The key the caller was given is the one every attempt carries.
            assert!(
                self.obs.keys.insert(*item_id, idempotency_key.clone()).is_none(),
                "item id {item_id} reused"
            );
        }
        let pending_after: BTreeSet<String> =
            self.main.sessions(now).pending_sessions.into_iter().map(|p| p.session_id).collect();
        let ctx = CallContext { now, pending_after: &pending_after };
        for out in &outputs {
            self.obs.observe(&ctx, out);
        }
        // A full queue refuses only when it is full (at the time of the check, before this
        // call's dispatches).
        if let Some(Err(KeeperError::QueueFull { capacity })) = &result {
            let sent = outputs.iter().filter(|o| matches!(o, Output::Deliver(_))).count() as u64;
            let depth = self.main.health(now).queue.depth;
            assert!(
                depth + sent >= u64::from(*capacity),
                "queue full at depth {depth} + {sent} of {capacity}"
            );
        }
        if let Some(Ok(Ack::Removed { removed, count })) = &result {
            assert_eq!(*count, removed.len());
            for id in removed {
                assert!(!connected_before.contains(id), "cleanup removed connected session {id}");
                assert!(!self.obs.known.contains_key(id), "cleanup reported {id} removed but it is known");
            }
        }
        self.check_state();
        self.last_outputs = outputs;
        result
    }

    fn handle(&mut self, input: Input) -> Result<Ack, KeeperError> {
        self.call(self.now, Call::Handle(input), true).expect("handle answers")
    }

    /// `handle_timeout` at the keeper's next deadline, if there is one by `limit`.
    fn hop(&mut self, limit: u64, full: bool) -> bool {
        let Some(t) = self.main.poll_timeout() else { return false };
        if t > limit || t <= self.main.now() {
            // `t <= now` only at the end of time (u64::MAX), checked in `check_state`.
            return false;
        }
        self.now = self.now.max(t);
        self.call(t, Call::Timeout, full);
        true
    }

    /// Applies one transition.
    pub fn apply(&mut self, t: &Transition) {
        self.steps += 1;
        match t {
            Transition::SnapshotRestore => {
                let snapshot = self.main.snapshot();
                let restored = Keeper::restore(&snapshot).expect("a snapshot restores");
                // Equal state (derived `PartialEq` over every field) also means equal snapshots.
                assert!(restored == self.main, "restore(snapshot()) differs from the keeper");
                self.restored = restored;
                self.restored_at = self.steps;
            }
            Transition::Tick { ms } => {
                let target = self.now.saturating_add(*ms);
                let mut hops = 0;
                while self.hop(target, hops < 4) {
                    hops += 1;
                    assert!(hops < MAX_HOPS_PER_TICK, "busy loop: {hops} deadlines within {ms} ms");
                }
                self.now = self.now.max(target);
            }
            Transition::Stall { ms } => self.now = self.now.saturating_add(*ms),
            Transition::Rewind { ms } => self.now = self.now.saturating_sub(*ms),
            Transition::Absurd { now } => self.now = *now,
            Transition::HandleTimeout => {
                self.hop(u64::MAX, true);
            }
            Transition::Nudge => {
                let now = self.main.now();
                if now == u64::MAX {
                    // At the end of time deadlines saturate to `now` itself; nothing is "later".
                    return;
                }
                let before = self.main.clone();
                let result = self.call(now, Call::Timeout, false);
                assert!(result.is_none());
                assert!(before == self.main, "an extra handle_timeout at the same now changed the state");
            }
            Transition::AddSession { id } => {
                let _ = self.handle(Input::AddSession { session_id: id.render(), meta: None });
            }
            Transition::RemoveSession { id, huge_reason } => {
                let reason = huge_reason.then(|| "r".repeat(HUGE));
                let _ = self.handle(Input::RemoveSession { session_id: id.render(), reason });
            }
            Transition::Update { id, update: what } => {
                let session = id.render();
                let update = self.render_update(id, what);
                let now = self.main.now().max(self.now);
                let qr_count = self
                    .main
                    .sessions(now)
                    .pending_sessions
                    .iter()
                    .find(|p| p.session_id == session)
                    .map(|p| p.qr_count);
                let valid_qr = update.qr.as_ref().is_some_and(|q| !q.is_empty() && q.len() <= MAX_QR_LEN);
                let kind =
                    update.connection.map(|_| classify_close(update.status_code(), update.error_message()));
                let result = self.handle(Input::ConnectionUpdate { session_id: session.clone(), update });
                if result.is_ok() {
                    self.check_lifecycle(&session, what, kind, qr_count, valid_qr);
                }
            }
            Transition::Deliver { pick, outcome } => {
                let now = self.main.now().max(self.now);
                self.obs.expire_leases(now);
                let id = self.obs.pick_in_flight(*pick).unwrap_or(u64::MAX - 1);
                let flight = self.obs.in_flight.get(&id).cloned();
                let success = outcome.is_success() && flight.is_some();
                if let (Some(_), OutcomeClass::Throttled) = (&flight, outcome.class()) {
                    let header = match outcome.render() {
                        sessionkeeper_core::DeliveryOutcome::Response { retry_after, .. } => retry_after,
                        _ => None,
                    };
                    let pause = header
                        .and_then(|v| parse_retry_after(&v, now))
                        .unwrap_or(self.config.throttle_default_pause)
                        .min(self.config.retry_after_cap);
                    self.obs.paused_until = self.obs.paused_until.max(now.saturating_add(pause));
                }
                self.obs.finish(id);
                if success {
                    self.obs.done_items.insert(flight.as_ref().expect("in flight").item_id);
                    self.obs.delivered += 1;
                }
                // The breaker as the result finds it (after the timers due by now).
                let mut probe = self.main.clone();
                probe.handle_timeout(now);
                let found = probe.health(now).circuit_breaker;
                let input = Input::DeliveryResult { delivery_id: id, outcome: outcome.render() };
                assert_eq!(self.handle(input), Ok(Ack::Accepted));
                let after = self.main.health(now).circuit_breaker;
                let caused = after.transitions - found.transitions;
                let class = outcome.class();
                match flight {
                    // At the end of time every deadline is now: timers cascade within the call.
                    _ if now == u64::MAX => {}
                    None => assert_eq!(caused, 0, "an unknown delivery moved the breaker"),
                    Some(f) if f.epoch != found.transitions => {
                        assert_eq!(caused, 0, "a result from an older breaker state moved the breaker")
                    }
                    Some(_) => match (found.state, class) {
                        (_, OutcomeClass::Throttled) => assert_eq!(caused, 0, "throttling moved the breaker"),
                        (BreakerState::HalfOpen, OutcomeClass::Failure) => {
                            assert_eq!(
                                (caused, after.state),
                                (1, BreakerState::Open),
                                "failed probe re-opens"
                            )
                        }
                        (BreakerState::HalfOpen, _) => {
                            assert_eq!(
                                (caused, after.state),
                                (1, BreakerState::Closed),
                                "healthy probe closes"
                            )
                        }
                        (BreakerState::Closed, OutcomeClass::Failure) => assert!(caused <= 1),
                        (BreakerState::Closed, _) => {
                            assert_eq!(caused, 0, "{class:?} moved a closed breaker")
                        }
                        (BreakerState::Open, _) => unreachable!("a current-generation permit while OPEN"),
                    },
                }
            }
            Transition::DeliverUnknown { id, outcome } => {
                let before = self.main.health(self.main.now()).queue.unknown_results;
                let known = self.obs.in_flight.contains_key(id);
                if known {
                    return;
                }
                let input = Input::DeliveryResult { delivery_id: *id, outcome: outcome.render() };
                assert_eq!(self.handle(input), Ok(Ack::Accepted));
                let after = self.main.health(self.main.now()).queue.unknown_results;
                assert_eq!(after, before + 1, "an unknown delivery id is counted");
            }
            Transition::DeliverDuplicate { pick, outcome } => {
                let Some(id) = self.obs.pick_finished(*pick) else { return };
                let input = Input::DeliveryResult { delivery_id: id, outcome: outcome.render() };
                assert_eq!(self.handle(input), Ok(Ack::Accepted));
            }
            Transition::Enqueue { path, key, session, huge } => {
                self.minted += 1;
                let path = match path {
                    PathKind::Good => format!("/custom/{}", self.minted % 3),
                    PathKind::NoSlash => "custom".to_owned(),
                    PathKind::DotDot => "/a/../b".to_owned(),
                    PathKind::TooLong => format!("/{}", "p".repeat(600)),
                };
                let payload =
                    if *huge { json!({ "blob": "b".repeat(HUGE) }) } else { json!({ "n": self.minted }) };
                let input = Input::Enqueue {
                    path,
                    payload,
                    key: key.map(|k| format!("k{k}")),
                    session_id: session.as_ref().map(Sid::render),
                };
                let _ = self.handle(input);
            }
            Transition::CleanupInactive { idle_for_ms } => {
                let _ = self.handle(Input::CleanupInactive { idle_for_ms: *idle_for_ms });
            }
            Transition::CleanupPending { older_than_ms } => {
                let _ = self.handle(Input::CleanupPending { older_than_ms: *older_than_ms });
            }
            Transition::RetryDeadLetter { pick } => {
                let item_id = self.pick_dead_letter(*pick);
                // Back in its lane under the same id, it may be sent (in this very call) and die
                // again; a refused retry leaves it dead.
                let was_dead = self.obs.dead_items.remove(&item_id);
                self.obs.retried.insert(item_id);
                if self.handle(Input::RetryDeadLetter { item_id }).is_err() && was_dead {
                    self.obs.dead_items.insert(item_id);
                }
            }
            Transition::DiscardDeadLetter { pick } => {
                let item_id = self.pick_dead_letter(*pick);
                let kept = self.main.dead_letters().iter().any(|d| d.letter.item_id == item_id);
                let result = self.handle(Input::DiscardDeadLetter { item_id });
                assert_eq!(result.is_ok(), kept, "discarding dead letter {item_id}: {result:?}");
                assert!(
                    !self.main.dead_letters().iter().any(|d| d.letter.item_id == item_id),
                    "discarded, still kept"
                );
            }
            Transition::Restarted { crash } => {
                if *crash {
                    self.main = Keeper::restore(&self.main.snapshot()).expect("restores");
                    self.twin = Keeper::restore(&self.twin.snapshot()).expect("restores");
                    self.restored = Keeper::restore(&self.restored.snapshot()).expect("restores");
                }
                let now = self.main.now().max(self.now);
                self.obs.expire_leases(now);
                let ids: Vec<u64> = self.obs.in_flight.keys().copied().collect();
                for id in ids {
                    self.obs.finish(id);
                }
                assert_eq!(self.handle(Input::Restarted), Ok(Ack::Accepted));
            }
        }
    }

    /// The id of the kept dead letter at `pick` (modulo their number), or one never used.
    fn pick_dead_letter(&self, pick: usize) -> u64 {
        let kept = self.main.dead_letters();
        if kept.is_empty() {
            return u64::MAX;
        }
        kept[pick % kept.len()].letter.item_id
    }

    fn render_update(&mut self, id: &Sid, update: &Update) -> ConnectionUpdate {
        let mut u = ConnectionUpdate::default();
        let mut qr = || {
            self.minted += 1;
            format!("2@{}-qr-{},ref", id.render(), self.minted)
        };
        match update {
            Update::Qr => u.qr = Some(qr()),
            Update::HugeQr => u.qr = Some("q".repeat(HUGE)),
            Update::EmptyQr => u.qr = Some(String::new()),
            Update::NewLogin => u.is_new_login = Some(true),
            Update::Connecting => u.connection = Some(sessionkeeper_core::Connection::Connecting),
            Update::Open => u.connection = Some(sessionkeeper_core::Connection::Open),
            Update::QrConnecting => {
                u.qr = Some(qr());
                u.connection = Some(sessionkeeper_core::Connection::Connecting);
            }
            Update::Close(why) => {
                u.connection = Some(sessionkeeper_core::Connection::Close);
                let error = |message: Option<&str>, code: Option<u16>| LastDisconnect {
                    error: Some(DisconnectError {
                        message: message.map(str::to_owned),
                        output: code.map(|c| ErrorOutput { status_code: Some(c) }),
                    }),
                };
                u.last_disconnect = match why {
                    CloseWhy::Code(code) => Some(error(Some("Connection Failure"), Some(*code))),
                    CloseWhy::QrRefsEnded => Some(error(Some(QR_REFS_ENDED), Some(408))),
                    CloseWhy::NoCode => Some(error(Some("Connection Terminated"), None)),
                    CloseWhy::Bare => None,
                };
            }
            Update::Empty => {}
        }
        u
    }

    /// Baileys semantics of one accepted `connection.update` (DESIGN.md, session lifecycle).
    fn check_lifecycle(
        &self,
        session: &str,
        what: &Update,
        kind: Option<CloseKind>,
        qr_count: Option<u32>,
        valid_qr: bool,
    ) {
        if self.main.now() == u64::MAX {
            // At the end of time every deadline is now: the session's timers fire in the call.
            return;
        }
        let state = self.obs.known.get(session).copied();
        let removed_with = |reason: &str| {
            self.last_outputs.iter().any(|o| {
                matches!(o, Output::SessionChanged(c) if *c.session_id == *session
                    && c.state == SessionState::Removed && c.reason.as_ref().is_some_and(|r| *r == reason))
            })
        };
        if valid_qr {
            match qr_count {
                Some(n) if n >= self.config.max_qr_codes => {
                    assert!(
                        removed_with("max_qr_codes"),
                        "QR {} past maxQrCodes did not expire {session}",
                        n + 1
                    )
                }
                _ => {
                    let after = self.main.sessions(self.main.now()).pending_sessions;
                    let now_count = after.iter().find(|p| p.session_id == session).map(|p| p.qr_count);
                    assert_eq!(now_count, Some(qr_count.unwrap_or(0) + 1), "QR count of {session}");
                }
            }
            return;
        }
        let pending =
            self.main.sessions(self.main.now()).pending_sessions.iter().any(|p| p.session_id == session);
        match what {
            Update::NewLogin => {
                // The scan stops the pending clock.
                assert_eq!(state, Some(SessionState::Scanned), "scan of {session}");
                assert!(!pending, "{session} still pending after its scan");
                return;
            }
            Update::Open => {
                assert_eq!(state, Some(SessionState::Connected), "open of {session}");
                assert!(!pending, "{session} still pending after open");
                return;
            }
            Update::Close(_) => {}
            _ => return,
        }
        match kind.expect("a close") {
            CloseKind::LoggedOut => assert!(removed_with("logged_out"), "401 did not remove {session}"),
            CloseKind::QrExpired => {
                assert!(removed_with("qr_refs_ended"), "QR refs ended did not remove {session}")
            }
            CloseKind::Terminal => assert_eq!(state, None, "terminal close did not remove {session}"),
            CloseKind::RestartRequired => {
                assert_eq!(state, Some(SessionState::Reconnecting));
                assert!(
                    self.last_outputs.iter().any(|o| matches!(o, Output::Command(c)
                        if *c.session_id == *session && c.kind == CommandKind::Reconnect)),
                    "515 did not reconnect {session} at once"
                );
            }
            CloseKind::Replaced => {
                assert!(state.is_none() || state == Some(SessionState::Reconnecting));
            }
            CloseKind::Transient => {
                assert_eq!(state, Some(SessionState::Reconnecting), "transient close of {session}")
            }
        }
        // Exponential backoff with equal jitter: in [d/2, d], d = base * 2^(attempt-1), capped.
        let now = self.main.now();
        let views = self.main.sessions(now).sessions;
        if let Some(v) = views.iter().find(|v| v.session_id == session) {
            if let (Some(at), false) = (v.reconnect_at, now > u64::MAX / 2) {
                let exp = v.reconnect_attempt.saturating_sub(1).min(40);
                let d = self
                    .config
                    .reconnect_base_delay
                    .saturating_mul(1 << exp)
                    .min(self.config.reconnect_max_delay);
                let delay = at - now;
                assert!(
                    delay >= d / 2 && delay <= d,
                    "reconnect delay {delay} of attempt {} not in [{}, {d}]",
                    v.reconnect_attempt,
                    d / 2
                );
            }
        }
    }

    /// Invariants on the keeper's state and views after every call.
    fn check_state(&self) {
        let k = &self.main;
        let now = k.now();
        // poll_timeout is never in the past (except at the end of time, where nothing is later).
        if let Some(t) = k.poll_timeout() {
            assert!(t > now || now == u64::MAX, "poll_timeout {t} not after now {now}");
        }
        // Every pending session is gone by its deadline.
        let sessions = k.sessions(now);
        for p in &sessions.pending_sessions {
            assert!(
                p.expires_at > now || now == u64::MAX,
                "pending session {} still there at {now}, past {}",
                p.session_id,
                p.expires_at
            );
            assert_eq!(p.expires_at, p.since.saturating_add(self.config.pending_session_timeout));
            assert!(p.qr_count >= 1 && p.qr_count <= self.config.max_qr_codes, "qr count {}", p.qr_count);
        }
        assert_eq!(sessions.pending_count, sessions.pending_sessions.len());
        // Inactivity and reconnect timers are exact too.
        for s in &sessions.sessions {
            for (what, t) in [("inactive_at", s.inactive_at), ("reconnect_at", s.reconnect_at)] {
                if let Some(t) = t {
                    assert!(
                        t > now || now == u64::MAX,
                        "{} of {} is {t}, not after now {now}",
                        what,
                        s.session_id
                    );
                }
            }
            if s.state == SessionState::Connected {
                assert_eq!(
                    s.inactive_at, None,
                    "connected session {} has an inactivity deadline",
                    s.session_id
                );
            } else {
                // No ghosts: a session that is not connected is on the clock.
                assert!(
                    s.inactive_at.is_some(),
                    "{:?} session {} has no inactivity deadline",
                    s.state,
                    s.session_id
                );
            }
        }
        // The sessions the outputs announced are the sessions held.
        let ids: Vec<&String> = sessions.sessions.iter().map(|s| &s.session_id).collect();
        let known: Vec<&String> = self.obs.known.keys().collect();
        assert_eq!(ids, known, "sessions held differ from the sessions announced");
        for s in &sessions.sessions {
            assert_eq!(
                self.obs.known[&s.session_id], s.state,
                "state of {} differs from the last change",
                s.session_id
            );
        }
        // Conservation and the books.
        let health = k.health(now);
        let q = &health.queue;
        assert_eq!(
            q.accepted,
            q.depth + q.in_flight + q.delivered + q.superseded + q.dead_lettered + q.purged,
            "accepted = queued + inFlight + delivered + superseded + deadLettered + purged: {q:?}"
        );
        assert!(q.conservation_ok);
        assert_eq!(q.in_flight, self.obs.in_flight.len() as u64, "deliveries in flight");
        assert_eq!(q.delivered, self.obs.delivered, "2xx results for deliveries in flight");
        assert!(q.in_flight <= u64::from(self.config.max_concurrent_messages));
        // The breaker as announced.
        let b = &health.circuit_breaker;
        assert_eq!(b.state, self.obs.breaker, "breaker state differs from the last change");
        assert_eq!(b.transitions, self.obs.epoch, "breaker transitions");
        if b.state == BreakerState::HalfOpen {
            assert!(b.probes_in_flight <= self.config.circuit_breaker_half_open_probes);
        }
        assert_eq!(health.active_sessions, self.obs.known.len());
        assert!(health.reconnect_slots_in_use <= self.config.max_concurrent_reconnects as usize);
        assert!(q.dead_letters.len() <= self.config.dead_letter_limit as usize, "dead letters kept");
        assert_eq!(q.paused_until, (self.obs.paused_until > now).then_some(self.obs.paused_until));
    }

    /// After the sequence: a healthy backend and a caller that honours deadlines drain the
    /// queue (final statuses included), unless time was pushed to its end.
    pub fn drain_to_idle(&mut self) {
        // The late caller catches up with its clock first.
        self.call(self.now.max(self.main.now()), Call::Timeout, false);
        if self.main.now() > u64::MAX / 2 {
            return;
        }
        for _ in 0..2_000 {
            while let Some(id) = self.obs.pick_in_flight(0) {
                self.obs.finish(id);
                self.obs.delivered += 1;
                let ok = sessionkeeper_core::DeliveryOutcome::Response { status: 200, retry_after: None };
                let now = self.main.now();
                self.call(now, Call::Handle(Input::DeliveryResult { delivery_id: id, outcome: ok }), false);
            }
            let q = self.main.health(self.main.now()).queue;
            if q.depth == 0 && q.in_flight == 0 {
                return;
            }
            assert!(self.hop(u64::MAX, false), "items queued but no deadline: {q:?}");
        }
        panic!("queue did not drain: {:?}", self.main.health(self.main.now()).queue);
    }
}
