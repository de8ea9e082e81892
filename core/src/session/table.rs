//! The session table: lifecycle transitions from Baileys events, exact timers for pending
//! expiry, inactivity and reconnect backoff, and the operator's cleanup commands.
//!
//! Sessions are stored by handle (a number naming their timers, lanes and reconnect slot); an
//! input's session id is looked up once. The table does not touch the queue: it returns
//! [`Effect`]s that the keeper applies, which keeps this file about sessions only.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

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
    /// Removed sessions whose final status is still queued: if the id comes back it gets the
    /// same handle, so its statuses stay in one lane, in order. Forgotten once the lane drains.
    #[serde(default, skip_serializing_if = "HashIndex::is_empty")]
    retired: HashIndex<SessionId, u64>,
    /// The same, by handle.
    #[serde(default, skip_serializing_if = "HashIndex::is_empty")]
    retired_ids: HashIndex<u64, SessionId>,
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

    /// The session's handle: a number naming its queue lanes, kept by a removed session until
    /// its final status has left (so a session id always maps to one lane at a time).
    pub fn handle(&self, id: &str) -> Option<u64> {
        self.ids.get(id).or_else(|| self.retired.get(id)).copied()
    }

    /// The handle whose lane carries items for session `id`: the session's own, a removed
    /// session's whose final status is still queued, or a new one reserved for an id that is
    /// not known yet (so a later `AddSession` keeps that order too).
    pub fn lane_handle(&mut self, id: &str) -> u64 {
        if let Some(h) = self.handle(id) {
            return h;
        }
        self.next_handle += 1;
        let h = self.next_handle;
        let id = SessionId::from(id);
        self.retired.insert(id.clone(), h);
        self.retired_ids.insert(h, id);
        h
    }

    /// The session lane of handle `h` drained: a removed session behind it is forgotten for good.
    pub fn lane_drained(&mut self, h: u64) {
        if let Some(id) = self.retired_ids.remove(&h) {
            self.retired.remove(&id);
        }
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

    /// Adds a session (caller checked it is new). Its inactivity clock starts now.
    pub fn add(&mut self, id: &str, meta: Option<Meta>, now: u64, config: &Config, fx: &mut Vec<Effect>) {
        let (id, h) = match self.retired.remove(id) {
            Some(h) => (self.retired_ids.remove(&h).unwrap_or_else(|| SessionId::from(id)), h),
            None => {
                self.next_handle += 1;
                (SessionId::from(id), self.next_handle)
            }
        };
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

    /// Applies a `connection.update` (caller checked the session exists and the QR's size).
    pub fn update(
        &mut self,
        id: &str,
        update: ConnectionUpdate,
        now: u64,
        config: &Config,
        jitter: &mut Jitter,
        fx: &mut Vec<Effect>,
    ) {
        let Some(&h) = self.ids.get(id) else { return };
        let Some(s) = self.sessions.get_mut(&h) else { return };
        s.last_event_at = now;
        if update.is_new_login == Some(true) {
            self.on_scan(h, now, fx);
        }
        let close = (update.connection == Some(Connection::Close))
            .then(|| (classify_close(update.status_code(), update.error_message()), update.status_code()));
        if let Some(qr) = update.qr {
            self.on_qr(h, qr, now, config, fx);
        }
        match update.connection {
            Some(Connection::Connecting) => self.on_connecting(h, now, fx),
            Some(Connection::Open) => self.on_open(h, now, config, fx),
            Some(Connection::Close) => {
                if let Some((kind, code)) = close {
                    self.on_close(h, kind, code, now, config, jitter, fx);
                }
            }
            None => {}
        }
        // A session that stops being connected without a close (a new socket's `connecting`,
        // a QR or a scan after `open`) is on the inactivity clock too: no ghosts.
        if let Some(s) = self.sessions.get_mut(&h) {
            if s.state != SessionState::Connected && s.not_connected_since.is_none() {
                s.not_connected_since = Some(now);
                self.timers.add(TimerKind::Inactive, now.saturating_add(config.inactive_session_timeout), h);
            }
        }
        self.settle(config);
    }

    fn on_scan(&mut self, h: u64, now: u64, fx: &mut Vec<Effect>) {
        let Some(s) = self.sessions.get_mut(&h) else { return };
        // Ending the episode cancels its expiry timer.
        s.episode = None;
        s.last_qr = None;
        s.state = SessionState::Scanned;
        fx.push(Effect::PurgeQrs { handle: h, reason: "scanned" });
        fx.push(changed(&s.id, SessionState::Scanned, None, now));
    }

    fn on_qr(&mut self, h: u64, qr: String, now: u64, config: &Config, fx: &mut Vec<Effect>) {
        self.release_slot(h, now, config, fx);
        let Some(s) = self.sessions.get_mut(&h) else { return };
        let episode = match s.episode {
            Some(e) => e,
            None => {
                let deadline = now.saturating_add(config.pending_session_timeout);
                self.timers.add(TimerKind::PendingExpiry, deadline, h);
                fx.push(status(&s.id, &s.meta, h, BackendStatus::Pending, None, now));
                Episode { since: now, qr_count: 0, deadline }
            }
        };
        if episode.qr_count >= config.max_qr_codes {
            s.episode = Some(episode);
            self.expire(h, Reason::MaxQrCodes, now, config, fx);
            return;
        }
        s.episode = Some(Episode { qr_count: episode.qr_count + 1, ..episode });
        let qr: Arc<str> = Arc::from(qr);
        s.last_qr = Some(qr.clone());
        if s.state != SessionState::Pending {
            s.state = SessionState::Pending;
            fx.push(changed(&s.id, SessionState::Pending, None, now));
        }
        self.counters.qr_accepted += 1;
        fx.push(Effect::Qr { handle: h, session_id: s.id.clone(), meta: s.meta.clone(), qr, at: now });
    }

    fn on_connecting(&mut self, h: u64, now: u64, fx: &mut Vec<Effect>) {
        let Some(s) = self.sessions.get_mut(&h) else { return };
        // A pending episode survives socket restarts: only a scan or expiry ends it.
        if s.episode.is_none() && !matches!(s.state, SessionState::Connecting | SessionState::Scanned) {
            s.state = SessionState::Connecting;
            fx.push(changed(&s.id, SessionState::Connecting, None, now));
        }
    }

    fn on_open(&mut self, h: u64, now: u64, config: &Config, fx: &mut Vec<Effect>) {
        self.release_slot(h, now, config, fx);
        let Some(s) = self.sessions.get_mut(&h) else { return };
        // Forgetting the episode and the inactivity clock cancels their timers.
        if s.episode.take().is_some() {
            fx.push(Effect::PurgeQrs { handle: h, reason: "connected" });
        }
        s.not_connected_since = None;
        if let Some(due) = s.reconnect_due.take() {
            self.timers.cancel_reconnect(due, h);
        }
        s.last_qr = None;
        s.reconnect_attempt = 0;
        if s.state != SessionState::Connected {
            s.state = SessionState::Connected;
            fx.push(status(&s.id, &s.meta, h, BackendStatus::Connected, None, now));
            fx.push(changed(&s.id, SessionState::Connected, None, now));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_close(
        &mut self,
        h: u64,
        kind: CloseKind,
        code: Option<u16>,
        now: u64,
        config: &Config,
        jitter: &mut Jitter,
        fx: &mut Vec<Effect>,
    ) {
        self.release_slot(h, now, config, fx);
        let Some(s) = self.sessions.get_mut(&h) else { return };
        s.last_close_code = code;
        match kind {
            CloseKind::LoggedOut => {
                self.remove_handle(h, BackendStatus::LoggedOut, Reason::LoggedOut, now, config, fx);
                return;
            }
            CloseKind::QrExpired => {
                self.expire(h, Reason::QrRefsEnded, now, config, fx);
                return;
            }
            CloseKind::Terminal => {
                self.remove_handle(h, BackendStatus::Removed, Reason::Closed(code), now, config, fx);
                return;
            }
            CloseKind::Replaced => {
                let horizon = now.saturating_sub(config.connection_replaced_window);
                s.replaced_at.retain(|t| *t > horizon);
                s.replaced_at.push_back(now);
                if s.replaced_at.len() >= config.connection_replaced_limit as usize {
                    self.counters.replaced_loops += 1;
                    let reason = Reason::ConnectionReplacedLoop;
                    self.remove_handle(h, BackendStatus::Removed, reason, now, config, fx);
                    return;
                }
            }
            CloseKind::RestartRequired | CloseKind::Transient => {}
        }
        let was_connected = s.state == SessionState::Connected;
        if s.not_connected_since.is_none() {
            s.not_connected_since = Some(now);
            self.timers.add(TimerKind::Inactive, now.saturating_add(config.inactive_session_timeout), h);
        }
        if let Some(due) = s.reconnect_due.take() {
            self.timers.cancel_reconnect(due, h);
        }
        s.state = SessionState::Reconnecting;
        let reason = Reason::Closed(code);
        if was_connected {
            fx.push(status(&s.id, &s.meta, h, BackendStatus::Disconnected, Some(reason.clone()), now));
        }
        fx.push(changed(&s.id, SessionState::Reconnecting, Some(reason), now));
        if kind == CloseKind::RestartRequired {
            // Normal after a scan: reconnect at once, outside the gate and the backoff.
            self.counters.reconnects_issued += 1;
            fx.push(command(&s.id, CommandKind::Reconnect, Reason::RestartRequired, now));
            return;
        }
        s.reconnect_attempt = s.reconnect_attempt.saturating_add(1);
        let delay =
            backoff(jitter, config.reconnect_base_delay, config.reconnect_max_delay, s.reconnect_attempt);
        let due = now.saturating_add(delay);
        s.reconnect_due = Some(due);
        self.timers.add(TimerKind::ReconnectDue, due, h);
    }

    /// Gives back the session's reconnect slot and grants freed slots to waiting sessions.
    fn release_slot(&mut self, h: u64, now: u64, config: &Config, fx: &mut Vec<Effect>) {
        if self.gate.release(h) {
            self.grant(now, config, fx);
        }
    }

    fn grant(&mut self, now: u64, config: &Config, fx: &mut Vec<Effect>) {
        let max = config.max_concurrent_reconnects as usize;
        for h in self.gate.grant_waiting(now, config.reconnect_slot_timeout, max) {
            // Sessions leave the line when they go, so every waiting handle is a live session.
            let Some(s) = self.sessions.get(&h) else { continue };
            self.counters.reconnects_issued += 1;
            fx.push(command(&s.id, CommandKind::Reconnect, Reason::Backoff, now));
        }
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
        self.retired.insert(id.clone(), h);
        self.retired_ids.insert(h, id.clone());
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

    /// Operator: removes sessions neither connected nor pending, idle for at least `idle_for`.
    pub fn cleanup_inactive(
        &mut self,
        now: u64,
        idle_for: u64,
        config: &Config,
        fx: &mut Vec<Effect>,
    ) -> Vec<String> {
        let picked: Vec<(u64, String)> = self
            .by_id()
            .filter(|(_, s)| {
                s.state != SessionState::Connected
                    && s.episode.is_none()
                    && now.saturating_sub(s.last_event_at) >= idle_for
            })
            .map(|(h, s)| (h, s.id.to_string()))
            .collect();
        for (h, _) in &picked {
            self.counters.inactive_removed += 1;
            self.remove_handle(*h, BackendStatus::Removed, Reason::Inactive, now, config, fx);
        }
        self.settle(config);
        picked.into_iter().map(|(_, id)| id).collect()
    }

    /// Operator: expires pending sessions whose episode is at least `older_than` old.
    pub fn cleanup_pending(
        &mut self,
        now: u64,
        older_than: u64,
        config: &Config,
        fx: &mut Vec<Effect>,
    ) -> Vec<String> {
        let picked: Vec<(u64, String)> = self
            .by_id()
            .filter(|(_, s)| s.episode.is_some_and(|e| now.saturating_sub(e.since) >= older_than))
            .map(|(h, s)| (h, s.id.to_string()))
            .collect();
        for (h, _) in &picked {
            self.expire(*h, Reason::PendingCleanup, now, config, fx);
        }
        self.settle(config);
        picked.into_iter().map(|(_, id)| id).collect()
    }

    /// Views of every session, by id.
    pub fn views(&self, config: &Config) -> Vec<SessionView> {
        self.by_id()
            .map(|(_, s)| SessionView {
                session_id: s.id.to_string(),
                state: s.state,
                created_at: s.created_at,
                last_event_at: s.last_event_at,
                not_connected_since: s.not_connected_since,
                inactive_at: s.not_connected_since.map(|t| t.saturating_add(config.inactive_session_timeout)),
                reconnect_attempt: s.reconnect_attempt,
                reconnect_at: s.reconnect_due,
                last_disconnect_code: s.last_close_code,
                has_qr: s.last_qr.is_some(),
            })
            .collect()
    }

    /// Views of the pending sessions.
    pub fn pending_views(&self, now: u64) -> Vec<PendingView> {
        self.by_id()
            .filter_map(|(_, s)| {
                s.episode.map(|e| PendingView {
                    session_id: s.id.to_string(),
                    since: e.since,
                    age_ms: now.saturating_sub(e.since),
                    qr_count: e.qr_count,
                    expires_at: e.deadline,
                })
            })
            .collect()
    }

    /// Sessions by state, and how many are in a pending episode.
    pub fn census(&self) -> (SessionStateCounts, usize) {
        let mut by_state = SessionStateCounts::default();
        let mut pending = 0;
        for s in self.sessions.values() {
            if s.episode.is_some() {
                pending += 1;
            }
            let n = match s.state {
                SessionState::New => &mut by_state.new,
                SessionState::Connecting => &mut by_state.connecting,
                SessionState::Pending => &mut by_state.pending,
                SessionState::Scanned => &mut by_state.scanned,
                SessionState::Connected => &mut by_state.connected,
                SessionState::Reconnecting => &mut by_state.reconnecting,
                SessionState::Removed => continue,
            };
            *n += 1;
        }
        (by_state, pending)
    }

    /// Reconnect slots in use.
    pub fn slots_in_use(&self) -> usize {
        self.gate.in_use()
    }

    /// Session ids in order (for checks).
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.ids.sorted().into_iter().map(|(id, _)| &**id)
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
