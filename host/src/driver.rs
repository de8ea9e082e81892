//! The driver: the one task that owns the [`Keeper`].
//!
//! Inputs arrive on a channel (with a oneshot for the answer); the driver sleeps until the
//! keeper's `poll_timeout` (tokio time), applies what came in batches, journals each batch in
//! one transaction on the store's writer thread and, once that is committed, answers the
//! requests, publishes commands and starts deliveries. Delivery outcomes come back as
//! `Input::DeliveryResult` and are journaled like any other input.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sessionkeeper_core::{Ack, Command, Delivery, DeliveryOutcome, Input, Keeper, KeeperError, Output};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use crate::clock::HostClock;
use crate::command_log::CommandLog;
use crate::delivery::Deliverer;
use crate::metrics::Metrics;
use crate::store::{Job, StoreError, Writer};

/// Inputs applied (and journaled) per batch at most.
const MAX_BATCH: usize = 1_024;
/// A snapshot is also taken after this long if anything was journaled.
const SNAPSHOT_INTERVAL: Duration = Duration::from_secs(60);
/// Capacity of the driver's input channel (senders wait when it is full).
pub const CHANNEL_CAPACITY: usize = 16_384;

/// One journaled call on the keeper: `handle(now, input)`, or `handle_timeout(now)` when
/// `input` is absent. Replaying them in order rebuilds the exact state.
#[derive(Debug, Serialize, Deserialize)]
pub struct Entry {
    /// The `now` of the call.
    pub now: u64,
    /// The input; absent for a timer firing (and for refused inputs, which changed nothing
    /// but the timers due).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Input>,
}

/// [`Entry`] by reference, for writing.
#[derive(Serialize)]
struct EntryRef<'a> {
    now: u64,
    input: &'a Input,
}

/// Why a submitted input got no [`Ack`].
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The keeper refused it (nothing changed).
    #[error(transparent)]
    Keeper(#[from] KeeperError),
    /// It could not be made durable; it was not accepted.
    #[error("{0}")]
    Storage(String),
    /// The driver is shutting down.
    #[error("the service is shutting down")]
    Stopped,
}

type Reply = oneshot::Sender<Result<Ack, DriverError>>;
type ReadFn = Box<dyn FnOnce(&Keeper, u64) + Send>;

/// A message to the driver.
enum Message {
    Input { input: Input, reply: Reply },
    Read(ReadFn),
    Shutdown(oneshot::Sender<()>),
}

/// A cheap, cloneable handle to the driver.
#[derive(Clone)]
pub struct DriverHandle {
    tx: mpsc::Sender<Message>,
}

impl DriverHandle {
    /// Applies an input; answers once it is durable.
    pub async fn submit(&self, input: Input) -> Result<Ack, DriverError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Message::Input { input, reply }).await.map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)?
    }

    /// Runs `f` on the keeper (with the current `now`) and returns its result.
    pub async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Keeper, u64) -> R + Send + 'static,
    ) -> Result<R, DriverError> {
        let (tx, rx) = oneshot::channel();
        let read: ReadFn = Box::new(move |k, now| {
            let _ = tx.send(f(k, now));
        });
        self.tx.send(Message::Read(read)).await.map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)
    }

    /// Stops the driver: no new deliveries, waits (bounded) for those in flight, writes a
    /// final snapshot. Returns when that is done.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Message::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// What a committed batch releases; runs on the store's writer thread.
struct Release {
    replies: Vec<(Reply, Result<Ack, KeeperError>)>,
    commands: Vec<(u64, Command)>,
    deliveries: Vec<Delivery>,
    entries: u64,
}

/// Everything needed to start deliveries and publish commands from any thread.
pub struct Effects {
    /// The runtime deliveries run on.
    pub runtime: tokio::runtime::Handle,
    /// Sends deliveries.
    pub deliverer: Deliverer,
    /// `GET /commands`: recent commands and subscribers.
    pub commands: Arc<CommandLog>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Cancelled when storage fails: the service stops (fail-stop; a restart recovers).
    pub fatal: CancellationToken,
    results: mpsc::UnboundedSender<(u64, DeliveryOutcome)>,
}

impl Effects {
    fn release(&self, release: Release, committed: Result<(), &StoreError>) {
        match committed {
            Ok(()) => {
                self.metrics.journal_entries.fetch_add(release.entries, Relaxed);
                for (reply, result) in release.replies {
                    let _ = reply.send(result.map_err(DriverError::from));
                }
                for (id, command) in release.commands {
                    self.metrics.commands_published.fetch_add(1, Relaxed);
                    self.commands.publish(id, command);
                }
                for delivery in release.deliveries {
                    self.spawn_delivery(delivery);
                }
            }
            Err(e) => {
                for (reply, _) in release.replies {
                    let _ = reply.send(Err(DriverError::Storage(e.to_string())));
                }
                self.fatal.cancel();
            }
        }
    }

    fn spawn_delivery(&self, delivery: Delivery) {
        self.metrics.deliveries_started.fetch_add(1, Relaxed);
        self.metrics.deliveries_in_flight.fetch_add(1, Relaxed);
        let deliverer = self.deliverer.clone();
        let results = self.results.clone();
        let metrics = self.metrics.clone();
        self.runtime.spawn(async move {
            let outcome = deliverer.deliver(&delivery).await;
            metrics.deliveries_in_flight.fetch_sub(1, Relaxed);
            let _ = results.send((delivery.delivery_id, outcome));
        });
    }
}

/// The driver task's state.
pub struct Driver {
    keeper: Keeper,
    clock: HostClock,
    rx: mpsc::Receiver<Message>,
    results: mpsc::UnboundedReceiver<(u64, DeliveryOutcome)>,
    writer: Writer,
    effects: Arc<Effects>,
    next_seq: u64,
    next_command_id: u64,
    since_snapshot: u64,
    last_snapshot: Instant,
    snapshot_running: Arc<AtomicBool>,
    snapshot_every: u64,
    shutdown_timeout: Duration,
    draining: bool,
}

/// Marks a background snapshot as running until dropped: written, failed, or its thread
/// panicked, the next one may start.
struct Running(Arc<AtomicBool>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.store(false, Relaxed);
    }
}

/// How the driver is set up.
pub struct DriverParts {
    /// The recovered keeper.
    pub keeper: Keeper,
    /// The next journal sequence number.
    pub next_seq: u64,
    /// Where the journal goes.
    pub writer: Writer,
    /// Delivers to the backend.
    pub deliverer: Deliverer,
    /// Where commands are published (and numbered from).
    pub commands: Arc<CommandLog>,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Journal entries between snapshots.
    pub snapshot_every: u64,
    /// How long shutdown waits for in-flight deliveries.
    pub shutdown_timeout: Duration,
    /// Cancelled on a storage failure.
    pub fatal: CancellationToken,
    /// How far past the saved keeper time a restart may move it (ms).
    pub max_clock_jump: u64,
}

#[derive(Default)]
struct Batch {
    entries: Vec<(u64, String)>,
    replies: Vec<(Reply, Result<Ack, KeeperError>)>,
    commands: Vec<(u64, Command)>,
    deliveries: Vec<Delivery>,
}

impl Driver {
    /// Builds the driver and its handle. Call [`Driver::run`] on a task. The recovered
    /// keeper is told `Restarted` first: what it had in flight is sent again.
    pub fn new(parts: DriverParts) -> (Self, DriverHandle) {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let (results_tx, results) = mpsc::unbounded_channel();
        let next_command_id = parts.commands.next_id();
        let effects = Arc::new(Effects {
            runtime: tokio::runtime::Handle::current(),
            deliverer: parts.deliverer,
            commands: parts.commands,
            metrics: parts.metrics,
            fatal: parts.fatal,
            results: results_tx,
        });
        let clock = HostClock::start(parts.keeper.now(), parts.max_clock_jump);
        let driver = Self {
            keeper: parts.keeper,
            clock,
            rx,
            results,
            writer: parts.writer,
            effects,
            next_seq: parts.next_seq,
            next_command_id,
            since_snapshot: 0,
            last_snapshot: Instant::now(),
            snapshot_running: Arc::new(AtomicBool::new(false)),
            snapshot_every: parts.snapshot_every,
            shutdown_timeout: parts.shutdown_timeout,
            draining: false,
        };
        (driver, DriverHandle { tx })
    }

    /// Runs until shutdown.
    pub async fn run(mut self) {
        // Whatever was in flight before this start never reported: send it again. The state
        // after this is written as a snapshot before anything is released.
        let mut batch = Batch::default();
        let now = self.clock.now();
        let _ = self.keeper.handle(now, Input::Restarted);
        self.drain_outputs(&mut batch);
        let state = self.keeper.snapshot();
        self.write_snapshot(state);
        self.flush(batch);

        let mut shutdown: Option<oneshot::Sender<()>> = None;
        let mut drain_until = Instant::now();
        loop {
            let wake = self.keeper.poll_timeout().map(|t| self.clock.instant_at(t));
            let mut batch = Batch::default();
            tokio::select! {
                biased;
                Some((delivery_id, outcome)) = self.results.recv() => {
                    self.apply(Input::DeliveryResult { delivery_id, outcome }, None, &mut batch);
                }
                msg = self.rx.recv(), if shutdown.is_none() => match msg {
                    Some(Message::Shutdown(reply)) => {
                        shutdown = Some(reply);
                        self.draining = true;
                        drain_until = Instant::now() + self.drain_timeout();
                    }
                    Some(msg) => self.on_message(msg, &mut batch),
                    None => {
                        let (reply, _) = oneshot::channel();
                        shutdown = Some(reply);
                        self.draining = true;
                        drain_until = Instant::now() + self.drain_timeout();
                    }
                },
                _ = sleep_until(wake.unwrap_or_else(Instant::now)), if wake.is_some() => {
                    self.on_timeout(&mut batch);
                }
                _ = sleep_until(drain_until), if self.draining => {
                    tracing::warn!(
                        in_flight = self.effects.metrics.deliveries_in_flight.load(Relaxed),
                        "shutdown: gave up waiting for in-flight deliveries (they are sent again on restart)"
                    );
                    break;
                }
            }
            while batch.entries.len() < MAX_BATCH {
                if let Ok((delivery_id, outcome)) = self.results.try_recv() {
                    self.apply(Input::DeliveryResult { delivery_id, outcome }, None, &mut batch);
                    continue;
                }
                if shutdown.is_none() {
                    match self.rx.try_recv() {
                        Ok(Message::Shutdown(reply)) => {
                            shutdown = Some(reply);
                            self.draining = true;
                            drain_until = Instant::now() + self.drain_timeout();
                            break;
                        }
                        Ok(msg) => {
                            self.on_message(msg, &mut batch);
                            continue;
                        }
                        Err(_) => {}
                    }
                }
                break;
            }
            self.flush(batch);
            if (self.since_snapshot >= self.snapshot_every
                || (self.since_snapshot > 0 && self.last_snapshot.elapsed() >= SNAPSHOT_INTERVAL))
                && !self.snapshot_running.load(Relaxed)
            {
                self.snapshot_in_background();
            }
            if self.draining && self.effects.metrics.deliveries_in_flight.load(Relaxed) == 0 {
                break;
            }
        }
        // Final snapshot, then tell the caller it is on disk.
        let (tx, rx) = oneshot::channel();
        self.writer.send(Job::Snapshot {
            upto: self.next_seq - 1,
            state: self.keeper.snapshot(),
            then: Some(Box::new(move |r| {
                let _ = tx.send(r.is_ok());
            })),
        });
        if !matches!(rx.await, Ok(true)) {
            tracing::error!("final snapshot failed; the journal still holds every accepted input");
        }
        tracing::info!("driver stopped");
        if let Some(reply) = shutdown {
            let _ = reply.send(());
        }
    }

    fn drain_timeout(&self) -> Duration {
        self.shutdown_timeout
    }

    fn on_message(&mut self, msg: Message, batch: &mut Batch) {
        match msg {
            Message::Input { input, reply } => self.apply(input, Some(reply), batch),
            Message::Read(f) => f(&self.keeper, self.clock.now()),
            Message::Shutdown(_) => unreachable!("handled by the loop"),
        }
    }

    fn apply(&mut self, input: Input, reply: Option<Reply>, batch: &mut Batch) {
        let now = self.clock.now();
        let json = serde_json::to_string(&EntryRef { now, input: &input }).expect("inputs serialize");
        let timer_due = self.keeper.poll_timeout().is_some_and(|at| at <= now);
        let result = self.keeper.handle(now, input);
        let entry = match &result {
            Ok(_) => {
                self.effects.metrics.inputs_accepted.fetch_add(1, Relaxed);
                Some(json)
            }
            Err(e) => {
                // A refused input had exactly the effect of `handle_timeout(now)`: journal that
                // when a timer was due, and nothing when nothing changed (a flood of events for
                // unknown sessions costs no storage).
                self.effects.metrics.record_refusal(e);
                timer_due
                    .then(|| serde_json::to_string(&Entry { now, input: None }).expect("entries serialize"))
            }
        };
        if let Some(entry) = entry {
            batch.entries.push((self.next_seq, entry));
            self.next_seq += 1;
        }
        if let Some(reply) = reply {
            batch.replies.push((reply, result));
        }
        self.drain_outputs(batch);
    }

    fn on_timeout(&mut self, batch: &mut Batch) {
        let now = self.clock.now();
        self.keeper.handle_timeout(now);
        let entry = serde_json::to_string(&Entry { now, input: None }).expect("entries serialize");
        batch.entries.push((self.next_seq, entry));
        self.next_seq += 1;
        self.drain_outputs(batch);
    }

    fn drain_outputs(&mut self, batch: &mut Batch) {
        while let Some(output) = self.keeper.poll_output() {
            match output {
                // While draining for shutdown, new deliveries stay in flight in the keeper's
                // state and are sent again after the restart (`Input::Restarted`).
                Output::Deliver(d) => {
                    if !self.draining {
                        batch.deliveries.push(d);
                    }
                }
                Output::Command(c) => {
                    tracing::info!(session = %c.session_id, kind = ?c.kind, reason = %c.reason, "command");
                    batch.commands.push((self.next_command_id, c));
                    self.next_command_id += 1;
                }
                Output::SessionChanged(c) => {
                    tracing::debug!(session = %c.session_id, state = ?c.state, reason = ?c.reason, "session changed");
                }
                Output::BreakerChanged(c) => {
                    self.effects.metrics.record_transition(c.from, c.to);
                    tracing::warn!(from = ?c.from, to = ?c.to, "circuit breaker changed");
                }
                Output::DeadLettered(d) => {
                    tracing::warn!(item = d.item_id, path = %d.path, reason = %d.reason, attempts = d.attempts, "dead-lettered");
                }
            }
        }
    }

    fn flush(&mut self, batch: Batch) {
        // Commands are stored with the entries that caused them, before anyone sees them.
        let stored: Vec<(u64, String)> = batch
            .commands
            .iter()
            .map(|(id, c)| (*id, serde_json::to_string(c).expect("commands serialise")))
            .collect();
        if batch.entries.is_empty() {
            if batch.replies.is_empty() && batch.commands.is_empty() && batch.deliveries.is_empty() {
                return;
            }
            // No entries to make durable (the startup batch after its snapshot).
            let release = Release {
                replies: batch.replies,
                commands: batch.commands,
                deliveries: batch.deliveries,
                entries: 0,
            };
            let effects = self.effects.clone();
            // Still go through the writer so releases stay in order with earlier batches.
            self.writer.send(Job::Append {
                entries: Vec::new(),
                commands: stored,
                then: Box::new(move |r| effects.release(release, r)),
            });
            return;
        }
        self.since_snapshot += batch.entries.len() as u64;
        let release = Release {
            entries: batch.entries.len() as u64,
            replies: batch.replies,
            commands: batch.commands,
            deliveries: batch.deliveries,
        };
        let effects = self.effects.clone();
        self.writer.send(Job::Append {
            entries: batch.entries,
            commands: stored,
            then: Box::new(move |r| effects.release(release, r)),
        });
    }

    /// Serialising the whole state takes long with many sessions: a copy is serialised on a
    /// blocking thread while the driver goes on (one at a time; the writer ignores a snapshot
    /// older than the one it has).
    fn snapshot_in_background(&mut self) {
        let keeper = self.keeper.clone();
        let upto = self.next_seq - 1;
        let writer = self.writer.clone();
        let done = self.snapshot_done();
        let running = Running(self.snapshot_running.clone());
        running.0.store(true, Relaxed);
        tokio::task::spawn_blocking(move || {
            let state = keeper.snapshot();
            writer.send(Job::Snapshot {
                upto,
                state,
                then: Some(Box::new(move |r| {
                    done(r);
                    drop(running);
                })),
            });
        });
        self.since_snapshot = 0;
        self.last_snapshot = Instant::now();
    }

    /// Counts a written snapshot.
    fn snapshot_done(&self) -> impl FnOnce(Result<(), &StoreError>) + Send + 'static {
        let metrics = self.effects.metrics.clone();
        move |r| {
            if r.is_ok() {
                metrics.snapshots.fetch_add(1, Relaxed);
            }
        }
    }

    /// Writes `state` (the keeper now) as the snapshot, in order with the batches sent so far.
    fn write_snapshot(&mut self, state: String) {
        self.writer.send(Job::Snapshot {
            upto: self.next_seq - 1,
            state,
            then: Some(Box::new(self.snapshot_done())),
        });
        self.since_snapshot = 0;
        self.last_snapshot = Instant::now();
    }
}
