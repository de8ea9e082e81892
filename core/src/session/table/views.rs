//! What the table shows: the `GET /sessions` views and the counts `health` reports.

use super::*;

impl SessionTable {
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
