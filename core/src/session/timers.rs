//! The session timers: pending expiry, inactivity and reconnect backoff, exact to the ms.
//!
//! Pending-expiry and inactivity deadlines are `now` plus a fixed delay, and `now` never goes
//! back, so they arrive in deadline order: each kind is a FIFO, O(1) to add. Cancelling one does
//! not search for it: the session's own fields say which deadline is live, and dead entries are
//! dropped when they reach the front ([`Timers::settle`]) or when they outnumber the live ones.
//! Reconnect deadlines are jittered, so they live in an ordered set and are removed exactly.

use std::collections::{BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

/// Timer kinds, ordered so that at equal deadlines expiry beats inactivity beats reconnect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TimerKind {
    /// A pending episode's deadline.
    PendingExpiry,
    /// A session not connected for `inactiveSessionTimeout`.
    Inactive,
    /// A reconnect's backoff is over.
    ReconnectDue,
}

/// All session timers, as `(deadline, session handle)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Timers {
    pending: VecDeque<(u64, u64)>,
    inactive: VecDeque<(u64, u64)>,
    reconnect: BTreeSet<(u64, u64)>,
}

impl Timers {
    /// Adds a timer. `PendingExpiry` and `Inactive` deadlines do not decrease (they are `now`
    /// plus a fixed delay).
    pub fn add(&mut self, kind: TimerKind, at: u64, h: u64) {
        match kind {
            TimerKind::PendingExpiry => push_in_order(&mut self.pending, at, h),
            TimerKind::Inactive => push_in_order(&mut self.inactive, at, h),
            TimerKind::ReconnectDue => {
                self.reconnect.insert((at, h));
            }
        }
    }

    /// Cancels a reconnect timer (the FIFO kinds are cancelled by their session forgetting the
    /// deadline, then [`Self::settle`]).
    pub fn cancel_reconnect(&mut self, at: u64, h: u64) {
        self.reconnect.remove(&(at, h));
    }

    /// Drops dead entries at the fronts, so [`Self::next`] is exact, and compacts a FIFO whose
    /// entries outnumber twice the sessions, so dead entries cannot pile up.
    pub fn settle(&mut self, live_sessions: usize, is_live: impl Fn(TimerKind, u64, u64) -> bool) {
        if self.pending.len().max(self.inactive.len()) > 2 * live_sessions + 64 {
            self.compact(&is_live);
        }
        for (kind, fifo) in
            [(TimerKind::PendingExpiry, &mut self.pending), (TimerKind::Inactive, &mut self.inactive)]
        {
            while let Some(&(at, h)) = fifo.front() {
                if is_live(kind, at, h) {
                    break;
                }
                fifo.pop_front();
            }
        }
    }

    /// Keeps only the live entries of the FIFOs.
    pub fn compact(&mut self, is_live: impl Fn(TimerKind, u64, u64) -> bool) {
        self.pending.retain(|&(at, h)| is_live(TimerKind::PendingExpiry, at, h));
        self.inactive.retain(|&(at, h)| is_live(TimerKind::Inactive, at, h));
    }

    /// The inactivity entries, dead ones included.
    pub fn inactive_entries(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.inactive.iter().copied()
    }

    /// The earliest timer (after [`Self::settle`], always a live one).
    pub fn next(&self) -> Option<(u64, TimerKind, u64)> {
        // Written out: this runs on every input.
        let mut best = self.pending.front().map(|&(at, h)| (at, TimerKind::PendingExpiry, h));
        if let Some(&(at, h)) = self.inactive.front() {
            if best.is_none_or(|(b, _, _)| at < b) {
                best = Some((at, TimerKind::Inactive, h));
            }
        }
        if let Some(&(at, h)) = self.reconnect.first() {
            if best.is_none_or(|(b, _, _)| at < b) {
                best = Some((at, TimerKind::ReconnectDue, h));
            }
        }
        best
    }

    /// Removes and returns the earliest timer if it is due by `now`. It may be dead (the caller
    /// checks against the session and skips it).
    pub fn pop_due(&mut self, now: u64) -> Option<(u64, TimerKind, u64)> {
        let next = self.next().filter(|(at, _, _)| *at <= now)?;
        match next.1 {
            TimerKind::PendingExpiry => self.pending.pop_front(),
            TimerKind::Inactive => self.inactive.pop_front(),
            TimerKind::ReconnectDue => self.reconnect.pop_first(),
        };
        Some(next)
    }

    /// Entries held, dead ones included (for checks).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.pending.len() + self.inactive.len() + self.reconnect.len()
    }

    /// Whether there are none.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Appends to a FIFO kept in deadline order. Deadlines there never decrease; should one ever
/// (a caller bug), it is placed in order rather than fired late.
fn push_in_order(fifo: &mut VecDeque<(u64, u64)>, at: u64, h: u64) {
    if fifo.back().is_none_or(|&(last, _)| last <= at) {
        fifo.push_back((at, h));
    } else {
        let idx = fifo.partition_point(|&(t, _)| t <= at);
        fifo.insert(idx, (at, h));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_kind_breaks_ties_and_dead_fronts_go() {
        let mut t = Timers::default();
        t.add(TimerKind::Inactive, 10, 1);
        t.add(TimerKind::ReconnectDue, 10, 2);
        t.add(TimerKind::PendingExpiry, 10, 3);
        t.add(TimerKind::Inactive, 20, 4);
        t.add(TimerKind::ReconnectDue, 5, 5);
        t.cancel_reconnect(5, 5);
        assert_eq!(t.next(), Some((10, TimerKind::PendingExpiry, 3)));
        // Session 3's episode ended: its entry is dead and leaves the front.
        t.settle(10, |kind, _, h| !(kind == TimerKind::PendingExpiry && h == 3));
        assert_eq!(t.pop_due(10), Some((10, TimerKind::Inactive, 1)));
        assert_eq!(t.pop_due(10), Some((10, TimerKind::ReconnectDue, 2)));
        assert_eq!(t.pop_due(19), None);
        assert_eq!(t.pop_due(20), Some((20, TimerKind::Inactive, 4)));
        assert!(t.is_empty());
    }

    #[test]
    fn dead_entries_stay_bounded() {
        let mut t = Timers::default();
        for i in 0..10_000u64 {
            t.add(TimerKind::Inactive, i, i);
            // The first and the latest are live: dead ones pile up behind a live front.
            t.settle(2, |_, _, h| h == 0 || h == i);
        }
        assert!(t.len() <= 2 * 2 + 64 + 1, "{} entries", t.len());
        assert_eq!(t.pop_due(u64::MAX), Some((0, TimerKind::Inactive, 0)));
    }

    #[test]
    fn out_of_order_deadlines_are_placed_in_order() {
        let mut t = Timers::default();
        t.add(TimerKind::Inactive, 30, 1);
        t.add(TimerKind::Inactive, 10, 2);
        t.add(TimerKind::Inactive, 20, 3);
        let order: Vec<u64> = std::iter::from_fn(|| t.pop_due(100)).map(|(_, _, h)| h).collect();
        assert_eq!(order, vec![2, 3, 1]);
    }
}
