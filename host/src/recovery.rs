//! Start-up recovery: latest snapshot + journal replay -> the keeper as it was at the last
//! committed input, with the configuration of this start.

use sessionkeeper_core::{Config, Keeper, KeeperError};

use crate::driver::Entry;
use crate::store::{Position, Store, StoreError};

/// Why the state could not be recovered.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    /// Reading the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Committed entries are missing from the store.
    #[error(
        "storage lost data: the database holds the journal up to entry {found} but entries up to {expected} were committed (a deleted or damaged WAL file, or a truncated, deleted or replaced database). Restore the missing files, or start with --accept-data-loss to go on from what is left"
    )]
    DataLoss {
        /// The last entry found.
        found: u64,
        /// The last entry committed.
        expected: u64,
    },
    /// The position file is gone or unreadable, so what is missing cannot be told.
    #[error(
        "storage: {file} is missing or damaged, so it cannot be checked that the database is whole. Restore it, or start with --accept-data-loss to go on from what the database holds",
        file = crate::store::POSITION_FILE
    )]
    PositionUnknown,
    /// The snapshot or the configuration was refused.
    #[error("cannot restore state: {0}")]
    Keeper(#[from] KeeperError),
}

/// What recovery found.
pub struct Recovered {
    /// The keeper (not yet told `Restarted`).
    pub keeper: Keeper,
    /// Next journal sequence number.
    pub next_seq: u64,
    /// Whether a previous state was found.
    pub restored: bool,
    /// Journal entries replayed.
    pub replayed: u64,
}

/// Restores the latest snapshot and replays the journal after it. Outputs produced while
/// replaying are dropped: they were executed before the crash, or are still in flight in the
/// state and are sent again after `Input::Restarted`.
///
/// The database is first checked against the position file; missing entries (or a gap in the
/// journal) refuse the start unless `accept_data_loss`, which logs what was lost and goes on.
pub fn recover(
    store: &mut Store,
    config: &Config,
    accept_data_loss: bool,
) -> Result<Recovered, RecoveryError> {
    match store.check_position()? {
        Position::Whole => {}
        Position::Behind { found, expected } if accept_data_loss => {
            tracing::warn!(
                found,
                expected,
                lost = expected - found,
                "accepted data loss: starting from what the store holds"
            );
        }
        Position::Unknown if accept_data_loss => {
            tracing::warn!("accepted data loss: the position file was missing or damaged");
        }
        Position::Behind { found, expected } => return Err(RecoveryError::DataLoss { found, expected }),
        Position::Unknown => return Err(RecoveryError::PositionUnknown),
    }
    let snapshot = store.snapshot()?;
    let restored = snapshot.is_some();
    let (mut keeper, upto) = match snapshot {
        Some((upto, state)) => (Keeper::restore(&state)?, upto),
        None => (Keeper::with_incarnation(config.clone(), store.incarnation(fresh_incarnation())?)?, 0),
    };
    let mut replayed = 0;
    let last = store.replay(upto, accept_data_loss, |seq, text| {
        let entry: Entry = serde_json::from_str(text)
            .map_err(|e| StoreError::Corrupt(format!("journal entry {seq}: {e}")))?;
        match entry.input {
            Some(input) => {
                let _ = keeper.handle(entry.now, input);
            }
            None => keeper.handle_timeout(entry.now),
        }
        while keeper.poll_output().is_some() {}
        replayed += 1;
        Ok(())
    })?;
    let restored = restored || replayed > 0;
    if accept_data_loss {
        // What is there now is the new whole.
        store.record_position(store.last_seq()?)?;
    }
    if keeper.config() != config {
        if restored {
            tracing::info!("configuration changed since the state was saved; applying the new one");
        }
        keeper.reconfigure(config.clone())?;
    }
    Ok(Recovered { keeper, next_seq: last + 1, restored, replayed })
}

/// A random number for a new data directory's keeper (std's hasher keys come from the OS).
fn fresh_incarnation() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()),
    );
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sessionkeeper_core::Input;

    fn entry(now: u64, input: Option<Input>) -> String {
        serde_json::to_string(&Entry { now, input }).unwrap()
    }

    #[test]
    fn snapshot_plus_journal_rebuilds_the_state_exactly() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let config = Config { sync_spacing: 0, ..Config::default() };
        let mut reference = Keeper::new(config.clone()).unwrap();
        let calls: Vec<(u64, Option<Input>)> = vec![
            (1_000, Some(Input::AddSession { session_id: "a".into(), meta: None })),
            (
                1_100,
                Some(Input::ConnectionUpdate {
                    session_id: "a".into(),
                    update: serde_json::from_str(r#"{"qr":"2@x"}"#).unwrap(),
                }),
            ),
            (1_200, None),
            (1_300, Some(Input::AddSession { session_id: "b".into(), meta: None })),
        ];
        for (i, (now, input)) in calls.iter().enumerate() {
            match input {
                Some(input) => {
                    let _ = reference.handle(*now, input.clone());
                }
                None => reference.handle_timeout(*now),
            }
            while reference.poll_output().is_some() {}
            store.append(&[(i as u64 + 1, entry(*now, input.clone()))], &[]).unwrap();
            if i == 1 {
                store.save_snapshot(2, &reference.snapshot()).unwrap();
            }
        }
        let got = recover(&mut store, &config, false).unwrap();
        assert!(got.restored);
        assert_eq!(got.replayed, 2);
        assert_eq!(got.next_seq, 5);
        assert_eq!(got.keeper.snapshot(), reference.snapshot());
    }

    #[test]
    fn empty_store_gives_a_fresh_keeper_and_config_changes_apply() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let got = recover(&mut store, &Config::default(), false).unwrap();
        assert!(!got.restored);
        assert_eq!(got.next_seq, 1);
        store.save_snapshot(0, &got.keeper.snapshot()).unwrap();
        let changed = Config { max_qr_codes: 3, ..Config::default() };
        let again = recover(&mut store, &changed, false).unwrap();
        assert_eq!(again.keeper.config().max_qr_codes, 3);
    }

    #[test]
    fn lost_entries_refuse_the_start_unless_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config { sync_spacing: 0, ..Config::default() };
        {
            let mut store = Store::open(dir.path()).unwrap();
            let add = Input::AddSession { session_id: "a".into(), meta: None };
            store.append(&[(1, entry(1_000, Some(add)))], &[]).unwrap();
        }
        std::fs::remove_file(dir.path().join(crate::store::DB_FILE)).unwrap();
        let mut store = Store::open(dir.path()).unwrap();
        let err = recover(&mut store, &config, false).err().expect("refused");
        assert!(matches!(err, RecoveryError::DataLoss { found: 0, expected: 1 }), "{err}");
        assert!(err.to_string().contains("--accept-data-loss"), "{err}");
        let got = recover(&mut store, &config, true).unwrap();
        assert!(!got.restored);
        assert_eq!(store.check_position().unwrap(), Position::Whole, "accepted once, not asked again");
    }
}
