//! The facade: one `Keeper` owning the session table, the breaker and the sync queue.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::breaker::{BreakerState, CircuitBreaker};
use crate::clock::{soonest, Clock};
use crate::config::Config;
use crate::error::{validate_session_id, KeeperError};
use crate::hash_index::HashIndex;
use crate::input::Input;
use crate::output::{BreakerChange, Output, QrBody, StatusBody};
use crate::queue::{idempotency_key, ItemKind, LaneKey, NewItem, Payload, SyncQueue};
use crate::reasons::Reason;
use crate::rng::Jitter;
use crate::session::{BackendStatus, Effect, SessionTable};
use crate::session_id::SessionId;
use crate::snapshot::{Snapshot, SnapshotRef, SNAPSHOT_VERSION};
use crate::views::{Alert, AlertKind, DeadLetterDetail, HealthStatus, HealthView, SessionsView};

/// Longest QR string accepted (Baileys' are about 240 characters).
pub const MAX_QR_LEN: usize = 4_096;
/// Longest custom path accepted.
pub const MAX_PATH_LEN: usize = 512;
/// Longest coalescing key of an `Enqueue`.
pub const MAX_KEY_LEN: usize = 200;
/// Deepest nesting of an `Enqueue` payload: well inside what every JSON reader handles, so
/// whatever was accepted can always be read back from a snapshot or journal.
pub const MAX_PAYLOAD_DEPTH: usize = 64;
/// Largest `Enqueue` payload, in bytes of compact JSON: every edge refuses the same items,
/// whatever its own transport allows.
pub const MAX_PAYLOAD_BYTES: usize = 65_536;
/// Longest operator reason of a `RemoveSession`.
pub const MAX_REASON_LEN: usize = 200;

/// What `handle` answers besides outputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum Ack {
    /// Taken.
    Accepted,
    /// Sessions removed by a cleanup command.
    Removed {
        /// Their ids.
        removed: Vec<String>,
        /// `removed.len()`.
        count: usize,
    },
    /// An item was queued.
    Enqueued {
        /// Its id.
        item_id: u64,
        /// Its idempotency key.
        idempotency_key: String,
    },
}

/// The keeper. See the crate docs for the call contract. Its saved form is a [`Snapshot`].
#[derive(Debug, Clone, PartialEq)]
pub struct Keeper {
    config: Config,
    clock: Clock,
    sessions: SessionTable,
    breaker: CircuitBreaker,
    queue: SyncQueue,
    jitter: Jitter,
    outputs: VecDeque<Output>,
    /// The newest QR of each session whose earlier statuses (its `pending` first of all) have
    /// not reached the backend yet: a backend finds the pending row before the QR, always.
    held_qrs: BTreeMap<u64, QrBody>,
    /// Sessions whose login episode's `pending` status has left: their QRs flow (latest wins
    /// in the QR lane) without waiting for statuses.
    qr_flowing: HashIndex<u64, ()>,
    /// Scratch for a transition's effects, kept so handling an input does not allocate it.
    fx: Vec<Effect>,
}

impl Keeper {
    /// A keeper with a validated config and incarnation 0 (tests, simulations). An edge that
    /// talks to a real backend uses [`Self::with_incarnation`].
    pub fn new(config: Config) -> Result<Self, KeeperError> {
        Self::with_incarnation(config, 0)
    }

    /// A keeper whose idempotency keys carry `incarnation`: a number the edge draws at random
    /// on the keeper's first start, so a keeper started without its old state never reuses a
    /// key the backend has seen. It is kept in the snapshot.
    pub fn with_incarnation(config: Config, incarnation: u64) -> Result<Self, KeeperError> {
        config.validate()?;
        let mut queue = SyncQueue::new(&config);
        queue.set_incarnation(incarnation);
        Ok(Self {
            queue,
            jitter: Jitter::new(config.seed),
            config,
            clock: Clock::default(),
            sessions: SessionTable::default(),
            breaker: CircuitBreaker::new(),
            outputs: VecDeque::new(),
            held_qrs: BTreeMap::new(),
            qr_flowing: HashIndex::default(),
            fx: Vec::new(),
        })
    }

    /// The incarnation in this keeper's idempotency keys.
    pub fn incarnation(&self) -> u64 {
        self.queue.incarnation()
    }

    /// The config.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Feeds one input at `now`. Timers due by `now` fire first. On error the input changed
    /// nothing: the call had exactly the effect of `handle_timeout(now)`.
    pub fn handle(&mut self, now: u64, input: Input) -> Result<Ack, KeeperError> {
        let now = self.clock.advance(now);
        self.fire_timers(now);
        let result = self.apply(now, input);
        // Timers the input set for `now` itself (zero delays, or the end of time) fire now, so
        // `poll_timeout` stays strictly later than `now`.
        self.fire_timers(now);
        self.drive(now);
        result
    }

    /// Fires every timer due by `now` and dispatches what may leave.
    pub fn handle_timeout(&mut self, now: u64) {
        let now = self.clock.advance(now);
        self.fire_timers(now);
        self.drive(now);
    }

    /// The next thing to do. Drain until `None` after every `handle*`.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When to call `handle_timeout` next; always later than the last `now`.
    pub fn poll_timeout(&self) -> Option<u64> {
        soonest([
            self.sessions.poll_timeout(),
            self.breaker.poll_timeout(),
            self.queue.poll_timeout(&self.breaker, &self.config),
        ])
    }

    /// The last effective `now`.
    pub fn now(&self) -> u64 {
        self.clock.now()
    }

    fn apply(&mut self, now: u64, input: Input) -> Result<Ack, KeeperError> {
        // Errors return before any effect, so a buffer lost on them is empty.
        let mut fx = std::mem::take(&mut self.fx);
        let ack = match input {
            Input::AddSession { session_id, meta } => {
                validate_session_id(&session_id)?;
                if let Some(meta) = &meta {
                    meta.validate()?;
                }
                if self.sessions.contains(&session_id) {
                    return Err(KeeperError::SessionExists(session_id));
                }
                let kept_lane = self.queue.lane_ids().take(&session_id);
                self.sessions.add(&session_id, kept_lane, meta, now, &self.config, &mut fx);
                Ack::Accepted
            }
            Input::RemoveSession { session_id, reason } => {
                validate_session_id(&session_id)?;
                if reason.as_ref().is_some_and(|r| r.is_empty() || r.len() > MAX_REASON_LEN) {
                    return Err(KeeperError::InvalidItem(format!(
                        "reason must be 1 to {MAX_REASON_LEN} characters"
                    )));
                }
                self.known(&session_id)?;
                let reason = reason.map_or(Reason::RemovedByOperator, |r| Reason::Operator(r.into()));
                self.sessions.remove(&session_id, BackendStatus::Removed, reason, now, &self.config, &mut fx);
                Ack::Accepted
            }
            Input::ConnectionUpdate { session_id, update } => {
                validate_session_id(&session_id)?;
                self.known(&session_id)?;
                if let Some(qr) = &update.qr {
                    if qr.is_empty() || qr.len() > MAX_QR_LEN {
                        return Err(KeeperError::InvalidItem(format!(
                            "qr must be 1 to {MAX_QR_LEN} characters, got {}",
                            qr.len()
                        )));
                    }
                }
                self.sessions.update(&session_id, update, now, &self.config, &mut self.jitter, &mut fx);
                Ack::Accepted
            }
            Input::DeliveryResult { delivery_id, outcome } => {
                self.queue.on_result(
                    now,
                    delivery_id,
                    &outcome,
                    &mut self.breaker,
                    &mut self.jitter,
                    &self.config,
                    &mut self.outputs,
                );
                Ack::Accepted
            }
            Input::Enqueue { path, payload, key, session_id } => {
                if !path.starts_with('/') || path.len() > MAX_PATH_LEN || path.contains("..") {
                    return Err(KeeperError::InvalidItem(format!(
                        "path must start with `/`, be at most {MAX_PATH_LEN} characters and not contain `..`"
                    )));
                }
                if let Some(id) = &session_id {
                    validate_session_id(id)?;
                }
                if json_depth(&payload) > MAX_PAYLOAD_DEPTH {
                    return Err(KeeperError::payload_too_deep());
                }
                if json_len(&payload) > MAX_PAYLOAD_BYTES {
                    return Err(KeeperError::payload_too_large());
                }
                if key.as_ref().is_some_and(|k| k.is_empty() || k.len() > MAX_KEY_LEN) {
                    return Err(KeeperError::InvalidItem(format!(
                        "key must be 1 to {MAX_KEY_LEN} characters"
                    )));
                }
                let coalesce_key = key.as_ref().map(|k| LaneKey::Custom(format!("key/{k}")));
                let coalesces = coalesce_key.as_ref().is_some_and(|k| self.queue.would_coalesce(k));
                if !coalesces && self.queue.is_full(&self.config) {
                    return Err(KeeperError::QueueFull { capacity: self.config.max_queue_size });
                }
                // Calls tied to a session share its status lane (one order, even across a
                // removal or before the session is added); others get a lane per key, or one
                // shared lane.
                let lane = match (&session_id, &key) {
                    (Some(id), _) => LaneKey::Session(self.lane_handle(id)),
                    (None, Some(key)) => LaneKey::Custom(format!("key/{key}")),
                    (None, None) => LaneKey::Custom("custom".into()),
                };
                let key_session = session_id.clone();
                let item = NewItem {
                    lane,
                    coalesce_key,
                    payload: Payload::Custom {
                        path: path.into(),
                        body: Box::new(payload),
                        session_id: session_id.map(SessionId::from),
                    },
                };
                // Room was checked above; `force` keeps a reserved lane from being left empty.
                let item_id = self
                    .queue
                    .enqueue(now, item, true, &self.config)
                    .map_err(|_| KeeperError::QueueFull { capacity: self.config.max_queue_size })?;
                let idempotency_key = idempotency_key(
                    self.queue.incarnation(),
                    ItemKind::Custom,
                    key_session.as_deref(),
                    item_id,
                );
                Ack::Enqueued { item_id, idempotency_key }
            }
            Input::CleanupInactive { idle_for_ms } => {
                let idle_for = idle_for_ms.unwrap_or(self.config.inactive_session_timeout);
                let removed = self.sessions.cleanup_inactive(now, idle_for, &self.config, &mut fx);
                Ack::Removed { count: removed.len(), removed }
            }
            Input::CleanupPending { older_than_ms } => {
                let older_than = older_than_ms.unwrap_or(self.config.pending_session_timeout);
                let removed = self.sessions.cleanup_pending(now, older_than, &self.config, &mut fx);
                Ack::Removed { count: removed.len(), removed }
            }
            Input::Restarted => {
                self.queue.requeue_in_flight(now, &mut self.breaker);
                Ack::Accepted
            }
            Input::RetryDeadLetter { item_id } => {
                self.retry_dead_letter(now, item_id)?;
                Ack::Accepted
            }
            Input::DiscardDeadLetter { item_id } => {
                if !self.queue.discard_dead(item_id) {
                    return Err(KeeperError::UnknownDeadLetter(item_id));
                }
                Ack::Accepted
            }
        };
        self.apply_effects(now, &mut fx);
        self.fx = fx;
        Ok(ack)
    }

    fn known(&self, id: &str) -> Result<(), KeeperError> {
        if self.sessions.contains(id) {
            Ok(())
        } else {
            Err(KeeperError::UnknownSession(id.to_owned()))
        }
    }

    fn fire_timers(&mut self, now: u64) {
        if let Some((from, to)) = self.breaker.handle_timeout(now) {
            self.outputs.push_back(Output::BreakerChanged(BreakerChange { from, to, at: now }));
        }
        self.queue.expire_leases(now, &mut self.breaker, &mut self.jitter, &self.config, &mut self.outputs);
        let mut fx = std::mem::take(&mut self.fx);
        self.sessions.handle_timeout(now, &self.config, &mut fx);
        self.apply_effects(now, &mut fx);
        self.fx = fx;
    }

    fn drive(&mut self, now: u64) {
        loop {
            self.queue.dispatch(now, &mut self.breaker, &self.config, &mut self.outputs);
            let mut released = false;
            for h in self.queue.take_drained() {
                // The lane may have been refilled since it drained earlier in this call (its
                // session re-added and removed again): then the handle still carries that
                // session's order.
                if self.queue.lane_items(&LaneKey::Session(h)).next().is_none() {
                    if let Some(qr) = self.held_qrs.remove(&h) {
                        self.enqueue_qr(now, h, qr);
                        self.qr_flowing.insert(h, ());
                        released = true;
                    }
                    self.queue.lane_ids().forget(h);
                }
            }
            if !released {
                break;
            }
        }
    }

    /// The handle whose lane carries items for session `id`: the session's own, the one kept
    /// for a removed session whose final status is still queued, or a new one kept for an id
    /// not added yet (so a later `AddSession` keeps that order too).
    /// Checked before anything changes: a refused retry leaves the letter where it was.
    fn retry_dead_letter(&mut self, now: u64, item_id: u64) -> Result<(), KeeperError> {
        match self.queue.dead_kind(item_id) {
            None => return Err(KeeperError::UnknownDeadLetter(item_id)),
            Some((ItemKind::Qr, _)) => {
                return Err(KeeperError::InvalidItem(
                    "a dead-lettered QR is not sent again: it expired".into(),
                ))
            }
            Some((ItemKind::Status, true)) => {
                return Err(KeeperError::InvalidItem(
                    "a newer status of this session was sent since: sending this one again would move the backend's view back".into(),
                ))
            }
            Some(_) => {}
        }
        if self.queue.is_full(&self.config) {
            return Err(KeeperError::QueueFull { capacity: self.config.max_queue_size });
        }
        let (payload, lane) = self.queue.take_dead(item_id).expect("checked above");
        let lane = match payload.session_id().cloned() {
            Some(id) => LaneKey::Session(self.lane_handle(&id)),
            None => lane.expect("a dead item of no session keeps its lane"),
        };
        self.queue.requeue_dead(now, item_id, payload, lane);
        Ok(())
    }

    /// The kept dead letters with their bodies, oldest first.
    pub fn dead_letters(&self) -> Vec<DeadLetterDetail> {
        self.queue.dead_letter_details()
    }

    fn lane_handle(&mut self, id: &str) -> u64 {
        if let Some(h) = self.sessions.handle(id).or_else(|| self.queue.kept_lane(id)) {
            return h;
        }
        let h = self.sessions.new_handle();
        self.queue.lane_ids().keep(SessionId::from(id), h);
        h
    }

    fn enqueue_qr(&mut self, now: u64, handle: u64, body: QrBody) {
        // A session's QRs travel in their own lane, ahead of status backlogs; the lane holds at
        // most one queued QR (latest wins), so QRs are bounded by the number of sessions and
        // need no capacity check.
        let item = NewItem {
            lane: LaneKey::Qr(handle),
            coalesce_key: Some(LaneKey::Qr(handle)),
            payload: Payload::Qr(body),
        };
        let _ = self.queue.enqueue(now, item, true, &self.config);
    }

    fn apply_effects(&mut self, now: u64, fx: &mut Vec<Effect>) {
        for effect in fx.drain(..) {
            match effect {
                Effect::Command(c) => self.outputs.push_back(Output::Command(c)),
                Effect::KeepLane { session_id, handle } => self.queue.lane_ids().keep(session_id, handle),
                Effect::Changed(c) => self.outputs.push_back(Output::SessionChanged(c)),
                Effect::PurgeQrs { handle, reason } => {
                    // A held QR was never queued: it leaves without a trace in the books.
                    self.held_qrs.remove(&handle);
                    self.qr_flowing.remove(&handle);
                    self.queue.purge_qrs(now, &LaneKey::Qr(handle), reason)
                }
                Effect::Status { session_id, meta, handle, status, reason, at } => {
                    if status == BackendStatus::Pending {
                        // A new login episode: its first QR waits for this status.
                        self.qr_flowing.remove(&handle);
                    }
                    let item = NewItem {
                        lane: LaneKey::Session(handle),
                        coalesce_key: None,
                        payload: Payload::Status(StatusBody { at, meta, reason, session_id, status }),
                    };
                    self.queue.enqueue_status(now, item, &self.config);
                }
                Effect::Qr { handle, session_id, meta, qr, at } => {
                    let body = QrBody { at, meta, qr, session_id };
                    if self.qr_flowing.contains_key(&handle) {
                        self.enqueue_qr(now, handle, body);
                    } else if self.queue.lane_items(&LaneKey::Session(handle)).next().is_some() {
                        // The episode's first QRs wait (the newest replacing an older one) until
                        // the session's statuses, its `pending` among them, have left; `drive`
                        // queues the QR when that lane drains. Meanwhile that lane is served as
                        // urgently as QRs, so a status backlog elsewhere does not make it stale.
                        self.held_qrs.insert(handle, body);
                        self.queue.promote(&LaneKey::Session(handle));
                    } else {
                        self.enqueue_qr(now, handle, body);
                        self.qr_flowing.insert(handle, ());
                    }
                }
            }
        }
    }

    /// `GET /sessions`.
    pub fn sessions(&self, now: u64) -> SessionsView {
        let now = now.max(self.clock.now());
        let pending_sessions = self.sessions.pending_views(now);
        SessionsView {
            sessions: self.sessions.views(&self.config),
            pending_count: pending_sessions.len(),
            pending_sessions,
        }
    }

    /// `GET /health`.
    pub fn health(&self, now: u64) -> HealthView {
        let now = now.max(self.clock.now());
        let (by_state, pending) = self.sessions.census();
        let breaker = self.breaker.view(now);
        let mut queue = self.queue.view(now, &self.config);
        queue.held_qrs = self.held_qrs.len() as u64;
        let mut alerts = Vec::new();
        if self.breaker.state() != BreakerState::Closed {
            if let Some(open_for) =
                breaker.open_for_ms.filter(|ms| *ms > self.config.breaker_open_alert_after)
            {
                alerts.push(Alert {
                    kind: AlertKind::BreakerOpen,
                    message: format!("circuit breaker not closed for {} s", open_for / 1_000),
                });
            }
        }
        if pending > self.config.pending_alert_threshold as usize {
            alerts.push(Alert {
                kind: AlertKind::PendingSessions,
                message: format!(
                    "{pending} sessions pending (limit {})",
                    self.config.pending_alert_threshold
                ),
            });
        }
        if queue.depth * 10 >= u64::from(self.config.max_queue_size) * 9 {
            alerts.push(Alert {
                kind: AlertKind::QueueNearCapacity,
                message: format!("{} of {} queue slots used", queue.depth, self.config.max_queue_size),
            });
        }
        if !queue.conservation_ok {
            alerts
                .push(Alert { kind: AlertKind::Accounting, message: "queue counters do not balance".into() });
        }
        let degraded = !alerts.is_empty() || self.breaker.state() == BreakerState::Open;
        HealthView {
            status: if degraded { HealthStatus::Degraded } else { HealthStatus::Ok },
            active_sessions: self.sessions.len(),
            sessions_by_state: by_state,
            connected_sessions: by_state.connected,
            pending_count: pending,
            reconnecting_sessions: by_state.reconnecting,
            reconnect_slots_in_use: self.sessions.slots_in_use(),
            circuit_breaker: breaker,
            queue,
            counters: self.sessions.counters().clone(),
            alerts,
            now,
        }
    }

    /// The last QR of a pending session, for `GET /sessions/{id}/qr`.
    pub fn qr(&self, session_id: &str) -> Option<&str> {
        self.sessions.qr(session_id)
    }

    /// Whether the keeper holds this session.
    pub fn has_session(&self, session_id: &str) -> bool {
        self.sessions.contains(session_id)
    }

    /// Session ids, in order.
    pub fn session_ids(&self) -> impl Iterator<Item = &str> {
        self.sessions.ids()
    }

    /// Items waiting in the queue, without building the whole health view.
    pub fn queue_depth(&self) -> u64 {
        self.queue.depth()
    }

    /// The breaker's state, without building the whole health view.
    pub fn breaker_state(&self) -> BreakerState {
        self.breaker.state()
    }

    /// The whole state as a [`Snapshot`].
    pub fn to_snapshot(&self) -> Snapshot {
        Snapshot {
            version: SNAPSHOT_VERSION,
            incarnation: self.queue.incarnation(),
            config: self.config.clone(),
            clock: self.clock,
            sessions: self.sessions.clone(),
            breaker: self.breaker.clone(),
            queue: self.queue.clone(),
            jitter: self.jitter.clone(),
            outputs: self.outputs.clone(),
            held_qrs: self.held_qrs.clone(),
            qr_flowing: self.qr_flowing.clone(),
        }
    }

    /// The whole state as a snapshot document (deterministic: same state, same bytes), written
    /// without copying the state.
    pub fn snapshot(&self) -> String {
        let view = SnapshotRef {
            version: SNAPSHOT_VERSION,
            incarnation: self.queue.incarnation(),
            config: &self.config,
            clock: &self.clock,
            sessions: &self.sessions,
            breaker: &self.breaker,
            queue: &self.queue,
            jitter: &self.jitter,
            outputs: &self.outputs,
            held_qrs: &self.held_qrs,
            qr_flowing: &self.qr_flowing,
        };
        serde_json::to_string(&view).expect("the state is plain data")
    }

    /// A keeper from a snapshot. Call `handle(now, Input::Restarted)` after a crash so
    /// requests that were in flight are sent again.
    pub fn from_snapshot(snapshot: Snapshot) -> Result<Self, KeeperError> {
        snapshot.config.validate()?;
        let incarnation = snapshot.incarnation();
        let mut keeper = Self {
            config: snapshot.config,
            clock: snapshot.clock,
            sessions: snapshot.sessions,
            breaker: snapshot.breaker,
            queue: snapshot.queue,
            jitter: snapshot.jitter,
            outputs: snapshot.outputs,
            held_qrs: snapshot.held_qrs,
            qr_flowing: snapshot.qr_flowing,
            fx: Vec::new(),
        };
        keeper.queue.set_incarnation(incarnation);
        keeper.sessions.repair_timers(&keeper.config);
        Ok(keeper)
    }

    /// Rebuilds a keeper from [`Self::snapshot`]'s document (or a version 2 one, migrated).
    pub fn restore(snapshot: &str) -> Result<Self, KeeperError> {
        Self::from_snapshot(Snapshot::from_json(snapshot)?)
    }

    /// [`Self::restore`] under another config: a restart applies the config given now (timers
    /// that depend on it follow it).
    pub fn restore_with_config(snapshot: &str, config: Config) -> Result<Self, KeeperError> {
        let mut snapshot = Snapshot::from_json(snapshot)?;
        snapshot.set_config(config);
        Self::from_snapshot(snapshot)
    }

    /// This keeper under another config (a restart applies the config given now; timers that
    /// depend on it follow it), without writing and reading its state.
    pub fn reconfigure(&mut self, config: Config) -> Result<(), KeeperError> {
        config.validate()?;
        self.config = config;
        self.sessions.repair_timers(&self.config);
        Ok(())
    }
}

/// How many arrays and objects a JSON value nests (a scalar is 0, `[]` is 1), without recursion.
/// The length of `value` as compact JSON, counted without building the text.
fn json_len(value: &serde_json::Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, value).expect("a JSON value always serialises");
    count.0
}

fn json_depth(value: &serde_json::Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((v, outer)) = stack.pop() {
        match v {
            serde_json::Value::Array(items) => stack.extend(items.iter().map(|i| (i, outer + 1))),
            serde_json::Value::Object(map) => stack.extend(map.values().map(|i| (i, outer + 1))),
            _ => continue,
        }
        deepest = deepest.max(outer + 1);
    }
    deepest
}
