//! Durable state in SQLite (WAL): the latest snapshot of the keeper plus a journal of every call
//! made on it since (inputs and timer firings, with their `now`). Restore = snapshot + replay.
//! The socket commands published on `/commands` are stored with the journal entries that caused
//! them (the last [`crate::command_log::KEEP`]), so workers can catch up after a restart.
//!
//! Writes run on one dedicated thread ([`Writer`]); WAL checkpoints on another
//! ([`checkpoint`]). `synchronous=NORMAL` in WAL mode survives a process kill at any moment
//! (not a power cut: use a battery-backed disk for that).
//!
//! Beside the database, [`POSITION_FILE`] holds the last journal sequence number committed,
//! rewritten after every commit. A start that finds the database behind it (a deleted or zeroed
//! WAL, a truncated or replaced database file) knows committed entries are gone and says so,
//! instead of starting on older state.

mod checkpoint;
mod writer;

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

pub use writer::{Continuation, Job, Writer};

/// File name of the database under `dataDir`.
pub const DB_FILE: &str = "sessionkeeper.db";
/// File name, under `dataDir`, of the last committed journal position.
pub const POSITION_FILE: &str = "sessionkeeper.position";

/// Records in the database that the position file is kept (so losing that file is noticed).
const TRACK_POSITION: &str = "INSERT OR IGNORE INTO meta (key, value) VALUES ('position', 'kept')";

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("storage: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The data directory cannot be used.
    #[error("storage: data directory {path}: {source}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Stored data that cannot be read back.
    #[error("storage: {0}")]
    Corrupt(String),
    /// The journal skips entries: some committed inputs are gone.
    #[error("storage: the journal jumps from entry {after} to entry {next}: entries in between are missing. Restore them, or start with --accept-data-loss to go on without them")]
    Gap {
        /// The last entry before the gap.
        after: u64,
        /// The first entry after it.
        next: u64,
    },
    /// An earlier write failed; nothing is written after it.
    #[error("storage failed earlier ({0}); nothing more is written until a restart")]
    Failed(String),
    /// Another process holds the data directory.
    #[error("storage: data directory {0} is in use by another sessionkeeper process")]
    InUse(PathBuf),
    /// The writer thread is gone.
    #[error("storage: writer stopped")]
    Stopped,
}

/// The embedded store.
pub struct Store {
    conn: Connection,
    /// The database file, for the checkpoint thread's own connection.
    db: PathBuf,
    position: std::fs::File,
    /// Whether the database records that a position file is kept.
    tracked: bool,
    /// Journal entries up to this one are covered by the snapshot and deleted a chunk per
    /// commit (deleting them all at once held the commits behind it).
    trim_upto: u64,
}

/// Journal entries deleted per commit while a snapshot's entries are trimmed.
const TRIM_CHUNK: i64 = 2_048;

/// What the position file says about the database, read at open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// The database holds every committed entry (or nothing was ever committed).
    Whole,
    /// Committed entries after `found` up to `expected` are gone.
    Behind {
        /// The last entry the database holds (the snapshot's or the journal's).
        found: u64,
        /// The last entry that was committed.
        expected: u64,
    },
    /// The position file is missing or unreadable while the database says it kept one.
    Unknown,
}

/// The latest snapshot: the journal sequence number it includes, and the keeper's JSON.
pub type Snapshot = (u64, String);

impl Store {
    /// Opens (creating if needed) the store under `dir`.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_capped(dir, 0)
    }

    /// Opens the store with the database capped at `max_mb` MiB (0: no cap); past it a write
    /// fails as it does on a full disk.
    pub fn open_capped(dir: &Path, max_mb: u64) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir { path: dir.into(), source })?;
        let path = dir.join(POSITION_FILE);
        let position = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|source| StoreError::Dir { path: path.clone(), source })?;
        // One process per data directory: the lock lives as long as the file handle (and the
        // process: a kill releases it).
        position.try_lock().map_err(|e| match e {
            std::fs::TryLockError::WouldBlock => StoreError::InUse(dir.into()),
            std::fs::TryLockError::Error(source) => StoreError::Dir { path: path.clone(), source },
        })?;
        let db = dir.join(DB_FILE);
        let conn = Connection::open(&db)?;
        conn.busy_timeout(std::time::Duration::from_secs(2))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Checkpoints (and their fsyncs) run on the checkpoint thread, never inside a commit.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.pragma_update(None, "journal_size_limit", checkpoint::WAL_KEEP as i64)?;
        if max_mb > 0 {
            let page: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0))?;
            let pages = (max_mb.saturating_mul(1 << 20) / page.max(1) as u64).max(1);
            conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))?;
        }
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS journal (seq INTEGER PRIMARY KEY, entry TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS snapshot (id INTEGER PRIMARY KEY CHECK (id = 1),
                 upto INTEGER NOT NULL, state TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS commands (id INTEGER PRIMARY KEY, command TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        )?;
        let tracked =
            conn.query_row("SELECT 1 FROM meta WHERE key = 'position'", [], |_| Ok(())).optional()?.is_some();
        let trim_upto = conn
            .query_row("SELECT upto FROM snapshot WHERE id = 1", [], |r| r.get::<_, i64>(0))
            .optional()?
            .unwrap_or(0) as u64;
        Ok(Self { conn, db, position, tracked, trim_upto })
    }

    /// The last journal sequence number the database holds (in the snapshot or the journal).
    pub fn last_seq(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row(
            "SELECT MAX(COALESCE((SELECT MAX(seq) FROM journal), 0), COALESCE((SELECT upto FROM snapshot WHERE id = 1), 0))",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }

    /// Compares the database with the position file.
    pub fn check_position(&self) -> Result<Position, StoreError> {
        let tracked = self.tracked;
        use std::os::unix::fs::FileExt as _;
        let mut buf = [0u8; 64];
        let n = self
            .position
            .read_at(&mut buf, 0)
            .map_err(|e| StoreError::Corrupt(format!("{POSITION_FILE}: {e}")))?;
        let text = String::from_utf8_lossy(&buf[..n]);
        let found = self.last_seq()?;
        let recorded = text.trim();
        if recorded.is_empty() {
            // A new data directory, or one written before positions were kept; but a database
            // that kept one has lost its position file.
            return Ok(if tracked { Position::Unknown } else { Position::Whole });
        }
        match recorded.parse::<u64>() {
            Ok(expected) if expected > found => Ok(Position::Behind { found, expected }),
            Ok(_) => Ok(Position::Whole),
            Err(_) => Ok(Position::Unknown),
        }
    }

    /// Records that the database holds everything up to `seq` (and that positions are kept).
    pub fn record_position(&mut self, seq: u64) -> Result<(), StoreError> {
        use std::os::unix::fs::FileExt as _;
        if !self.tracked {
            self.conn.execute(TRACK_POSITION, [])?;
            self.tracked = true;
        }
        // Fixed width: an overwrite never leaves digits of a longer number behind.
        self.position
            .write_all_at(format!("{seq:020}\n").as_bytes(), 0)
            .map_err(|source| StoreError::Dir { path: POSITION_FILE.into(), source })
    }

    /// The keeper's incarnation: `fresh` stored on the data directory's first start, the stored
    /// one ever after (also before the first snapshot, so a crash then replays under it).
    pub fn incarnation(&self, fresh: u64) -> Result<u64, StoreError> {
        self.conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES ('incarnation', ?1)",
            [format!("{fresh:016x}")],
        )?;
        let stored: String =
            self.conn.query_row("SELECT value FROM meta WHERE key = 'incarnation'", [], |r| r.get(0))?;
        u64::from_str_radix(&stored, 16)
            .map_err(|e| StoreError::Corrupt(format!("stored incarnation {stored:?}: {e}")))
    }

    /// The latest snapshot, if any.
    pub fn snapshot(&self) -> Result<Option<Snapshot>, StoreError> {
        Ok(self
            .conn
            .query_row("SELECT upto, state FROM snapshot WHERE id = 1", [], |r| {
                Ok((r.get::<_, i64>(0)? as u64, r.get(1)?))
            })
            .optional()?)
    }

    /// Calls `each` for every journal entry after `after`, in order. Returns the last sequence
    /// number seen (or `after`). A jump in the sequence is [`StoreError::Gap`] unless
    /// `skip_gaps` (the operator accepted the loss).
    pub fn replay(
        &self,
        after: u64,
        skip_gaps: bool,
        mut each: impl FnMut(u64, &str) -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        let mut stmt = self.conn.prepare("SELECT seq, entry FROM journal WHERE seq > ?1 ORDER BY seq")?;
        let mut rows = stmt.query(params![after as i64])?;
        let mut last = after;
        while let Some(row) = rows.next()? {
            let seq = row.get::<_, i64>(0)? as u64;
            if seq != last + 1 && !skip_gaps {
                return Err(StoreError::Gap { after: last, next: seq });
            }
            let entry: String = row.get(1)?;
            each(seq, &entry)?;
            last = seq;
        }
        Ok(last)
    }

    /// Appends journal entries and the commands they caused in one transaction.
    pub fn append(
        &mut self,
        entries: &[(u64, String)],
        commands: &[(u64, String)],
    ) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        {
            let mut stmt =
                tx.prepare_cached("INSERT OR REPLACE INTO journal (seq, entry) VALUES (?1, ?2)")?;
            for (seq, entry) in entries {
                stmt.execute(params![*seq as i64, entry])?;
            }
            let mut stmt =
                tx.prepare_cached("INSERT OR REPLACE INTO commands (id, command) VALUES (?1, ?2)")?;
            for (id, command) in commands {
                stmt.execute(params![*id as i64, command])?;
            }
            if !self.tracked && !entries.is_empty() {
                // In the same transaction: no extra commit on the hot path.
                tx.execute(TRACK_POSITION, [])?;
            }
            // At least as many as are added: trimming keeps up with any load.
            trim(&tx, self.trim_upto, entries.len())?;
        }
        tx.commit()?;
        self.tracked |= !entries.is_empty();
        if let Some((last, _)) = entries.last() {
            self.record_position(*last)?;
        }
        Ok(())
    }

    /// The last `keep` stored commands, oldest first.
    pub fn recent_commands(&self, keep: usize) -> Result<Vec<(u64, String)>, StoreError> {
        let mut stmt = self.conn.prepare(
            "SELECT id, command FROM (SELECT id, command FROM commands ORDER BY id DESC LIMIT ?1) ORDER BY id",
        )?;
        let rows = stmt.query_map(params![keep as i64], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Stores a snapshot that includes every entry up to `upto`; the journal drops those entries
    /// a chunk per commit from here on.
    /// A snapshot older than the one stored is ignored: the entries it would need are gone.
    pub fn save_snapshot(&mut self, upto: u64, state: &str) -> Result<(), StoreError> {
        if upto < self.trim_upto {
            return Ok(());
        }
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO snapshot (id, upto, state) VALUES (1, ?1, ?2)",
            params![upto as i64, state],
        )?;
        trim(&tx, upto, 0)?;
        tx.execute(
            "DELETE FROM commands WHERE id <= (SELECT MAX(id) FROM commands) - ?1",
            params![crate::command_log::KEEP as i64],
        )?;
        tx.commit()?;
        self.trim_upto = upto;
        Ok(())
    }

    /// Bytes in the WAL file (0 when there is none).
    pub fn wal_bytes(&self) -> u64 {
        let mut wal = self.db.clone().into_os_string();
        wal.push("-wal");
        std::fs::metadata(wal).map(|m| m.len()).unwrap_or(0)
    }

    /// Checkpoints on the writer's own connection, between two commits: `PASSIVE` copies what
    /// the checkpoint thread left, `TRUNCATE` also empties the WAL file.
    fn checkpoint(&self, mode: &str) {
        checkpoint::checkpoint(&self.conn, mode);
    }

    /// Entries currently in the journal.
    pub fn journal_len(&self) -> Result<u64, StoreError> {
        Ok(self.conn.query_row("SELECT COUNT(*) FROM journal", [], |r| r.get::<_, i64>(0))? as u64)
    }
}

/// Deletes the oldest chunk of the journal entries up to `upto` (replay starts after the
/// snapshot, so the ones not deleted yet are never read).
fn trim(tx: &rusqlite::Transaction<'_>, upto: u64, added: usize) -> Result<(), StoreError> {
    tx.execute(
        "DELETE FROM journal WHERE seq IN (SELECT seq FROM journal WHERE seq <= ?1 ORDER BY seq LIMIT ?2)",
        params![upto as i64, TRIM_CHUNK.max(added as i64)],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_truncates_and_replay_resumes_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        store.append(&[(1, "a".into()), (2, "b".into()), (3, "c".into())], &[]).unwrap();
        store.save_snapshot(2, "{state}").unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.snapshot().unwrap(), Some((2, "{state}".into())));
        let mut seen = Vec::new();
        let last = store
            .replay(2, false, |seq, e| {
                seen.push((seq, e.to_owned()));
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, vec![(3, "c".to_owned())]);
        assert_eq!(last, 3);
        assert_eq!(store.journal_len().unwrap(), 1);
    }

    #[test]
    fn a_second_process_cannot_open_the_same_directory() {
        let dir = tempfile::tempdir().unwrap();
        let _first = Store::open(dir.path()).unwrap();
        assert!(matches!(Store::open(dir.path()), Err(StoreError::InUse(_))));
    }

    #[test]
    fn commits_never_checkpoint_the_wal_themselves() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let big = "x".repeat(2_000);
        for seq in 1..=3_000u64 {
            store.append(&[(seq, big.clone())], &[]).unwrap();
        }
        // SQLite's automatic checkpoint would have started the WAL over after 1,000 pages.
        let frames = checkpoint::checkpoint(&store.conn, "PASSIVE").unwrap();
        assert!(frames > 3_000, "{frames} frames in the WAL");
    }

    #[test]
    fn a_snapshot_trims_the_journal_a_chunk_per_commit_and_an_older_one_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let n = 3 * TRIM_CHUNK as u64;
        let entries: Vec<(u64, String)> = (1..=n).map(|s| (s, format!("e{s}"))).collect();
        store.append(&entries, &[]).unwrap();
        store.save_snapshot(n - 1, "{new}").unwrap();
        assert_eq!(store.journal_len().unwrap(), n - TRIM_CHUNK as u64);
        store.append(&[(n + 1, "next".into())], &[]).unwrap();
        assert_eq!(store.journal_len().unwrap(), n + 1 - 2 * TRIM_CHUNK as u64);
        // A snapshot serialised earlier but arriving later changes nothing.
        store.save_snapshot(10, "{old}").unwrap();
        drop(store);
        let store = Store::open(dir.path()).unwrap();
        assert_eq!(store.snapshot().unwrap(), Some((n - 1, "{new}".into())));
        let mut seen = Vec::new();
        store
            .replay(n - 1, false, |seq, _| {
                seen.push(seq);
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, vec![n, n + 1]);
    }

    #[test]
    fn commands_survive_a_snapshot_up_to_the_kept_number() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let keep = crate::command_log::KEEP as u64;
        let commands: Vec<(u64, String)> = (1..=keep + 10).map(|id| (id, format!("c{id}"))).collect();
        store.append(&[(1, "a".into())], &commands).unwrap();
        store.save_snapshot(1, "{state}").unwrap();
        let recent = store.recent_commands(usize::MAX >> 1).unwrap();
        assert_eq!(recent.len() as u64, keep, "older commands pruned with the snapshot");
        assert_eq!(recent[0].0, 11);
        assert_eq!(recent.last().unwrap().0, keep + 10);
    }

    fn three_entries(dir: &Path) {
        let mut store = Store::open(dir).unwrap();
        store.append(&[(1, "a".into()), (2, "b".into()), (3, "c".into())], &[]).unwrap();
    }

    #[test]
    fn a_whole_store_checks_out_and_a_new_one_too() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Store::open(dir.path()).unwrap().check_position().unwrap(), Position::Whole);
        three_entries(dir.path());
        let mut store = Store::open(dir.path()).unwrap();
        assert_eq!(store.check_position().unwrap(), Position::Whole);
        store.save_snapshot(3, "{state}").unwrap();
        assert_eq!(store.check_position().unwrap(), Position::Whole, "the snapshot covers the journal");
    }

    #[test]
    fn a_deleted_or_emptied_database_is_behind_its_position() {
        for damage in ["delete", "truncate"] {
            let dir = tempfile::tempdir().unwrap();
            three_entries(dir.path());
            let db = dir.path().join(DB_FILE);
            match damage {
                "delete" => std::fs::remove_file(&db).unwrap(),
                _ => std::fs::File::create(&db).map(drop).unwrap(),
            }
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(
                store.check_position().unwrap(),
                Position::Behind { found: 0, expected: 3 },
                "{damage}"
            );
        }
    }

    #[test]
    fn a_lost_or_garbled_position_file_is_named() {
        for damage in ["delete", "garble"] {
            let dir = tempfile::tempdir().unwrap();
            three_entries(dir.path());
            let file = dir.path().join(POSITION_FILE);
            match damage {
                "delete" => std::fs::remove_file(&file).unwrap(),
                _ => std::fs::write(&file, [0u8; 21]).unwrap(),
            }
            let store = Store::open(dir.path()).unwrap();
            assert_eq!(store.check_position().unwrap(), Position::Unknown, "{damage}");
        }
    }

    #[test]
    fn a_gap_in_the_journal_stops_the_replay_unless_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        store.append(&[(1, "a".into()), (2, "b".into()), (4, "d".into())], &[]).unwrap();
        let err = store.replay(0, false, |_, _| Ok(())).unwrap_err();
        assert!(matches!(err, StoreError::Gap { after: 2, next: 4 }), "{err}");
        assert_eq!(store.replay(0, true, |_, _| Ok(())).unwrap(), 4);
    }
}
