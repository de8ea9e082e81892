//! Shrunk sequences of core bugs the state machine found, replayed through the same harness
//! and invariants (fixed in the core; kept so they stay fixed).

use sessionkeeper_core::{Config, SessionState};

use crate::harness::Harness;
use crate::model::Profile;
use crate::transitions::{CloseWhy, Outcome, Sid, Transition, Update};
use crate::{Edge, Small};

fn replay(config: Config, steps: &[Transition]) -> Harness {
    let mut h = Harness::new(config);
    for step in steps {
        h.apply(step);
    }
    h
}

fn update(i: usize, update: Update) -> Transition {
    Transition::Update { id: Sid::Pool(i), update }
}

fn deliver(status: u16) -> Transition {
    Transition::Deliver { pick: 0, outcome: Outcome::Status(status) }
}

/// A QR in flight failed while a newer QR of its session waited behind it: the old one was
/// retried and delivered stale (latest wins broken). Now it is superseded on return.
#[test]
fn failed_qr_in_flight_is_superseded_by_a_newer_one() {
    let h = replay(
        Small::config(),
        &[
            Transition::AddSession { id: Sid::Pool(3) },
            update(3, Update::Qr), // QR 1 waits for the `pending` status, which leaves
            deliver(200),          // the status is taken: QR 1 is queued
            Transition::HandleTimeout, // and leaves after the spacing
            update(3, Update::Qr), // QR 2 while QR 1 is in flight
            deliver(500),          // QR 1 fails
            Transition::Tick { ms: 1_000 },
        ],
    );
    let q = h.keeper().health(h.keeper().now()).queue;
    assert_eq!(q.superseded, 1, "{q:?}");
    assert_eq!(h.obs.qr_dispatches, 2, "QR 1 once, then QR 2");
}

/// With `reconnectBaseDelay: 0` a transient close scheduled its reconnect at `now` and
/// `poll_timeout` returned `now` itself. Now `handle` fires it in the same call.
#[test]
fn zero_reconnect_delay_reconnects_in_the_same_call() {
    let h = replay(
        Edge::config(),
        &[Transition::AddSession { id: Sid::Pool(2) }, update(2, Update::Close(CloseWhy::NoCode))],
    );
    assert!(h.keeper().poll_timeout().is_none_or(|t| t > h.keeper().now()));
    assert_eq!(h.keeper().health(h.keeper().now()).counters.reconnects_issued, 1);
}

/// A connected session that got a QR, a scan or a new socket's `connecting` without a close
/// had no inactivity deadline: a ghost. Now it is on the clock.
#[test]
fn session_leaving_connected_without_a_close_is_on_the_inactivity_clock() {
    for next in [Update::Qr, Update::NewLogin, Update::Connecting] {
        let h = replay(
            Small::config(),
            &[Transition::AddSession { id: Sid::Pool(2) }, update(2, Update::Open), update(2, next.clone())],
        );
        let view = &h.keeper().sessions(h.keeper().now()).sessions[0];
        assert_ne!(view.state, SessionState::Connected);
        assert!(view.inactive_at.is_some(), "{next:?}: {view:?}");
    }
}

/// A session lane that drained early in a call (its last status dead-lettered) and was refilled
/// later in the same call (the session re-added and removed again) was forgotten at the end of
/// the call: the next incarnation got a new lane and its status overtook the refilled one.
#[test]
fn session_lane_refilled_in_the_call_that_drained_it_keeps_its_order() {
    let _ = replay(
        Small::config(),
        &[
            Transition::AddSession { id: Sid::Pool(1) },
            Transition::CleanupInactive { idle_for_ms: None },
            Transition::Absurd { now: u64::MAX },
            Transition::AddSession { id: Sid::Pool(1) },
            Transition::Tick { ms: 0 },
            Transition::AddSession { id: Sid::Pool(1) },
            Transition::AddSession { id: Sid::Pool(0) },
        ],
    );
}
