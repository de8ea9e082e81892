//! The writer thread: commits batches of journal entries in one transaction (group commit) and
//! only then runs each batch's continuation, which answers the HTTP requests and starts the
//! deliveries. WAL checkpoints run on a [`checkpoint`] thread of their own, so their fsyncs
//! never hold a commit.

use std::sync::mpsc;
use std::thread::JoinHandle;

use super::{checkpoint, Store, StoreError};

/// What runs after a job is durable (or failed).
pub type Continuation = Box<dyn FnOnce(Result<(), &StoreError>) + Send>;

/// A job for the writer thread.
pub enum Job {
    /// Append entries (and the commands they caused), then run the continuation.
    Append {
        /// `(seq, entry JSON)`.
        entries: Vec<(u64, String)>,
        /// `(id, command JSON)`.
        commands: Vec<(u64, String)>,
        /// Runs once the entries are committed (or failed to be).
        then: Continuation,
    },
    /// Store a snapshot covering entries up to `upto` (the journal drops them over the next
    /// commits).
    Snapshot {
        /// Last journal sequence number the state includes.
        upto: u64,
        /// The keeper's JSON.
        state: String,
        /// Runs once it is committed (or failed to be).
        then: Option<Continuation>,
    },
}

/// Handle to the writer thread. Dropping every handle stops the thread after it has written
/// everything sent before.
#[derive(Clone)]
pub struct Writer {
    tx: mpsc::Sender<Job>,
}

/// Appends gathered into one transaction at most.
const MAX_GROUP: usize = 64;

impl Writer {
    /// Moves the store to a new writer thread.
    pub fn spawn(store: Store) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::channel();
        let join = std::thread::Builder::new()
            .name("sk-store".into())
            .spawn(move || {
                let (checkpoints, thread) = checkpoint::spawn(store.db.clone());
                let store = run(store, rx, &checkpoints);
                drop(checkpoints);
                let _ = thread.join();
                // Last: the data directory's lock goes with the store.
                drop(store);
            })
            .expect("spawn the store writer thread");
        (Self { tx }, join)
    }

    /// Queues a job; if the thread is gone the job's continuation gets [`StoreError::Stopped`].
    pub fn send(&self, job: Job) {
        if let Err(mpsc::SendError(job)) = self.tx.send(job) {
            let err = StoreError::Stopped;
            match job {
                Job::Append { then, .. } => then(Err(&err)),
                Job::Snapshot { then: Some(then), .. } => then(Err(&err)),
                Job::Snapshot { then: None, .. } => {}
            }
        }
    }
}

fn run(mut store: Store, rx: mpsc::Receiver<Job>, checkpoints: &checkpoint::Checkpoints) -> Store {
    let mut pending: Option<Job> = None;
    // After a failed write nothing more is written: later entries would follow a hole, and a
    // snapshot would hold inputs whose requests were refused. A restart recovers.
    let mut failed: Option<String> = None;
    loop {
        let job = match pending.take() {
            Some(job) => job,
            None => match rx.recv() {
                Ok(job) => job,
                Err(_) => return store,
            },
        };
        match job {
            Job::Append { mut entries, mut commands, then } => {
                // Group commit: take the appends already waiting into the same transaction.
                let mut thens = vec![then];
                while thens.len() < MAX_GROUP {
                    match rx.try_recv() {
                        Ok(Job::Append { entries: more, commands: more_commands, then }) => {
                            entries.extend(more);
                            commands.extend(more_commands);
                            thens.push(then);
                        }
                        Ok(other) => {
                            pending = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                let result = match &failed {
                    Some(first) => Err(StoreError::Failed(first.clone())),
                    None => store.append(&entries, &commands),
                };
                if let Err(e) = &result {
                    if failed.is_none() {
                        tracing::error!(error = %e, "journal append failed");
                        failed = Some(e.to_string());
                    }
                }
                for then in thens {
                    then(result.as_ref().map(|_| ()));
                }
                after_commit(&store, checkpoints);
            }
            Job::Snapshot { upto, state, then } => {
                let result = match &failed {
                    Some(first) => Err(StoreError::Failed(first.clone())),
                    None => store.save_snapshot(upto, &state),
                };
                if let Err(e) = &result {
                    tracing::error!(error = %e, "snapshot not written");
                }
                if let Some(then) = then {
                    then(result.as_ref().map(|_| ()));
                }
                after_commit(&store, checkpoints);
            }
        }
    }
}

/// Lets the checkpoint thread know, and finishes its checkpoint here when it asks.
fn after_commit(store: &Store, checkpoints: &checkpoint::Checkpoints) {
    checkpoints.committed();
    if checkpoints.finish_requested() {
        store.checkpoint("PASSIVE");
    } else if store.wal_bytes() > checkpoint::WAL_LIMIT {
        store.checkpoint("TRUNCATE");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_runs_continuations_in_order_after_commit() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, join) = Writer::spawn(Store::open(dir.path()).unwrap());
        let (tx, rx) = mpsc::channel();
        for seq in 1..=100u64 {
            let tx = tx.clone();
            writer.send(Job::Append {
                entries: vec![(seq, format!("e{seq}"))],
                commands: vec![(seq, format!("c{seq}"))],
                then: Box::new(move |r| tx.send((seq, r.is_ok())).unwrap()),
            });
        }
        drop(writer);
        join.join().unwrap();
        let got: Vec<_> = rx.try_iter().collect();
        assert_eq!(got, (1..=100).map(|s| (s, true)).collect::<Vec<_>>());
        let store = Store::open(dir.path()).unwrap();
        // Everything is in the database file when the writer has stopped.
        assert_eq!(store.wal_bytes(), 0);
        assert_eq!(store.journal_len().unwrap(), 100);
        assert_eq!(
            store.recent_commands(3).unwrap(),
            vec![(98, "c98".into()), (99, "c99".into()), (100, "c100".into())]
        );
    }
}
