//! Reconnect gate: a bounded number of sessions reconnect at once; the rest wait in line.
//!
//! A slot is taken when a reconnect command is issued and given back when the new socket
//! reports (`open`, a QR, or a close), when the session goes, or when the slot's lease runs out.
//! Sessions are named by their handle: no strings are copied or compared here.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

/// Slots and the line of sessions waiting for one.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReconnectGate {
    /// Session handle -> lease deadline of its slot.
    held: BTreeMap<u64, u64>,
    leases: BTreeSet<(u64, u64)>,
    /// Sessions whose backoff is over, waiting for a slot, in arrival order.
    line: VecDeque<u64>,
    in_line: BTreeSet<u64>,
}

impl ReconnectGate {
    /// Slots in use.
    pub fn in_use(&self) -> usize {
        self.held.len()
    }

    /// Takes a slot if one is free; otherwise puts the session in line. True when taken.
    pub fn try_take(&mut self, session: u64, now: u64, lease: u64, max: usize) -> bool {
        if self.held.contains_key(&session) {
            return true;
        }
        if self.held.len() < max {
            let until = now.saturating_add(lease);
            self.held.insert(session, until);
            self.leases.insert((until, session));
            true
        } else {
            if self.in_line.insert(session) {
                self.line.push_back(session);
            }
            false
        }
    }

    /// Gives the session's slot back and forgets it in the line. True if it held one.
    pub fn release(&mut self, session: u64) -> bool {
        if self.held.is_empty() && self.in_line.is_empty() {
            return false; // the common case: nobody reconnecting
        }
        if self.in_line.remove(&session) {
            self.line.retain(|s| *s != session);
        }
        match self.held.remove(&session) {
            Some(until) => {
                self.leases.remove(&(until, session));
                true
            }
            None => false,
        }
    }

    /// Next sessions to be granted a slot, as slots free up; each granted one holds a slot.
    pub fn grant_waiting(&mut self, now: u64, lease: u64, max: usize) -> Vec<u64> {
        let mut granted = Vec::new();
        while self.held.len() < max {
            let Some(session) = self.line.pop_front() else { break };
            self.in_line.remove(&session);
            let until = now.saturating_add(lease);
            self.held.insert(session, until);
            self.leases.insert((until, session));
            granted.push(session);
        }
        granted
    }

    /// Releases the slots whose lease ran out; true if any did.
    pub fn expire(&mut self, now: u64) -> bool {
        let mut expired = false;
        while let Some(&(until, session)) = self.leases.first() {
            if until > now {
                break;
            }
            self.leases.pop_first();
            self.held.remove(&session);
            expired = true;
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
        assert!(g.try_take(1, 0, 100, 2));
        assert!(g.try_take(2, 0, 100, 2));
        assert!(!g.try_take(3, 0, 100, 2));
        assert!(!g.try_take(4, 0, 100, 2));
        assert_eq!(g.in_use(), 2);
        assert!(g.release(1));
        assert_eq!(g.grant_waiting(5, 100, 2), vec![3]);
        assert!(!g.expire(99));
        assert!(g.expire(100));
        assert!(!g.held.contains_key(&2));
        assert_eq!(g.grant_waiting(100, 100, 2), vec![4]);
        assert_eq!(g.poll_timeout(), Some(105));
    }
}
