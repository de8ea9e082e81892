//! The sync queue: holds items for the backend, coalesces, paces, retries, dead-letters.
//!
//! Every accepted item ends in exactly one of: queued, in flight, delivered, superseded,
//! dead-lettered, purged. [`Counters`] keeps the books so the equation can be checked at any time.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use super::item::{Item, ItemKind, NewItem, Payload};
use super::lane_ids::LaneIds;
use super::lane_key::LaneKey;
use super::lanes::Lanes;
use super::pacer::Pacer;
use crate::backoff::backoff;
use crate::breaker::{CircuitBreaker, OutcomeClass, Permit};
use crate::config::Config;
use crate::hash_index::HashIndex;
use crate::input::DeliveryOutcome;
use crate::output::{BreakerChange, DeadLetter, Delivery, Output};
use crate::retry_after::parse_retry_after;
use crate::rng::Jitter;
use crate::views::{DeadLetterDetail, QueueView};

/// The books of the queue.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    /// Items ever accepted.
    pub accepted: u64,
    /// Items waiting.
    pub queued: u64,
    /// Items in flight.
    pub in_flight: u64,
    /// Delivered (2xx).
    pub delivered: u64,
    /// Replaced by a newer item of the same key.
    pub superseded: u64,
    /// Given up on.
    pub dead_lettered: u64,
    /// Dropped on purpose.
    pub purged: u64,
    /// Purged by reason.
    pub purged_by: BTreeMap<String, u64>,
    /// Failed attempts retried.
    pub retries: u64,
    /// Throttled answers.
    pub throttled: u64,
    /// Results for deliveries not in flight.
    pub unknown_results: u64,
    /// Dead letters sent again by an operator.
    #[serde(default)]
    pub dead_letters_retried: u64,
    /// Dead letters discarded by an operator.
    #[serde(default)]
    pub dead_letters_discarded: u64,
}

impl Counters {
    /// `accepted = queued + inFlight + delivered + superseded + deadLettered + purged`.
    pub fn balanced(&self) -> bool {
        self.accepted
            == self.queued
                + self.in_flight
                + self.delivered
                + self.superseded
                + self.dead_lettered
                + self.purged
    }
}

/// A request in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InFlight {
    lane: LaneKey,
    item_id: u64,
    permit: Permit,
    dispatched_at: u64,
    lease_until: u64,
}

/// Why the queue refused an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull;

/// A dead letter's item, kept for a retry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeadItem {
    payload: Payload,
    /// Its lane, for items of no session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    lane: Option<LaneKey>,
    /// A status of its session newer than this one was accepted: sending this one again would
    /// move the backend's view of the session back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    outdated: bool,
}

/// The sync queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncQueue {
    lanes: Lanes,
    in_flight: BTreeMap<u64, InFlight>,
    leases: BTreeSet<(u64, u64)>,
    /// Coalescing key -> (lane, item id, seq) of the queued (not in flight) item holding it.
    /// Every queued item with a key is here, so finding and purging it never scans a lane.
    coalesce: HashIndex<LaneKey, (LaneKey, u64, u64)>,
    next_item_id: u64,
    next_delivery_id: u64,
    pacer: Pacer,
    counters: Counters,
    dead_letters: VecDeque<DeadLetter>,
    /// What each kept dead letter was, so an operator can send it again (same item id, so the
    /// same idempotency key) or discard it. Evicted with its letter.
    #[serde(default)]
    dead_items: BTreeMap<u64, DeadItem>,
    /// Lanes of sessions the table does not hold (removed, or not added yet).
    #[serde(default)]
    lane_ids: LaneIds,
    /// Part of every idempotency key; chosen by the edge at the keeper's first start. Saved at
    /// the top of the snapshot, which sets it again on restore.
    #[serde(skip)]
    incarnation: u64,
}

impl SyncQueue {
    /// An empty queue.
    pub fn new(config: &Config) -> Self {
        Self {
            lanes: Lanes::default(),
            in_flight: BTreeMap::new(),
            leases: BTreeSet::new(),
            coalesce: HashIndex::default(),
            next_item_id: 1,
            next_delivery_id: 1,
            pacer: Pacer::new(config),
            counters: Counters::default(),
            dead_letters: VecDeque::new(),
            dead_items: BTreeMap::new(),
            incarnation: 0,
            lane_ids: LaneIds::default(),
        }
    }

    /// The incarnation in idempotency keys.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// Sets the incarnation (a new keeper, or a migrated snapshot).
    pub fn set_incarnation(&mut self, incarnation: u64) {
        self.incarnation = incarnation;
    }

    /// The lanes kept for sessions the table does not hold.
    pub fn lane_ids(&mut self) -> &mut LaneIds {
        &mut self.lane_ids
    }

    /// The lane handle kept for `id`, if the table does not hold it.
    pub fn kept_lane(&self, id: &str) -> Option<u64> {
        self.lane_ids.get(id)
    }

    /// Serves `lane` with the urgent lanes until it drains.
    pub fn promote(&mut self, lane: &LaneKey) {
        self.lanes.promote(lane);
    }

    /// Items waiting (not in flight).
    pub fn depth(&self) -> u64 {
        self.counters.queued
    }

    /// Whether an item with this key would replace a queued one (and so needs no room).
    pub fn would_coalesce(&self, key: &LaneKey) -> bool {
        self.coalesce.contains_key(key)
    }

    /// Whether a new, non-coalescing item would be refused.
    pub fn is_full(&self, config: &Config) -> bool {
        self.counters.queued >= u64::from(config.max_queue_size)
    }

    /// Accepts an item. `force` skips the capacity check (final statuses of sessions, which are
    /// bounded by the number of sessions and must not be lost). Returns the item id.
    pub fn enqueue(
        &mut self,
        now: u64,
        new: NewItem,
        force: bool,
        config: &Config,
    ) -> Result<u64, QueueFull> {
        let id = self.next_item_id;
        if let Some((lane, old_id, seq)) =
            new.coalesce_key.as_ref().and_then(|k| self.coalesce.get(k)).cloned()
        {
            let slot = self.lanes.find_mut(&lane, seq).filter(|i| i.id == old_id && i.in_flight.is_none());
            if let Some(item) = slot {
                self.next_item_id += 1;
                let key = new.coalesce_key.clone().expect("has key");
                item.supersede(id, new, now);
                self.coalesce.insert(key, (lane, id, seq));
                self.counters.accepted += 1;
                self.counters.superseded += 1;
                return Ok(id);
            }
        }
        if !force && self.is_full(config) {
            return Err(QueueFull);
        }
        self.next_item_id += 1;
        let lane = new.lane.clone();
        if let Some(key) = &new.coalesce_key {
            self.coalesce.insert(key.clone(), (lane.clone(), id, id));
        }
        self.lanes.push(&lane, Item::new(id, new, now), now);
        self.counters.accepted += 1;
        self.counters.queued += 1;
        Ok(id)
    }

    /// Accepts a session's status. Statuses are never refused (they must not be lost), but on a
    /// full queue a new one replaces the newest status still waiting behind the lane's head (it
    /// counts as superseded): the backend still gets the session's latest state, and a flapping
    /// session cannot grow the queue past `maxQueueSize` by more than two items per session.
    pub fn enqueue_status(&mut self, now: u64, new: NewItem, config: &Config) -> u64 {
        if !self.dead_items.is_empty() {
            let session = new.payload.session_id();
            for dead in self.dead_items.values_mut() {
                if dead.payload.kind() == ItemKind::Status && dead.payload.session_id() == session {
                    dead.outdated = true;
                }
            }
        }
        if self.is_full(config) {
            if let Some(lane) = self.lanes.get_mut(&new.lane) {
                let len = lane.items.len();
                if len >= 2 {
                    let tail = lane.items.back_mut().expect("two items");
                    if tail.in_flight.is_none() && tail.kind() == ItemKind::Status {
                        let id = self.next_item_id;
                        self.next_item_id += 1;
                        tail.supersede(id, new, now);
                        self.counters.accepted += 1;
                        self.counters.superseded += 1;
                        return id;
                    }
                }
            }
        }
        self.enqueue(now, new, true, config).expect("forced")
    }

    /// Dispatches every item the breaker and the pacer allow now.
    pub fn dispatch(
        &mut self,
        now: u64,
        breaker: &mut CircuitBreaker,
        config: &Config,
        out: &mut VecDeque<Output>,
    ) {
        self.lanes.wake(now);
        while self.in_flight.len() < config.max_concurrent_messages as usize
            && breaker.can_send(config)
            && self.pacer.next_send_at(config) <= now
        {
            let Some(lane) = self.lanes.pop_ready() else { break };
            let delivery_id = self.next_delivery_id;
            self.next_delivery_id += 1;
            let lane_ref = self.lanes.get_mut(&lane).expect("ready lane exists");
            let item = lane_ref.items.front_mut().expect("ready lane has a head");
            item.in_flight = Some(delivery_id);
            item.attempts += 1;
            if let Some(key) = &item.coalesce_key {
                if self.coalesce.get(key).is_some_and(|(_, id, _)| *id == item.id) {
                    self.coalesce.remove(key);
                }
            }
            let permit = breaker.acquire();
            let lease_until = now.saturating_add(config.delivery_lease_timeout);
            out.push_back(Output::Deliver(Delivery {
                delivery_id,
                item_id: item.id,
                idempotency_key: item.idempotency_key(self.incarnation),
                path: item.payload.path(),
                body: item.payload.body(),
                render_qr: item.payload.render_qr().cloned(),
                attempt: item.attempts,
                session_id: item.payload.session_id().cloned(),
            }));
            self.in_flight.insert(
                delivery_id,
                InFlight { lane, item_id: item.id, permit, dispatched_at: now, lease_until },
            );
            self.leases.insert((lease_until, delivery_id));
            self.counters.queued -= 1;
            self.counters.in_flight += 1;
            self.pacer.on_dispatch(now);
        }
    }

    /// Applies a delivery's result. Unknown or duplicate ids are counted and ignored.
    #[allow(clippy::too_many_arguments)]
    pub fn on_result(
        &mut self,
        now: u64,
        delivery_id: u64,
        outcome: &DeliveryOutcome,
        breaker: &mut CircuitBreaker,
        jitter: &mut Jitter,
        config: &Config,
        out: &mut VecDeque<Output>,
    ) {
        let Some(flight) = self.in_flight.remove(&delivery_id) else {
            self.counters.unknown_results += 1;
            return;
        };
        self.leases.remove(&(flight.lease_until, delivery_id));
        self.counters.in_flight -= 1;
        let (class, status, retry_after) = classify(outcome);
        let latency = now.saturating_sub(flight.dispatched_at);
        if let Some((from, to)) = breaker.record(now, flight.permit, class, config) {
            out.push_back(Output::BreakerChanged(BreakerChange { from, to, at: now }));
        }
        self.pacer.on_outcome(class, latency, config);
        let lane = flight.lane;
        let Some(l) = self.lanes.get_mut(&lane) else { return };
        let Some(item) = l.items.front_mut().filter(|i| i.id == flight.item_id) else { return };
        item.in_flight = None;
        match class {
            OutcomeClass::Success => {
                l.items.pop_front();
                self.counters.delivered += 1;
            }
            OutcomeClass::Rejected => {
                let item = l.items.pop_front().expect("head");
                let reason = format!("rejected ({})", status.unwrap_or(0));
                self.dead_letter(item, &lane, reason, now, config, out);
            }
            OutcomeClass::Throttled => {
                self.counters.throttled += 1;
                let pause = retry_after
                    .and_then(|v| parse_retry_after(&v, now))
                    .unwrap_or(config.throttle_default_pause)
                    .min(config.retry_after_cap);
                let until = now.saturating_add(pause);
                self.pacer.pause_until(until);
                if !self.drop_returned(&lane) {
                    self.head_mut(&lane).not_before = until;
                    self.counters.queued += 1;
                }
            }
            OutcomeClass::Failure => {
                if self.drop_returned(&lane) {
                    self.lanes.reschedule(&lane, now, false);
                    return;
                }
                let l = self.lanes.get_mut(&lane).expect("the head is there");
                let item = l.items.front_mut().expect("the head is there");
                item.failures += 1;
                if item.failures >= config.max_attempts && item.kind() != ItemKind::Status {
                    // Statuses are few and final; they give up only by age (a short outage
                    // must not lose a `connected` or `logged_out`).
                    let item = l.items.pop_front().expect("head");
                    let reason = format!("max attempts ({})", describe(outcome));
                    self.dead_letter(item, &lane, reason, now, config, out);
                } else if now.saturating_sub(item.accepted_at) >= config.max_item_age {
                    let item = l.items.pop_front().expect("head");
                    let reason = format!("max age ({})", describe(outcome));
                    self.dead_letter(item, &lane, reason, now, config, out);
                } else {
                    item.not_before = now.saturating_add(backoff(
                        jitter,
                        config.retry_base_delay,
                        config.retry_max_delay,
                        item.failures,
                    ));
                    self.counters.retries += 1;
                    self.counters.queued += 1;
                }
            }
        }
        self.lanes.reschedule(&lane, now, false);
    }

    /// Requests whose lease ran out count as timeouts.
    pub fn expire_leases(
        &mut self,
        now: u64,
        breaker: &mut CircuitBreaker,
        jitter: &mut Jitter,
        config: &Config,
        out: &mut VecDeque<Output>,
    ) {
        while let Some(&(until, id)) = self.leases.first() {
            if until > now {
                break;
            }
            self.on_result(now, id, &DeliveryOutcome::Timeout, breaker, jitter, config, out);
        }
    }

    /// After a restart nothing in flight will report: put those items back first in line.
    pub fn requeue_in_flight(&mut self, now: u64, breaker: &mut CircuitBreaker) {
        let flights = std::mem::take(&mut self.in_flight);
        self.leases.clear();
        for (_, flight) in flights.into_iter().rev() {
            breaker.release(flight.permit);
            self.counters.in_flight -= 1;
            let Some(l) = self.lanes.get_mut(&flight.lane) else { continue };
            let Some(item) = l.items.front_mut().filter(|i| i.id == flight.item_id) else { continue };
            item.in_flight = None;
            if !self.drop_returned(&flight.lane) {
                self.head_mut(&flight.lane).not_before = now;
                self.counters.queued += 1;
            }
            self.lanes.reschedule(&flight.lane, now, true);
        }
    }

    /// The head of `lane` came back from flight unsent. Drops it if its session went away
    /// meanwhile (purged) or a newer item took its coalescing key (superseded, latest wins);
    /// true if it was dropped.
    fn drop_returned(&mut self, lane: &LaneKey) -> bool {
        let Some(l) = self.lanes.get_mut(lane) else { return false };
        let Some(item) = l.items.front_mut() else { return false };
        if let Some(reason) = item.purge_on_return.take() {
            l.items.pop_front();
            self.count_purged(&reason, 1);
            true
        } else if superseded_while_out(&mut self.coalesce, item, lane) {
            l.items.pop_front();
            self.counters.superseded += 1;
            true
        } else {
            false
        }
    }

    /// The head of a lane that is known to have one.
    fn head_mut(&mut self, lane: &LaneKey) -> &mut Item {
        self.lanes.get_mut(lane).and_then(|l| l.items.front_mut()).expect("the head is there")
    }

    /// Drops the QRs of a session, which live in their own lane `lane` (coalescing key = lane
    /// name): the queued one now, the one in flight when it comes back failed.
    pub fn purge_qrs(&mut self, now: u64, lane: &LaneKey, reason: &str) {
        if let Some(head) = self.lanes.get_mut(lane).and_then(|l| l.items.front_mut()) {
            if head.kind() == ItemKind::Qr && head.in_flight.is_some() {
                head.purge_on_return = Some(reason.into());
            }
        }
        let Some((held_by, id, seq)) = self.coalesce.get(lane).cloned() else { return };
        if &held_by != lane {
            return;
        }
        if let Some(item) = self.lanes.remove_queued(&held_by, seq, now) {
            debug_assert_eq!(item.id, id);
            self.coalesce.remove(lane);
            self.counters.queued -= 1;
            self.count_purged(reason, 1);
        }
    }

    fn count_purged(&mut self, reason: &str, n: u64) {
        self.counters.purged += n;
        // No allocation once a reason has been seen (purges happen on every login).
        match self.counters.purged_by.get_mut(reason) {
            Some(count) => *count += n,
            None => {
                self.counters.purged_by.insert(reason.to_owned(), n);
            }
        }
    }

    fn dead_letter(
        &mut self,
        item: Item,
        lane: &LaneKey,
        reason: String,
        now: u64,
        config: &Config,
        out: &mut VecDeque<Output>,
    ) {
        if let Some(key) = &item.coalesce_key {
            if self.coalesce.get(key).is_some_and(|(_, id, _)| *id == item.id) {
                self.coalesce.remove(key);
            }
        }
        self.counters.dead_lettered += 1;
        let letter = DeadLetter {
            item_id: item.id,
            idempotency_key: item.idempotency_key(self.incarnation),
            path: item.payload.path(),
            session_id: item.payload.session_id().cloned(),
            reason,
            attempts: item.attempts,
            at: now,
        };
        out.push_back(Output::DeadLettered(letter.clone()));
        self.dead_letters.push_back(letter);
        // A session's items are given a lane of that session again when retried (its handle may
        // be reused by then); others go back to the lane they were in.
        // Whatever is left in a session's lane came after it.
        let outdated = item.kind() == ItemKind::Status
            && self.lane_items(lane).any(|i| i.id != item.id && i.kind() == ItemKind::Status);
        let lane = item.payload.session_id().is_none().then(|| lane.clone());
        self.dead_items.insert(item.id, DeadItem { payload: item.payload, lane, outdated });
        while self.dead_letters.len() > config.dead_letter_limit as usize {
            if let Some(old) = self.dead_letters.pop_front() {
                self.dead_items.remove(&old.item_id);
            }
        }
    }

    /// The kept dead letters with what each item was.
    pub fn dead_letter_details(&self) -> Vec<DeadLetterDetail> {
        self.dead_letters
            .iter()
            .filter_map(|l| {
                let item = self.dead_items.get(&l.item_id)?;
                Some(DeadLetterDetail { letter: l.clone(), body: item.payload.body().to_value() })
            })
            .collect()
    }

    /// Takes a kept dead letter out of the list: its item, and the lane it goes back to unless
    /// it is a session's (`None`: the caller gives it its session's lane).
    pub fn take_dead(&mut self, item_id: u64) -> Option<(Payload, Option<LaneKey>)> {
        let item = self.dead_items.remove(&item_id)?;
        self.dead_letters.retain(|l| l.item_id != item_id);
        Some((item.payload, item.lane))
    }

    /// The kind of a kept dead letter's item, and whether a newer status of its session came
    /// since (`None`: no such letter is kept).
    pub fn dead_kind(&self, item_id: u64) -> Option<(ItemKind, bool)> {
        self.dead_items.get(&item_id).map(|d| (d.payload.kind(), d.outdated))
    }

    /// Sends a dead item again: queued at the end of `lane` under its own id, so its
    /// idempotency key is the one the backend saw. Counted as a new acceptance.
    pub fn requeue_dead(&mut self, now: u64, item_id: u64, payload: Payload, lane: LaneKey) {
        let seq = self.next_item_id;
        self.next_item_id += 1;
        let mut item = Item::new(item_id, NewItem { lane: lane.clone(), coalesce_key: None, payload }, now);
        item.seq = seq;
        self.lanes.push(&lane, item, now);
        self.counters.accepted += 1;
        self.counters.queued += 1;
        self.counters.dead_letters_retried += 1;
    }

    /// Forgets a dead letter for good.
    pub fn discard_dead(&mut self, item_id: u64) -> bool {
        let found = self.take_dead(item_id).is_some();
        if found {
            self.counters.dead_letters_discarded += 1;
        }
        found
    }

    /// The next deadline: a lease, the end of a wait, or the next paced dispatch.
    pub fn poll_timeout(&self, breaker: &CircuitBreaker, config: &Config) -> Option<u64> {
        let lease = self.leases.first().map(|(t, _)| *t);
        let wake = self.lanes.next_wake();
        let send = (self.lanes.has_ready()
            && self.in_flight.len() < config.max_concurrent_messages as usize
            && breaker.can_send(config))
        .then(|| self.pacer.next_send_at(config));
        crate::clock::soonest([lease, wake, send])
    }

    /// Items of a lane, for checks and views.
    pub fn lane_items(&self, lane: &LaneKey) -> impl Iterator<Item = &Item> {
        self.lanes.get(lane).into_iter().flat_map(|l| l.items.iter())
    }

    /// The view for `health`.
    pub fn view(&self, now: u64, config: &Config) -> QueueView {
        let c = &self.counters;
        QueueView {
            depth: c.queued,
            in_flight: c.in_flight,
            held_qrs: 0,
            accepted: c.accepted,
            delivered: c.delivered,
            superseded: c.superseded,
            dead_lettered: c.dead_lettered,
            purged: c.purged,
            purged_by: c.purged_by.clone(),
            retries: c.retries,
            throttled: c.throttled,
            unknown_results: c.unknown_results,
            capacity: config.max_queue_size,
            spacing_ms: self.pacer.spacing(config),
            paused_until: self.pacer.paused_until(now),
            conservation_ok: c.balanced(),
            dead_letters: self.dead_letters.iter().cloned().collect(),
            dead_letters_kept: self.dead_letters.len() as u64,
            dead_letters_retried: c.dead_letters_retried,
            dead_letters_discarded: c.dead_letters_discarded,
        }
    }

    /// Handles of session lanes that drained since the last call.
    pub fn take_drained(&mut self) -> Vec<u64> {
        self.lanes.take_drained()
    }
}

/// For an item back from flight (failed, throttled, restart): whether a newer item took its
/// coalescing key while it was out, so it is superseded (latest wins) instead of sent again. If
/// not, the item holds its key again, so a newer item replaces it in place.
fn superseded_while_out(
    coalesce: &mut HashIndex<LaneKey, (LaneKey, u64, u64)>,
    item: &Item,
    lane: &LaneKey,
) -> bool {
    let Some(key) = &item.coalesce_key else { return false };
    match coalesce.get(key) {
        Some((_, id, _)) => *id != item.id,
        None => {
            coalesce.insert(key.clone(), (lane.clone(), item.id, item.seq));
            false
        }
    }
}

/// Outcome -> (class, status, Retry-After).
fn classify(outcome: &DeliveryOutcome) -> (OutcomeClass, Option<u16>, Option<String>) {
    match outcome {
        DeliveryOutcome::Response { status, retry_after } => {
            (outcome.class(), Some(*status), retry_after.clone())
        }
        DeliveryOutcome::Timeout | DeliveryOutcome::NetworkError { .. } => (outcome.class(), None, None),
    }
}

fn describe(outcome: &DeliveryOutcome) -> String {
    match outcome {
        DeliveryOutcome::Response { status, .. } => format!("HTTP {status}"),
        DeliveryOutcome::Timeout => "timeout".into(),
        DeliveryOutcome::NetworkError { message } => format!("network error: {message}"),
    }
}
