//! WAL checkpoints on a thread of their own, with their own connection: copying the WAL into
//! the database and its fsyncs take milliseconds, and inside a commit (SQLite's automatic
//! checkpoint) they held every request of the batch. A passive checkpoint never blocks the
//! writer.
//!
//! SQLite starts the WAL over only once a checkpoint has copied all of it, and under a steady
//! load new commits land while this thread copies. So when this thread leaves a large WAL not
//! quite copied, it asks the writer to finish: between two commits the writer copies the few
//! frames left (fsyncs of little data), and its next commit starts the WAL over.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::Connection;

use super::StoreError;

/// Checkpoints are at least this far apart (each costs two fsyncs).
const INTERVAL: Duration = Duration::from_millis(250);
/// WAL frames (pages) past which the writer is asked to finish a checkpoint: each finish holds
/// the commits for its fsyncs, so not too often.
const FINISH_AFTER: i64 = 1_024;
/// WAL file size past which the writer checkpoints and truncates it itself (the checkpoint
/// thread is not keeping up, or could not start).
pub const WAL_LIMIT: u64 = 64 << 20;
/// Size SQLite trims the WAL file to when it starts over (after a large snapshot, say).
pub const WAL_KEEP: u64 = 16 << 20;

/// The writer's side of the checkpoint thread; dropping it stops the thread after a last
/// checkpoint.
pub struct Checkpoints {
    nudge: mpsc::SyncSender<()>,
    finish: Arc<AtomicBool>,
}

impl Checkpoints {
    /// Tells the thread a commit happened. Never waits: a nudge already pending covers this
    /// commit too.
    pub fn committed(&self) {
        let _ = self.nudge.try_send(());
    }

    /// Whether the thread asked the writer to finish a checkpoint (asking once).
    pub fn finish_requested(&self) -> bool {
        self.finish.swap(false, Relaxed)
    }
}

/// Starts the checkpoint thread on the database at `db`. If it cannot open the database it
/// logs why and stops; the writer's [`WAL_LIMIT`] check still bounds the WAL.
pub fn spawn(db: PathBuf) -> (Checkpoints, JoinHandle<()>) {
    let (nudge, rx) = mpsc::sync_channel(1);
    let finish = Arc::new(AtomicBool::new(false));
    let asks = finish.clone();
    let join = std::thread::Builder::new()
        .name("sk-checkpoint".into())
        .spawn(move || match open(&db) {
            Ok(conn) => run(&conn, &rx, &asks),
            Err(e) => tracing::error!(error = %e, "checkpoint thread cannot open the database"),
        })
        .expect("spawn the checkpoint thread");
    (Checkpoints { nudge, finish }, join)
}

fn open(db: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(db)?;
    conn.busy_timeout(Duration::from_secs(2))?;
    Ok(conn)
}

fn run(conn: &Connection, rx: &mpsc::Receiver<()>, finish: &AtomicBool) {
    let mut last = Instant::now();
    while rx.recv().is_ok() {
        if let Some(wait) = INTERVAL.checked_sub(last.elapsed()) {
            std::thread::sleep(wait);
        }
        // Commits during the sleep are covered by this checkpoint.
        while rx.try_recv().is_ok() {}
        // A WAL this long did not start over since the last checkpoint: commits kept landing
        // while it was copied.
        if checkpoint(conn, "PASSIVE").is_some_and(|frames| frames >= FINISH_AFTER) {
            finish.store(true, Relaxed);
        }
        last = Instant::now();
    }
    // The writer is gone: leave an empty WAL behind.
    checkpoint(conn, "TRUNCATE");
}

/// Runs `PRAGMA wal_checkpoint(mode)` and returns the frames in the WAL; a failure is logged
/// and retried later (the WAL still holds everything).
pub fn checkpoint(conn: &Connection, mode: &str) -> Option<i64> {
    let result = conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| r.get::<_, i64>(1));
    match result {
        Ok(frames) => Some(frames),
        Err(e) => {
            tracing::warn!(mode, error = %e, "WAL checkpoint failed; retried later");
            None
        }
    }
}
