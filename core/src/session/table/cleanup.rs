//! The operator's cleanup commands: what they may remove (never a connected session) and why.

use super::*;

impl SessionTable {
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
}
