//! A session's lifecycle from its socket's Baileys events: pending episodes and their QRs, the
//! scan, connects, and closes with what each close code means (remove, reconnect now, back off).

use super::*;

impl SessionTable {
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
    pub(super) fn release_slot(&mut self, h: u64, now: u64, config: &Config, fx: &mut Vec<Effect>) {
        if self.gate.release(h) {
            self.grant(now, config, fx);
        }
    }

    pub(super) fn grant(&mut self, now: u64, config: &Config, fx: &mut Vec<Effect>) {
        let max = config.max_concurrent_reconnects as usize;
        for h in self.gate.grant_waiting(now, config.reconnect_slot_timeout, max) {
            // Sessions leave the line when they go, so every waiting handle is a live session.
            let Some(s) = self.sessions.get(&h) else { continue };
            self.counters.reconnects_issued += 1;
            fx.push(command(&s.id, CommandKind::Reconnect, Reason::Backoff, now));
        }
    }
}
