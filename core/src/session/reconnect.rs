//! Reconnect gate: a bounded number of sessions reconnect at once; the rest wait in line.
//!
//! A slot is taken when a reconnect command is issued and given back when the new socket
//! reports (`open`, a QR, or a close), when the session goes, or when the slot's lease runs out.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

/// Slots and the line of sessions waiting for one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconnectGate {
    /// Session -> lease deadline of its slot.
    held: BTreeMap<String, u64>,
    leases: BTreeSet<(u64, String)>,
    /// Sessions whose backoff is over, waiting for a slot, in arrival order.
    line: VecDeque<String>,
    in_line: BTreeSet<String>,
}

impl ReconnectGate {
    /// Slots in use.
    pub fn in_use(&self) -> usize {
        self.held.len()
    }

    /// Whether the session holds a slot.
    pub fn holds(&self, session: &str) -> bool {
        self.held.contains_key(session)
    }

    /// Takes a slot if one is free; otherwise puts the session in line. True when taken.
    pub fn try_take(&mut self, session: &str, now: u64, lease: u64, max: usize) -> bool {
        if self.held.contains_key(session) {
            return true;
        }
        if self.held.len() < max {
            let until = now.saturating_add(lease);
            self.held.insert(session.to_owned(), until);
            self.leases.insert((until, session.to_owned()));
            true
        } else {
            if self.in_line.insert(session.to_owned()) {
                self.line.push_back(session.to_owned());
            }
            false
        }
    }

    /// Gives the session's slot back and forgets it in the line. True if it held one.
    pub fn release(&mut self, session: &str) -> bool {
        if self.held.is_empty() && self.in_line.is_empty() {
            return false; // the common case: nobody reconnecting
        }
        if self.in_line.remove(session) {
            self.line.retain(|s| s != session);
        }
        match self.held.remove(session) {
            Some(until) => {
                self.leases.remove(&(until, session.to_owned()));
                true
            }
            None => false,
        }
    }

    /// Next sessions to be granted a slot, as slots free up; each granted one holds a slot.
    pub fn grant_waiting(&mut self, now: u64, lease: u64, max: usize) -> Vec<String> {
        let mut granted = Vec::new();
        while self.held.len() < max {
            let Some(session) = self.line.pop_front() else { break };
            self.in_line.remove(&session);
            let until = now.saturating_add(lease);
            self.held.insert(session.clone(), until);
            self.leases.insert((until, session.clone()));
            granted.push(session);
        }
        granted
    }

    /// Slots whose lease ran out, released.
    pub fn expire(&mut self, now: u64) -> Vec<String> {
        let mut expired = Vec::new();
        while let Some((until, _)) = self.leases.first() {
            if *until > now {
                break;
            }
            let (_, session) = self.leases.pop_first().expect("checked");
            self.held.remove(&session);
            expired.push(session);
        }
        expired
    }

    /// The earliest lease deadline.
    pub fn poll_timeout(&self) -> Option<u64> {
        self.leases.first().map(|(t, _)| *t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_slots_and_fifo_line() {
        let mut g = ReconnectGate::default();
        assert!(g.try_take("a", 0, 100, 2));
        assert!(g.try_take("b", 0, 100, 2));
        assert!(!g.try_take("c", 0, 100, 2));
        assert!(!g.try_take("d", 0, 100, 2));
        assert_eq!(g.in_use(), 2);
        assert!(g.release("a"));
        assert_eq!(g.grant_waiting(5, 100, 2), vec!["c".to_string()]);
        assert_eq!(g.expire(100), vec!["b".to_string()]);
        assert_eq!(g.grant_waiting(100, 100, 2), vec!["d".to_string()]);
        assert_eq!(g.poll_timeout(), Some(105));
    }
}
