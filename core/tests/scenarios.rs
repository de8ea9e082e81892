//! Scenario tests: each replays one failure of the seed gateway and shows what the core does.

use serde_json::json;
use sessionkeeper_core::{
    Ack, BreakerState, CommandKind, Config, DeliveryOutcome, HealthStatus, Input, Keeper, KeeperError,
    Output, SessionState, MAX_KEY_LEN, MAX_REASON_LEN, SNAPSHOT_VERSION,
};

/// A keeper plus everything it has output, driven in virtual time.
struct Rig {
    k: Keeper,
    now: u64,
    out: Vec<Output>,
}

impl Rig {
    fn new(config: Config) -> Self {
        Self { k: Keeper::new(config).unwrap(), now: 1_000_000, out: Vec::new() }
    }

    fn drain(&mut self) -> Vec<Output> {
        let mut fresh = Vec::new();
        while let Some(o) = self.k.poll_output() {
            fresh.push(o);
        }
        self.out.extend(fresh.iter().cloned());
        fresh
    }

    fn input(&mut self, input: Input) -> Result<Ack, KeeperError> {
        let r = self.k.handle(self.now, input);
        self.drain();
        r
    }

    fn add(&mut self, id: &str) {
        self.input(Input::AddSession { session_id: id.into(), meta: None }).unwrap();
    }

    fn update(&mut self, id: &str, update: serde_json::Value) -> Result<Ack, KeeperError> {
        let update = serde_json::from_value(update).unwrap();
        self.input(Input::ConnectionUpdate { session_id: id.into(), update })
    }

    /// Advances virtual time to `until`, firing every timer on the way.
    fn advance_to(&mut self, until: u64) {
        while let Some(t) = self.k.poll_timeout() {
            if t > until {
                break;
            }
            assert!(t > self.now || self.now == 0, "poll_timeout in the past");
            self.now = t;
            self.k.handle_timeout(t);
            self.drain();
        }
        self.now = until;
        self.k.handle_timeout(until);
        self.drain();
    }

    fn advance(&mut self, ms: u64) {
        self.advance_to(self.now + ms);
    }

    fn deliveries(&self) -> Vec<&sessionkeeper_core::Delivery> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Output::Deliver(d) => Some(d),
                _ => None,
            })
            .collect()
    }

    fn pending_deliveries(&self, answered: &[u64]) -> Vec<u64> {
        self.deliveries().iter().map(|d| d.delivery_id).filter(|id| !answered.contains(id)).collect()
    }

    fn answer(&mut self, delivery_id: u64, status: u16) {
        let outcome = DeliveryOutcome::Response { status, retry_after: None };
        self.input(Input::DeliveryResult { delivery_id, outcome }).unwrap();
    }

    /// Answers every delivery as it appears with `status` until `until`.
    fn run_backend(&mut self, until: u64, status: impl Fn(&sessionkeeper_core::Delivery) -> u16) {
        let mut answered: Vec<u64> = Vec::new();
        loop {
            let open: Vec<_> = self
                .deliveries()
                .into_iter()
                .filter(|d| !answered.contains(&d.delivery_id))
                .map(|d| (d.delivery_id, status(d)))
                .collect();
            for (id, code) in open {
                answered.push(id);
                self.answer(id, code);
            }
            match self.k.poll_timeout() {
                Some(t) if t <= until => {
                    self.now = t;
                    self.k.handle_timeout(t);
                    self.drain();
                }
                _ => break,
            }
        }
        self.now = self.now.max(until);
    }

    fn commands(&self, kind: CommandKind) -> Vec<(String, String, u64)> {
        self.out
            .iter()
            .filter_map(|o| match o {
                Output::Command(c) if c.kind == kind => {
                    Some((c.session_id.to_string(), c.reason.to_string(), c.at))
                }
                _ => None,
            })
            .collect()
    }
}

fn close(code: u16) -> serde_json::Value {
    json!({"connection": "close", "lastDisconnect": {"error": {"message": "x", "output": {"statusCode": code}}}})
}

#[test]
fn seed_fix_pending_session_expires_at_120s_with_close_and_expired_status() {
    let mut r = Rig::new(Config::default());
    r.add("alice");
    let t0 = r.now;
    r.update("alice", json!({"qr": "2@first"})).unwrap();
    assert_eq!(r.k.sessions(r.now).pending_count, 1);
    r.run_backend(t0 + 119_999, |_| 200);
    assert_eq!(r.k.sessions(r.now).pending_count, 1, "still pending 1 ms before the deadline");
    assert!(r.commands(CommandKind::Close).is_empty());
    r.advance_to(t0 + 120_000);
    let closes = r.commands(CommandKind::Close);
    assert_eq!(closes, vec![("alice".into(), "pending_timeout".into(), t0 + 120_000)]);
    assert_eq!(r.k.sessions(r.now).sessions.len(), 0, "removed from memory");
    r.run_backend(t0 + 130_000, |_| 200);
    let statuses: Vec<_> = r
        .deliveries()
        .iter()
        .filter(|d| d.path == "/status")
        .map(|d| d.body.to_value()["status"].clone())
        .collect();
    assert_eq!(statuses, vec![json!("pending"), json!("expired")]);
}

#[test]
fn seed_fix_unscanned_sessions_stop_after_max_qr_codes() {
    let mut r = Rig::new(Config { max_qr_codes: 3, ..Config::default() });
    r.add("bob");
    for i in 0..3 {
        r.update("bob", json!({"qr": format!("qr-{i}")})).unwrap();
        r.advance(20_000);
    }
    assert!(r.commands(CommandKind::Close).is_empty());
    r.update("bob", json!({"qr": "qr-3"})).unwrap();
    assert_eq!(r.commands(CommandKind::Close).len(), 1, "the 4th QR expires the session");
    assert!(r.k.qr("bob").is_none());
}

#[test]
fn seed_fix_qr_for_unknown_or_removed_session_is_dropped_and_refused() {
    let mut r = Rig::new(Config::default());
    let err = r.update("ghost", json!({"qr": "2@x"})).unwrap_err();
    assert_eq!(err, KeeperError::UnknownSession("ghost".into()));
    r.add("carol");
    r.input(Input::RemoveSession { session_id: "carol".into(), reason: None }).unwrap();
    assert!(r.update("carol", json!({"qr": "2@late"})).is_err());
    r.run_backend(r.now + 10_000, |_| 200);
    assert!(r.deliveries().iter().all(|d| d.path != "/qr"), "no QR forwarded");
    // Refused, so the caller counts it (the edges' `sessionkeeper_inputs_refused_total`).
    assert_eq!(r.k.health(r.now).counters.qr_accepted, 0);
}

#[test]
fn seed_fix_slow_backend_does_not_open_the_breaker() {
    // The seed counted slow answers as failures and opened every few minutes. Here a slow
    // success is a success, and the breaker only counts real failures.
    let mut r = Rig::new(Config { pending_session_timeout: 3_600_000, ..Config::default() });
    for i in 0..50 {
        r.add(&format!("s{i}"));
        r.update(&format!("s{i}"), json!({"qr": format!("q{i}")})).unwrap();
    }
    let mut answered = Vec::new();
    for _ in 0..500 {
        let open = r.pending_deliveries(&answered);
        let q = r.k.health(r.now).queue;
        if open.is_empty() && q.depth == 0 && q.in_flight == 0 {
            break;
        }
        r.advance(5_000); // every answer takes 5 s
        for id in open {
            answered.push(id);
            r.answer(id, 200);
        }
    }
    let h = r.k.health(r.now);
    assert_eq!(h.circuit_breaker.trips, 0);
    assert_eq!(h.queue.delivered, 100, "50 pending statuses + 50 QRs");
    assert!(h.queue.conservation_ok);
}

#[test]
fn breaker_holds_the_queue_while_open_and_recovers_through_half_open() {
    let cfg =
        Config { circuit_breaker_threshold: 3, circuit_breaker_reset_timeout: 10_000, ..Config::default() };
    let mut r = Rig::new(cfg);
    for i in 0..6 {
        r.add(&format!("s{i}"));
        r.update(&format!("s{i}"), json!({"qr": "q"})).unwrap();
    }
    let t_fail = r.now;
    r.run_backend(t_fail + 3_000, |_| 500);
    assert_eq!(r.k.breaker_state(), BreakerState::Open);
    let sent_when_open = r.deliveries().len();
    r.advance(7_000);
    assert_eq!(r.deliveries().len(), sent_when_open, "nothing dispatched while OPEN");
    let h = r.k.health(r.now);
    assert_eq!(h.queue.dead_lettered, 0, "the queue holds, it does not burn items");
    r.run_backend(r.now + 60_000, |_| 200);
    assert_eq!(r.k.breaker_state(), BreakerState::Closed);
    let changes: Vec<_> = r
        .out
        .iter()
        .filter_map(|o| match o {
            Output::BreakerChanged(c) => Some((c.from, c.to)),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            (BreakerState::Closed, BreakerState::Open),
            (BreakerState::Open, BreakerState::HalfOpen),
            (BreakerState::HalfOpen, BreakerState::Closed)
        ]
    );
    let h = r.k.health(r.now);
    assert_eq!(h.queue.depth + h.queue.in_flight, 0, "everything drained");
    assert!(h.queue.conservation_ok);
}

#[test]
fn newer_qr_replaces_queued_one_in_place() {
    let mut r = Rig::new(Config::default());
    r.add("dave");
    r.update("dave", json!({"qr": "q1"})).unwrap(); // q1 waits for the `pending` status
    let status = r.deliveries()[0].delivery_id;
    r.answer(status, 200); // which is taken
    r.advance(1_000); // then q1 leaves (and is not answered yet)
    r.update("dave", json!({"qr": "q2"})).unwrap(); // queued behind the in-flight q1
    r.update("dave", json!({"qr": "q3"})).unwrap(); // replaces q2 in place
    r.run_backend(r.now + 5_000, |_| 200);
    let qrs: Vec<_> =
        r.deliveries().iter().filter(|d| d.path == "/qr").map(|d| d.body.to_value()["qr"].clone()).collect();
    assert_eq!(qrs, vec![json!("q1"), json!("q3")], "latest wins: q2 never leaves");
    assert_eq!(r.k.health(r.now).queue.superseded, 1);
}

#[test]
fn retry_after_pauses_dispatch_without_counting_as_failure() {
    let mut r = Rig::new(Config { circuit_breaker_threshold: 1, ..Config::default() });
    r.add("erin");
    r.update("erin", json!({"qr": "q"})).unwrap();
    let first = r.deliveries()[0].delivery_id;
    let outcome = DeliveryOutcome::Response { status: 429, retry_after: Some("7".into()) };
    let t = r.now;
    r.input(Input::DeliveryResult { delivery_id: first, outcome }).unwrap();
    assert_eq!(r.k.breaker_state(), BreakerState::Closed);
    assert_eq!(r.k.poll_timeout(), Some(t + 7_000));
    r.advance(6_999);
    assert_eq!(r.deliveries().len(), 1);
    r.advance(1);
    assert_eq!(r.deliveries().len(), 2, "retried when Retry-After ended");
}

#[test]
fn rejected_items_are_dead_lettered_not_retried() {
    let mut r = Rig::new(Config::default());
    r.input(Input::Enqueue { path: "/custom".into(), payload: json!({"a": 1}), key: None, session_id: None })
        .unwrap();
    r.run_backend(r.now + 60_000, |_| 422);
    let h = r.k.health(r.now);
    assert_eq!(h.queue.dead_lettered, 1);
    assert_eq!(h.queue.dead_letters[0].reason, "rejected (422)");
    assert_eq!(r.deliveries().len(), 1);
    assert_eq!(h.circuit_breaker.consecutive_failures, 0);
}

#[test]
fn scan_then_515_reconnects_at_once_and_connects() {
    let mut r = Rig::new(Config::default());
    r.add("fay");
    r.update("fay", json!({"connection": "connecting"})).unwrap();
    r.update("fay", json!({"qr": "q"})).unwrap();
    r.advance(10_000);
    r.update("fay", json!({"isNewLogin": true})).unwrap();
    assert_eq!(r.k.sessions(r.now).pending_count, 0, "scan stops the pending clock");
    r.update("fay", close(515)).unwrap();
    let reconnects = r.commands(CommandKind::Reconnect);
    assert_eq!(reconnects, vec![("fay".into(), "restart_required".into(), r.now)]);
    r.update("fay", json!({"connection": "open"})).unwrap();
    assert_eq!(r.k.sessions(r.now).sessions[0].state, SessionState::Connected);
    r.advance(200_000);
    assert!(r.commands(CommandKind::Close).is_empty(), "a scanned session never expires");
}

#[test]
fn seed_fix_inactive_sessions_are_removed_and_connected_ones_never() {
    let mut r = Rig::new(Config::default());
    r.add("idle");
    r.add("live");
    r.update("live", json!({"connection": "open"})).unwrap();
    r.run_backend(r.now + 1_800_000, |_| 200);
    assert_eq!(
        r.commands(CommandKind::Close),
        vec![("idle".into(), "inactive".into(), 1_000_000 + 1_800_000)]
    );
    r.advance(10 * 3_600_000);
    let ids: Vec<_> = r.k.sessions(r.now).sessions.into_iter().map(|s| s.session_id).collect();
    assert_eq!(ids, vec!["live".to_string()]);
    // Operator cleanups never touch connected sessions either.
    let ack = r.input(Input::CleanupInactive { idle_for_ms: None }).unwrap();
    assert_eq!(ack, Ack::Removed { removed: vec![], count: 0 });
    let ack = r.input(Input::CleanupPending { older_than_ms: None }).unwrap();
    assert_eq!(ack, Ack::Removed { removed: vec![], count: 0 });
}

#[test]
fn operator_cleanups_return_removed_ids() {
    let mut r = Rig::new(Config::default());
    r.add("a");
    r.add("b");
    r.add("c");
    r.update("b", json!({"qr": "q"})).unwrap();
    r.update("c", json!({"connection": "open"})).unwrap();
    // Without a body, only what is past its configured timeout: never a login in progress.
    let ack = r.input(Input::CleanupPending { older_than_ms: None }).unwrap();
    assert_eq!(ack, Ack::Removed { removed: vec![], count: 0 }, "b's login is in progress");
    let ack = r.input(Input::CleanupInactive { idle_for_ms: None }).unwrap();
    assert_eq!(ack, Ack::Removed { removed: vec![], count: 0 }, "a was added just now");
    // An explicit age still works.
    let ack = r.input(Input::CleanupPending { older_than_ms: Some(0) }).unwrap();
    assert_eq!(ack, Ack::Removed { removed: vec!["b".into()], count: 1 });
    let ack = r.input(Input::CleanupInactive { idle_for_ms: Some(0) }).unwrap();
    assert_eq!(ack, Ack::Removed { removed: vec!["a".into()], count: 1 });
}

#[test]
fn network_blip_reconnects_with_backoff_and_a_bounded_number_at_once() {
    let cfg = Config { max_concurrent_reconnects: 5, ..Config::default() };
    let mut r = Rig::new(cfg);
    for i in 0..40 {
        let id = format!("u{i:02}");
        r.add(&id);
        r.update(&id, json!({"connection": "open"})).unwrap();
    }
    for i in 0..40 {
        r.update(&format!("u{i:02}"), close(428)).unwrap();
    }
    assert!(r.commands(CommandKind::Reconnect).is_empty(), "no immediate reconnect storm");
    r.advance(1_000);
    let first_wave = r.commands(CommandKind::Reconnect).len();
    assert_eq!(first_wave, 5, "at most maxConcurrentReconnects at once");
    assert_eq!(r.k.health(r.now).reconnect_slots_in_use, 5);
    // As sockets come back, waiting sessions get their turn.
    let mut opened = 0;
    while opened < 40 {
        let waves = r.commands(CommandKind::Reconnect);
        for (id, _, _) in waves.iter().skip(opened) {
            r.update(id, json!({"connection": "open"})).unwrap();
            opened += 1;
        }
        r.advance(100);
    }
    let h = r.k.health(r.now);
    assert_eq!(h.connected_sessions, 40);
    assert_eq!(h.counters.reconnects_deferred, 35);
}

#[test]
fn connection_replaced_loop_is_terminal() {
    let mut r = Rig::new(Config::default());
    r.add("g");
    for _ in 0..2 {
        r.update("g", json!({"connection": "open"})).unwrap();
        r.update("g", close(440)).unwrap();
        r.advance(5_000);
    }
    assert_eq!(r.k.sessions(r.now).sessions.len(), 1);
    r.update("g", json!({"connection": "open"})).unwrap();
    r.update("g", close(440)).unwrap();
    assert_eq!(r.k.sessions(r.now).sessions.len(), 0, "third 440 within the window");
    assert_eq!(r.k.health(r.now).counters.replaced_loops, 1);
}

#[test]
fn terminal_closes_remove_and_report() {
    for (code, message, status) in [
        (401, "x", "logged_out"),
        (403, "x", "removed"),
        (411, "x", "removed"),
        (408, "QR refs attempts ended", "expired"),
    ] {
        let mut r = Rig::new(Config::default());
        r.add("h");
        let update = json!({"connection": "close",
            "lastDisconnect": {"error": {"message": message, "output": {"statusCode": code}}}});
        r.update("h", update).unwrap();
        assert_eq!(r.k.sessions(r.now).sessions.len(), 0, "{code}");
        r.run_backend(r.now + 1_000, |_| 200);
        let last = r.deliveries().last().unwrap().body.to_value()["status"].clone();
        assert_eq!(last, json!(status), "{code}");
    }
}

#[test]
fn bad_input_changes_nothing() {
    let mut r = Rig::new(Config::default());
    r.add("ok");
    let before = r.k.snapshot();
    assert!(matches!(
        r.input(Input::AddSession { session_id: "bad id!".into(), meta: None }),
        Err(KeeperError::InvalidSessionId(_))
    ));
    assert!(matches!(
        r.input(Input::AddSession { session_id: "ok".into(), meta: None }),
        Err(KeeperError::SessionExists(_))
    ));
    assert!(matches!(
        r.input(Input::Enqueue { path: "no-slash".into(), payload: json!(1), key: None, session_id: None }),
        Err(KeeperError::InvalidItem(_))
    ));
    assert!(r.update("ok", json!({"qr": ""})).is_err());
    assert_eq!(r.k.snapshot(), before);
}

#[test]
fn queue_overflow_is_an_explicit_error() {
    let mut r = Rig::new(Config { max_queue_size: 3, ..Config::default() });
    let mut errors = 0;
    for i in 0..10 {
        let res =
            r.input(Input::Enqueue { path: "/x".into(), payload: json!(i), key: None, session_id: None });
        if matches!(res, Err(KeeperError::QueueFull { capacity: 3 })) {
            errors += 1;
        }
    }
    let h = r.k.health(r.now);
    assert_eq!(h.queue.accepted + errors, 10, "every item is either accepted or refused loudly");
    assert!(errors > 0);
    assert!(h.queue.conservation_ok);
}

#[test]
fn flapping_sessions_cannot_grow_the_queue_past_its_size_by_more_than_two_per_session() {
    // Nothing is delivered (no results come back): every status stays queued.
    let mut r = Rig::new(Config { max_queue_size: 20, sync_spacing: 0, ..Config::default() });
    for s in 0..5 {
        r.add(&format!("s{s}"));
    }
    for round in 0..200 {
        for s in 0..5 {
            let id = format!("s{s}");
            let update = if round % 2 == 0 {
                json!({"connection": "open"})
            } else {
                json!({"connection": "close", "lastDisconnect": {"error": {"output": {"statusCode": 428}}}})
            };
            let _ = r.update(&id, update);
            r.now += 10;
        }
    }
    let h = r.k.health(r.now);
    assert!(h.queue.depth <= 20 + 2 * 5, "depth {} over the bound", h.queue.depth);
    assert!(h.queue.superseded > 0, "the overflow is counted, not silent");
    assert!(h.queue.conservation_ok);
}

#[test]
fn restart_resends_what_was_in_flight() {
    let mut r = Rig::new(Config::default());
    r.add("i");
    r.update("i", json!({"qr": "q"})).unwrap();
    let first = r.deliveries()[0].clone();
    let mut restored = Keeper::restore(&r.k.snapshot()).unwrap();
    restored.handle(r.now + 10, Input::Restarted).unwrap();
    assert!(restored.poll_output().is_none(), "pacing still applies");
    let t = restored.poll_timeout().unwrap();
    assert_eq!(t, r.now + 400);
    restored.handle_timeout(t);
    let again = match restored.poll_output() {
        Some(Output::Deliver(d)) => d,
        other => panic!("expected a re-delivery, got {other:?}"),
    };
    assert_eq!(again.idempotency_key, first.idempotency_key, "same key: the backend can dedupe");
    assert_eq!(again.attempt, 2);
}

#[test]
fn restart_with_a_new_inactivity_timeout_applies_it() {
    let mut r = Rig::new(Config { inactive_session_timeout: 600_000, ..Config::default() });
    r.add("idle");
    r.add("busy");
    r.update("busy", json!({"connection": "open"})).unwrap();
    let t0 = r.now;
    // The gateway restarts with a shorter timeout (the js-shim's `restoreWithConfig`).
    let mut state: serde_json::Value = serde_json::from_str(&r.k.snapshot()).unwrap();
    state["config"]["inactiveSessionTimeout"] = json!(60_000);
    r.k = Keeper::restore(&state.to_string()).unwrap();
    assert_eq!(r.k.poll_timeout(), Some(t0 + 60_000), "the new deadline, exactly");
    r.advance_to(t0 + 60_000);
    let removed: Vec<_> = r
        .out
        .iter()
        .filter_map(|o| match o {
            Output::SessionChanged(c) if c.state == SessionState::Removed => Some(c.session_id.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(removed, vec!["idle".to_string()], "the idle session goes, the connected one stays");
    // An unchanged config restores to the very same state.
    let again = Keeper::restore(&r.k.snapshot()).unwrap();
    assert!(again == r.k);
}

#[test]
fn snapshots_of_another_version_are_refused_by_version() {
    let k = Keeper::new(Config::default()).unwrap();
    let mut state: serde_json::Value = serde_json::from_str(&k.snapshot()).unwrap();
    state["version"] = json!(1);
    // An old layout: the version is named, not a parse error deep inside.
    state["sessions"] = json!({"sessions": {"alice": {"handle": 1}}});
    let err = Keeper::restore(&state.to_string()).unwrap_err();
    assert!(err.to_string().contains("version 1 is neither 3 nor 2"), "{err}");
    assert!(Keeper::restore("[]").is_err());
}

#[test]
fn the_pending_status_reaches_the_backend_before_the_first_qr() {
    let mut r = Rig::new(Config::default());
    r.add("erin");
    r.update("erin", json!({"qr": "q1"})).unwrap();
    r.run_backend(r.now + 5_000, |_| 200);
    let order: Vec<String> = r
        .deliveries()
        .iter()
        .map(|d| match d.path.as_ref() {
            "/qr" => format!("qr {}", d.body.to_value()["qr"].as_str().unwrap()),
            _ => format!("status {}", d.body.to_value()["status"].as_str().unwrap()),
        })
        .collect();
    assert_eq!(order, ["status pending", "qr q1"]);
    // Later QRs of the episode do not wait.
    r.update("erin", json!({"qr": "q2"})).unwrap();
    r.advance(1_000);
    assert_eq!(r.deliveries().last().unwrap().body.to_value()["qr"], json!("q2"));
}

#[test]
fn a_held_qr_is_replaced_by_a_newer_one_and_dropped_with_its_session() {
    let mut r = Rig::new(Config::default());
    r.add("fay");
    r.update("fay", json!({"qr": "q1"})).unwrap();
    r.update("fay", json!({"qr": "q2"})).unwrap(); // the status is still in flight
    r.run_backend(r.now + 5_000, |_| 200);
    let qrs: Vec<_> =
        r.deliveries().iter().filter(|d| d.path == "/qr").map(|d| d.body.to_value()["qr"].clone()).collect();
    assert_eq!(qrs, vec![json!("q2")], "only the newest of the held QRs leaves");
    r.add("gus");
    r.update("gus", json!({"qr": "g1"})).unwrap();
    r.input(Input::RemoveSession { session_id: "gus".into(), reason: None }).unwrap();
    r.run_backend(r.now + 5_000, |_| 200);
    assert!(
        r.deliveries().iter().all(|d| d.body.to_value()["qr"] != json!("g1")),
        "held QR of a removed session"
    );
}

#[test]
fn idempotency_keys_differ_between_incarnations() {
    let key = |incarnation| {
        let mut k = Keeper::with_incarnation(Config::default(), incarnation).unwrap();
        let ack =
            k.handle(1, Input::Enqueue { path: "/x".into(), payload: json!(1), key: None, session_id: None });
        match ack.unwrap() {
            Ack::Enqueued { idempotency_key, .. } => idempotency_key,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(key(0xabc), "sk-0000000000000abc-custom-1");
    assert_ne!(key(1), key(2), "a keeper started without its state never reuses a key");
    let k = Keeper::with_incarnation(Config::default(), 7).unwrap();
    assert_eq!(Keeper::restore(&k.snapshot()).unwrap().incarnation(), 7, "kept in the snapshot");
}

#[test]
fn version_2_snapshots_are_migrated_with_an_incarnation_of_their_own() {
    let mut r = Rig::new(Config::default());
    r.add("hal");
    // A removed session whose final status waits behind one in flight keeps its lane.
    r.add("ivy");
    r.update("ivy", json!({"connection": "open"})).unwrap();
    r.input(Input::RemoveSession { session_id: "ivy".into(), reason: None }).unwrap();
    let mut state: serde_json::Value = serde_json::from_str(&r.k.snapshot()).unwrap();
    let kept = state["queue"]["laneIds"]["byId"].clone();
    assert!(kept["ivy"].is_u64(), "{kept}");
    // The version 2 layout: no incarnation, kept lanes in the session table.
    state["version"] = json!(2);
    state.as_object_mut().unwrap().remove("incarnation");
    let lanes = state["queue"].as_object_mut().unwrap().remove("laneIds").unwrap();
    state["sessions"]["retired"] = lanes["byId"].clone();
    state["sessions"]["retiredIds"] = lanes["byHandle"].clone();
    let migrated = Keeper::restore(&state.to_string()).unwrap();
    assert!(migrated.has_session("hal"));
    assert_ne!(migrated.incarnation(), 0);
    let again: serde_json::Value = serde_json::from_str(&migrated.snapshot()).unwrap();
    assert_eq!(again["version"], json!(SNAPSHOT_VERSION));
    assert_eq!(again["queue"]["laneIds"]["byId"], kept, "the kept lane moved to the queue");
}

#[test]
fn meta_travels_in_every_body_of_the_session_and_is_validated() {
    let mut r = Rig::new(Config::default());
    let meta = serde_json::from_value(json!({"phone": "4915112345678", "tenant": "acme"})).unwrap();
    r.input(Input::AddSession { session_id: "ida".into(), meta: Some(meta) }).unwrap();
    r.update("ida", json!({"qr": "q1"})).unwrap();
    r.run_backend(r.now + 5_000, |_| 200);
    assert_eq!(r.deliveries().len(), 2);
    for d in r.deliveries() {
        assert_eq!(
            d.body.to_value()["meta"],
            json!({"phone": "4915112345678", "tenant": "acme"}),
            "{}",
            d.path
        );
    }
    let nested = serde_json::from_value(json!({"a": {"b": 1}})).unwrap();
    let err = r.input(Input::AddSession { session_id: "jo".into(), meta: Some(nested) }).unwrap_err();
    assert!(matches!(err, KeeperError::InvalidItem(_)), "{err}");
    assert!(!r.k.has_session("jo"));
}

#[test]
fn health_is_degraded_while_the_breaker_is_open_and_redirects_are_rejections() {
    let mut r = Rig::new(Config { circuit_breaker_threshold: 2, ..Config::default() });
    for i in 0..4 {
        r.input(Input::Enqueue { path: "/x".into(), payload: json!(i), key: None, session_id: None })
            .unwrap();
    }
    r.run_backend(r.now + 3_000, |_| 302);
    let h = r.k.health(r.now);
    assert_eq!(h.circuit_breaker.state, BreakerState::Closed, "a redirect is not a backend failure");
    assert_eq!(h.queue.dead_lettered, 4);
    assert_eq!(h.status, HealthStatus::Ok);
    for i in 0..4 {
        r.input(Input::Enqueue { path: "/x".into(), payload: json!(i), key: None, session_id: None })
            .unwrap();
    }
    r.run_backend(r.now + 3_000, |_| 500);
    let h = r.k.health(r.now);
    assert_eq!(h.circuit_breaker.state, BreakerState::Open);
    assert_eq!(h.status, HealthStatus::Degraded, "degraded as soon as it is OPEN");
    assert!(h.alerts.is_empty(), "before the long-open alert");
}

#[test]
fn refused_inputs_are_checked_inside_the_keeper() {
    let mut r = Rig::new(Config::default());
    r.add("kim");
    let long = "k".repeat(MAX_KEY_LEN + 1);
    let err = r
        .input(Input::Enqueue { path: "/x".into(), payload: json!(1), key: Some(long), session_id: None })
        .unwrap_err();
    assert!(matches!(err, KeeperError::InvalidItem(_)));
    let reason = Some("r".repeat(MAX_REASON_LEN + 1));
    let err = r.input(Input::RemoveSession { session_id: "kim".into(), reason }).unwrap_err();
    assert!(matches!(err, KeeperError::InvalidItem(_)));
    assert!(r.k.has_session("kim"));
    let err = r.update(&"x".repeat(200), json!({"qr": "q"})).unwrap_err();
    assert!(matches!(err, KeeperError::InvalidSessionId(_)), "{err}");
    assert_eq!(err.http_status(), 400);
    assert_eq!(KeeperError::UnknownSession("a".into()).http_status(), 404);
}

#[test]
fn whatever_is_accepted_restores_even_deeply_nested_payloads() {
    let mut r = Rig::new(Config { sync_spacing: 3_600_000, ..Config::default() });
    let nest = |depth: usize| -> serde_json::Value {
        serde_json::from_str(&format!("{}{}", "[".repeat(depth), "]".repeat(depth))).unwrap()
    };
    let deepest = nest(sessionkeeper_core::MAX_PAYLOAD_DEPTH);
    r.input(Input::Enqueue { path: "/x".into(), payload: deepest, key: None, session_id: None }).unwrap();
    let too_deep = nest(sessionkeeper_core::MAX_PAYLOAD_DEPTH + 1);
    let err = r
        .input(Input::Enqueue { path: "/x".into(), payload: too_deep, key: None, session_id: None })
        .unwrap_err();
    assert!(matches!(err, KeeperError::InvalidItem(_)), "{err}");
    // Queued (spacing keeps it there), snapshotted inside its envelope, read back.
    let restored = Keeper::restore(&r.k.snapshot()).unwrap();
    assert_eq!(restored.snapshot(), r.k.snapshot());
}

#[test]
fn reconfigure_and_to_snapshot_agree_with_their_text_round_trips() {
    let mut r = Rig::new(Config::default());
    r.add("jay");
    r.update("jay", json!({"qr": "q1"})).unwrap();
    let text = r.k.snapshot();
    assert_eq!(r.k.to_snapshot(), sessionkeeper_core::Snapshot::from_json(&text).unwrap());
    let config = Config { inactive_session_timeout: 60_000, ..Config::default() };
    let mut in_place = r.k.clone();
    in_place.reconfigure(config.clone()).unwrap();
    assert!(in_place == Keeper::restore_with_config(&text, config).unwrap());
    let bad = Config { circuit_breaker_threshold: 0, ..Config::default() };
    assert!(in_place.reconfigure(bad).is_err());
}

#[test]
fn payloads_over_the_byte_limit_are_refused_and_change_nothing() {
    let mut r = Rig::new(Config::default());
    let limit = sessionkeeper_core::MAX_PAYLOAD_BYTES;
    // A JSON string of exactly `limit` bytes: its text and two quotes.
    let fits = serde_json::Value::String("a".repeat(limit - 2));
    r.input(Input::Enqueue { path: "/x".into(), payload: fits, key: None, session_id: None }).unwrap();
    let before = r.k.snapshot();
    let over = serde_json::Value::String("a".repeat(limit - 1));
    let err = r
        .input(Input::Enqueue { path: "/x".into(), payload: over, key: None, session_id: None })
        .unwrap_err();
    assert!(matches!(err, KeeperError::InvalidItem(_)), "{err}");
    assert_eq!(r.k.snapshot(), before);
}

#[test]
fn files_that_are_no_snapshot_say_so_in_plain_words() {
    let message = |text: &str| Keeper::restore(text).unwrap_err().to_string();
    for text in ["{}", r#"{"sessions":[]}"#, "[]", r#"{"version":"3"}"#] {
        let m = message(text);
        assert!(m.contains("not a sessionkeeper state file"), "{text}: {m}");
        assert!(!m.contains("missing field"), "{m}");
    }
    assert!(message(r#"{"version":3,"#).contains("not valid JSON"));
    assert!(message("").contains("not valid JSON"));
}

#[test]
fn dead_letters_can_be_sent_again_under_their_key_or_discarded() {
    let mut r = Rig::new(Config { sync_spacing: 0, ..Config::default() });
    let enqueue = |n: u64| Input::Enqueue {
        path: "/orders".into(),
        payload: json!({ "n": n }),
        key: None,
        session_id: None,
    };
    let ack = r.input(enqueue(1)).unwrap();
    let Ack::Enqueued { item_id, idempotency_key } = ack else { panic!("{ack:?}") };
    let first = r.deliveries()[0].delivery_id;
    r.answer(first, 422);
    let letters = r.k.dead_letters();
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].letter.item_id, item_id);
    assert_eq!(letters[0].body, json!({"n": 1}));

    // Retried: sent again with the key the backend saw, and delivered this time.
    r.out.clear();
    r.input(Input::RetryDeadLetter { item_id }).unwrap();
    assert!(r.k.dead_letters().is_empty());
    let again: Vec<(u64, String)> =
        r.deliveries().iter().map(|d| (d.delivery_id, d.idempotency_key.clone())).collect();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].1, idempotency_key);
    r.answer(again[0].0, 200);
    let q = r.k.health(r.now).queue;
    assert_eq!((q.delivered, q.dead_letters_retried, q.dead_letters_kept), (1, 1, 0));
    assert!(q.conservation_ok);

    // A second one discarded; unknown ids refused and nothing changes.
    r.out.clear();
    r.input(enqueue(2)).unwrap();
    let d = r.deliveries()[0].delivery_id;
    r.answer(d, 400);
    let id = r.k.dead_letters()[0].letter.item_id;
    let before = r.k.snapshot();
    let err = r.input(Input::RetryDeadLetter { item_id: 999 }).unwrap_err();
    assert_eq!(err, KeeperError::UnknownDeadLetter(999));
    assert_eq!(err.http_status(), 404);
    assert_eq!(r.k.snapshot(), before);
    r.input(Input::DiscardDeadLetter { item_id: id }).unwrap();
    assert!(r.k.dead_letters().is_empty());
    assert_eq!(
        r.input(Input::DiscardDeadLetter { item_id: id }).unwrap_err(),
        KeeperError::UnknownDeadLetter(id)
    );
    // Kept across a restore.
    let restored = Keeper::restore(&r.k.snapshot()).unwrap();
    assert_eq!(restored.health(r.now).queue.dead_letters_discarded, 1);
}
