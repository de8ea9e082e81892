//! The session table: sessions by handle, adding and removing them, and their exact timers
//! (pending expiry, inactivity, reconnect backoff). What Baileys events do is in
//! [`lifecycle`], the operator's cleanups in [`cleanup`], what the table shows in [`views`].
//!
//! Sessions are stored by handle (a number naming their timers, lanes and reconnect slot); an
//! input's session id is looked up once. The table does not touch the queue: it returns
//! [`Effect`]s that the keeper applies, which keeps these files about sessions only.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

mod cleanup;
mod lifecycle;
mod views;

use serde::{Deserialize, Serialize};

use super::reconnect::ReconnectGate;
use super::state::{BackendStatus, SessionState};
use super::timers::{TimerKind, Timers};
use crate::backoff::backoff;
use crate::baileys::{classify_close, CloseKind, Connection, ConnectionUpdate};
use crate::config::Config;
use crate::hash_index::HashIndex;
use crate::meta::Meta;
use crate::output::{Command, CommandKind, SessionChange};
use crate::reasons::Reason;
use crate::rng::Jitter;
use crate::session_id::SessionId;
use crate::views::{PendingView, SessionCounters, SessionStateCounts, SessionView};

/// What the keeper must do after a session transition.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Emit a socket command.
    Command(Command),
    /// Emit a state change.
    Changed(SessionChange),
    /// Queue a status for the backend.
    Status {
        /// Session.
        session_id: SessionId,
        /// The gateway's fields for it.
        meta: Option<Meta>,
        /// Its handle (names its lanes).
        handle: u64,
        /// Status.
        status: BackendStatus,
        /// Why (absent for `pending` and `connected`).
        reason: Option<Reason>,
        /// When.
        at: u64,
    },
    /// Queue a QR for the backend.
    Qr {
        /// Session's handle (names its QR lane).
        handle: u64,
        /// Session.
        session_id: SessionId,
        /// The gateway's fields for it.
        meta: Option<Meta>,
        /// The QR string (shared with the session's `last_qr`).
        qr: Arc<str>,
        /// When it was produced.
        at: u64,
    },
    /// The session left: the queue keeps its status lane for the id while its final status
    /// waits there.
    KeepLane {
        /// The id.
        session_id: SessionId,
        /// Its handle.
        handle: u64,
    },
    /// Drop the session's queued QRs.
    PurgeQrs {
        /// Session's handle (names its QR lane).
        handle: u64,
        /// The `purgedBy` bucket the dropped QRs are counted in.
        reason: &'static str,
    },
}

/// A pending (QR) episode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Episode {
    since: u64,
    qr_count: u32,
    deadline: u64,
}

/// One session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Session {
    id: SessionId,
    state: SessionState,
    created_at: u64,
    last_event_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    not_connected_since: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    episode: Option<Episode>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_qr: Option<Arc<str>>,
    #[serde(default)]
    reconnect_attempt: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    reconnect_due: Option<u64>,
    #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
    replaced_at: VecDeque<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    last_close_code: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    meta: Option<Meta>,
}

impl Session {
    /// Whether the timer `(at, kind)` is this session's live one (others were cancelled).
    fn has_timer(&self, kind: TimerKind, at: u64, inactive_timeout: u64) -> bool {
        match kind {
            TimerKind::PendingExpiry => self.episode.is_some_and(|e| e.deadline == at),
            TimerKind::Inactive => {
                self.not_connected_since.is_some_and(|t| t.saturating_add(inactive_timeout) == at)
            }
            TimerKind::ReconnectDue => self.reconnect_due == Some(at),
        }
    }
}

/// All sessions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionTable {
    /// Live sessions by handle.
    sessions: HashIndex<u64, Session>,
    /// Live session id -> handle.
    ids: HashIndex<SessionId, u64>,
    timers: Timers,
    next_handle: u64,
    gate: ReconnectGate,
    counters: SessionCounters,
}

impl SessionTable {
    /// Whether the session is known.
    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains_key(id)
    }

    /// Number of sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Counters.
    pub fn counters(&self) -> &SessionCounters {
        &self.counters
    }

    /// A held session's handle: a number naming its queue lanes.
    pub fn handle(&self, id: &str) -> Option<u64> {
        self.ids.get(id).copied()
    }

    /// A handle no session has had (for a lane reserved before its session is added).
    pub fn new_handle(&mut self) -> u64 {
        self.next_handle += 1;
        self.next_handle
    }

    fn get(&self, id: &str) -> Option<&Session> {
        self.sessions.get(self.ids.get(id)?)
    }

    /// The last QR of a pending session.
    pub fn qr(&self, id: &str) -> Option<&str> {
        self.get(id)?.last_qr.as_deref()
    }

    /// Drops cancelled timers from the fronts so `poll_timeout` is exact. Ends every public
    /// method that changes sessions.
    fn settle(&mut self, config: &Config) {
        let live = live_timers(&self.sessions, config.inactive_session_timeout);
        self.timers.settle(self.sessions.len(), live);
    }

    /// After a restore: inactivity deadlines follow `inactiveSessionTimeout`, which a restart
    /// may have changed (the js-shim's `restoreWithConfig`). Adds the timers the config implies
    /// and drops the ones it no longer does; with an unchanged config nothing changes.
    pub fn repair_timers(&mut self, config: &Config) {
        let inactive = config.inactive_session_timeout;
        let present: BTreeSet<(u64, u64)> = self.timers.inactive_entries().collect();
        let missing: Vec<(u64, u64)> = self
            .sessions
            .sorted()
            .into_iter()
            .filter_map(|(h, s)| s.not_connected_since.map(|t| (t.saturating_add(inactive), *h)))
            .filter(|entry| !present.contains(entry))
            .collect();
        if missing.is_empty() {
            return;
        }
        self.timers.compact(live_timers(&self.sessions, inactive));
        for (at, h) in missing {
            self.timers.add(TimerKind::Inactive, at, h);
        }
        self.settle(config);
    }

    /// Adds a session (caller checked it is new) on the lane kept for its id, if any. Its
    /// inactivity clock starts now.
    pub fn add(
        &mut self,
        id: &str,
        kept_lane: Option<(SessionId, u64)>,
        meta: Option<Meta>,
        now: u64,
        config: &Config,
        fx: &mut Vec<Effect>,
    ) {
        let (id, h) = kept_lane.unwrap_or_else(|| (SessionId::from(id), self.new_handle()));
        self.ids.insert(id.clone(), h);
        fx.push(changed(&id, SessionState::New, None, now));
        let session = Session {
            id,
            state: SessionState::New,
            created_at: now,
            last_event_at: now,
            not_connected_since: Some(now),
            episode: None,
            last_qr: None,
            reconnect_attempt: 0,
            reconnect_due: None,
            replaced_at: VecDeque::new(),
            last_close_code: None,
            meta,
        };
        self.sessions.insert(h, session);
        self.timers.add(TimerKind::Inactive, now.saturating_add(config.inactive_session_timeout), h);
        self.counters.added += 1;
        self.settle(config);
    }

    /// Ends a pending episode: close the socket, tell the backend `expired`, forget the session.
    fn expire(&mut self, h: u64, reason: Reason, now: u64, config: &Config, fx: &mut Vec<Effect>) {
        self.counters.expired += 1;
        self.remove_handle(h, BackendStatus::Expired, reason, now, config, fx);
    }

    /// Removes a session: its timers, its slot, its queued QRs; closes its socket and queues its
    /// final status.
    pub fn remove(
        &mut self,
        id: &str,
        final_status: BackendStatus,
        reason: Reason,
        now: u64,
        config: &Config,
        fx: &mut Vec<Effect>,
    ) {
        let Some(&h) = self.ids.get(id) else { return };
        self.remove_handle(h, final_status, reason, now, config, fx);
        self.settle(config);
    }

    fn remove_handle(
        &mut self,
        h: u64,
        final_status: BackendStatus,
        reason: Reason,
        now: u64,
        config: &Config,
        fx: &mut Vec<Effect>,
    ) {
        let Some(s) = self.sessions.remove(&h) else { return };
        let meta = s.meta;
        let id = s.id;
        self.ids.remove(&id);
        fx.push(Effect::KeepLane { session_id: id.clone(), handle: h });
        // Its expiry and inactivity timers died with it; the reconnect one is removed.
        if let Some(due) = s.reconnect_due {
            self.timers.cancel_reconnect(due, h);
        }
        self.counters.removed += 1;
        let close =
            Command { kind: CommandKind::Close, session_id: id.clone(), reason: reason.clone(), at: now };
        fx.push(Effect::Command(close));
        fx.push(Effect::PurgeQrs { handle: h, reason: "session_removed" });
        fx.push(status(&id, &meta, h, final_status, Some(reason.clone()), now));
        fx.push(changed(&id, SessionState::Removed, Some(reason), now));
        self.release_slot(h, now, config, fx);
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: u64, config: &Config, fx: &mut Vec<Effect>) {
        if self.gate.expire(now) {
            // A lease ran out: the slot is simply free again.
            self.grant(now, config, fx);
        }
        let inactive = config.inactive_session_timeout;
        let mut popped = false;
        while let Some((at, kind, h)) = self.timers.pop_due(now) {
            popped = true;
            let Some(s) = self.sessions.get_mut(&h) else { continue };
            if !s.has_timer(kind, at, inactive) {
                continue; // cancelled
            }
            match kind {
                TimerKind::PendingExpiry => {
                    s.episode = None;
                    self.expire(h, Reason::PendingTimeout, now, config, fx);
                }
                TimerKind::Inactive => {
                    s.not_connected_since = None;
                    self.counters.inactive_removed += 1;
                    self.remove_handle(h, BackendStatus::Removed, Reason::Inactive, now, config, fx);
                }
                TimerKind::ReconnectDue => {
                    s.reconnect_due = None;
                    let max = config.max_concurrent_reconnects as usize;
                    if self.gate.try_take(h, now, config.reconnect_slot_timeout, max) {
                        self.counters.reconnects_issued += 1;
                        fx.push(command(&s.id, CommandKind::Reconnect, Reason::Backoff, now));
                    } else {
                        self.counters.reconnects_deferred += 1;
                    }
                }
            }
        }
        if popped {
            self.settle(config);
        }
    }

    /// The earliest timer.
    pub fn poll_timeout(&self) -> Option<u64> {
        crate::clock::soonest([self.timers.next().map(|(t, _, _)| t), self.gate.poll_timeout()])
    }

    /// Sessions in id order, with their handles.
    fn by_id(&self) -> impl Iterator<Item = (u64, &Session)> {
        self.ids.sorted().into_iter().filter_map(|(_, h)| self.sessions.get(h).map(|s| (*h, s)))
    }
}

/// Whether a timer entry is still its session's live one.
fn live_timers(
    sessions: &HashIndex<u64, Session>,
    inactive_timeout: u64,
) -> impl Fn(TimerKind, u64, u64) -> bool + '_ {
    move |kind, at, h| sessions.get(&h).is_some_and(|s| s.has_timer(kind, at, inactive_timeout))
}

fn changed(id: &SessionId, state: SessionState, reason: Option<Reason>, at: u64) -> Effect {
    Effect::Changed(SessionChange { session_id: id.clone(), state, reason, at })
}

fn status(
    id: &SessionId,
    meta: &Option<Meta>,
    handle: u64,
    status: BackendStatus,
    reason: Option<Reason>,
    at: u64,
) -> Effect {
    Effect::Status { session_id: id.clone(), meta: meta.clone(), handle, status, reason, at }
}

fn command(id: &SessionId, kind: CommandKind, reason: Reason, at: u64) -> Effect {
    Effect::Command(Command { kind, session_id: id.clone(), reason, at })
}
