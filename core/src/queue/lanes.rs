//! Lanes and their scheduling: per-lane FIFO order, round-robin across lanes.
//!
//! QR lanes (one per session, holding at most one queued QR thanks to coalescing) are urgent:
//! a QR is worthless after 20-60 s, a status is not. Urgent lanes are served first, but every
//! [`NORMAL_EVERY`]th dispatch goes to a normal lane when one is ready, so a flood of QRs cannot
//! starve statuses.
//!
//! Only a lane's head may be dispatched, so a lane's items reach the backend in order. Each lane
//! is in exactly one schedule: `Ready` (head dispatchable now, in the round-robin ring),
//! `Waiting(t)` (head held until `t`), or `Busy` (head in flight). The ring tolerates stale
//! entries (checked on pop) so rescheduling never scans it.

use std::collections::{BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use super::item::Item;
use super::lane_key::LaneKey;
use crate::hash_index::HashIndex;

/// One dispatch in this many is taken from the normal ring when both rings have lanes.
pub const NORMAL_EVERY: u32 = 4;

/// Where a lane stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Sched {
    /// In the ring.
    Ready,
    /// Held until then.
    Waiting(u64),
    /// Head in flight.
    Busy,
}

/// One lane: an ordered list of items.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lane {
    /// Items in delivery order.
    pub items: VecDeque<Item>,
    /// Its schedule.
    pub sched: Sched,
    /// Served from the urgent ring (a QR lane).
    #[serde(default)]
    pub urgent: bool,
}

/// All lanes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lanes {
    lanes: HashIndex<LaneKey, Lane>,
    ready: VecDeque<LaneKey>,
    urgent: VecDeque<LaneKey>,
    waiting: BTreeSet<(u64, LaneKey)>,
    /// Dispatches since the normal ring was last served.
    since_normal: u32,
    /// Session lanes that became empty since the last [`Lanes::take_drained`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    drained: Vec<u64>,
}

impl Lanes {
    /// The lane, if it has items.
    pub fn get(&self, lane: &LaneKey) -> Option<&Lane> {
        self.lanes.get(lane)
    }

    /// The lane, mutable. Callers that change its head must call [`Self::reschedule`].
    pub fn get_mut(&mut self, lane: &LaneKey) -> Option<&mut Lane> {
        self.lanes.get_mut(lane)
    }

    /// The item at `seq` in a lane (lanes are sorted by `seq`).
    pub fn find_mut(&mut self, lane: &LaneKey, seq: u64) -> Option<&mut Item> {
        let l = self.lanes.get_mut(lane)?;
        let idx = l.items.binary_search_by_key(&seq, |i| i.seq).ok()?;
        l.items.get_mut(idx)
    }

    /// Removes the queued (not in flight) item at `seq` and reschedules the lane if it was the head.
    pub fn remove_queued(&mut self, lane: &LaneKey, seq: u64, now: u64) -> Option<Item> {
        let l = self.lanes.get_mut(lane)?;
        let idx = l.items.binary_search_by_key(&seq, |i| i.seq).ok()?;
        if l.items[idx].in_flight.is_some() {
            return None;
        }
        let item = l.items.remove(idx)?;
        if idx == 0 {
            self.reschedule(lane, now, false);
        }
        Some(item)
    }

    /// Handles of session lanes that became empty (their session may be forgotten for good).
    pub fn take_drained(&mut self) -> Vec<u64> {
        std::mem::take(&mut self.drained)
    }

    /// Appends an item, creating and scheduling the lane if needed.
    pub fn push(&mut self, lane: &LaneKey, item: Item, now: u64) {
        match self.lanes.get_mut(lane) {
            Some(l) => l.items.push_back(item),
            None => {
                let not_before = item.not_before;
                let urgent = lane.urgent();
                // A QR lane holds one item (latest wins); others may grow while the backend
                // lags, so they start with room for a few (fewer copies as they grow).
                let mut items = VecDeque::with_capacity(if urgent { 1 } else { 4 });
                items.push_back(item);
                self.lanes.insert(lane.clone(), Lane { items, sched: Sched::Busy, urgent });
                self.place(lane, not_before, now, false);
            }
        }
    }

    /// Re-derives a lane's schedule from its head after the head changed (delivered, failed,
    /// purged, put back). Removes the lane when it is empty. `front` puts it first in the ring.
    pub fn reschedule(&mut self, lane: &LaneKey, now: u64, front: bool) {
        let Some(l) = self.lanes.get_mut(lane) else { return };
        if let Sched::Waiting(t) = l.sched {
            self.waiting.remove(&(t, lane.clone()));
        }
        let head = l.items.front().map(|h| (h.in_flight.is_some(), h.not_before));
        match head {
            None => {
                self.lanes.remove(lane);
                if let LaneKey::Session(h) = lane {
                    self.drained.push(*h);
                }
            }
            Some((true, _)) => l.sched = Sched::Busy,
            Some((false, not_before)) => {
                let was_ready = l.sched == Sched::Ready;
                l.sched = Sched::Busy;
                if was_ready && not_before <= now && !front {
                    // Still in the ring at its old place.
                    l.sched = Sched::Ready;
                } else {
                    self.place(lane, not_before, now, front);
                }
            }
        }
    }

    fn place(&mut self, lane: &LaneKey, not_before: u64, now: u64, front: bool) {
        let Some(l) = self.lanes.get_mut(lane) else { return };
        if not_before > now {
            l.sched = Sched::Waiting(not_before);
            self.waiting.insert((not_before, lane.clone()));
        } else {
            l.sched = Sched::Ready;
            let ring = if l.urgent { &mut self.urgent } else { &mut self.ready };
            if front {
                ring.push_front(lane.clone());
            } else {
                ring.push_back(lane.clone());
            }
            self.compact_ring();
        }
    }

    /// Serves a lane with the urgent ones from now on (until it drains): a session's statuses
    /// while a QR waits for them, so a status backlog elsewhere cannot make that QR stale.
    pub fn promote(&mut self, lane: &LaneKey) {
        let Some(l) = self.lanes.get_mut(lane) else { return };
        if l.urgent {
            return;
        }
        l.urgent = true;
        if l.sched == Sched::Ready {
            // Its entry in the normal ring goes stale (rings skip lanes that are not ready).
            self.urgent.push_back(lane.clone());
            self.compact_ring();
        }
    }

    /// Moves lanes whose wait is over into the ring.
    pub fn wake(&mut self, now: u64) {
        while let Some((t, _)) = self.waiting.first() {
            if *t > now {
                break;
            }
            let (_, lane) = self.waiting.pop_first().expect("checked");
            if let Some(l) = self.lanes.get_mut(&lane) {
                l.sched = Sched::Ready;
                if l.urgent {
                    self.urgent.push_back(lane);
                } else {
                    self.ready.push_back(lane);
                }
            }
        }
        self.compact_ring();
    }

    /// The next lane in round-robin order whose head can be dispatched; marks it busy.
    pub fn pop_ready(&mut self) -> Option<LaneKey> {
        let normal_turn = self.since_normal + 1 >= NORMAL_EVERY;
        let first = if normal_turn { Self::pop_ring(&mut self.ready, &mut self.lanes) } else { None };
        let lane = first
            .or_else(|| Self::pop_ring(&mut self.urgent, &mut self.lanes))
            .or_else(|| Self::pop_ring(&mut self.ready, &mut self.lanes))?;
        let urgent = self.lanes.get(&lane).is_some_and(|l| l.urgent);
        self.since_normal = if urgent { self.since_normal + 1 } else { 0 };
        Some(lane)
    }

    fn pop_ring(ring: &mut VecDeque<LaneKey>, lanes: &mut HashIndex<LaneKey, Lane>) -> Option<LaneKey> {
        while let Some(lane) = ring.pop_front() {
            if let Some(l) = lanes.get_mut(&lane) {
                if l.sched == Sched::Ready {
                    l.sched = Sched::Busy;
                    return Some(lane);
                }
            }
        }
        None
    }

    /// Whether some lane may be ready (the ring may hold stale entries).
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty() || !self.urgent.is_empty()
    }

    /// The earliest end of a wait.
    pub fn next_wake(&self) -> Option<u64> {
        self.waiting.first().map(|(t, _)| *t)
    }

    /// Drops stale ring entries once they outnumber the lanes, so the ring stays bounded.
    fn compact_ring(&mut self) {
        if self.ready.len() + self.urgent.len() <= 2 * self.lanes.len() + 16 {
            return;
        }
        let lanes = &self.lanes;
        for ring in [&mut self.urgent, &mut self.ready] {
            let mut seen = BTreeSet::new();
            ring.retain(|lane| {
                lanes.get(lane).is_some_and(|l| l.sched == Sched::Ready) && seen.insert(lane.clone())
            });
        }
    }
}
