//! The keeper's saved state as an explicit, versioned document. The keeper's in-memory layout
//! (scratch buffers, caches) is not the format: this file lists what is saved, reads older
//! versions, and is the only place that knows either.
//!
//! Version 3: `{version, incarnation, config, clock, sessions, breaker, queue, jitter, outputs,
//! heldQrs?, qrFlowing?}`. Version 2 (no incarnation, no held QRs) is migrated on read.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use crate::breaker::CircuitBreaker;
use crate::clock::Clock;
use crate::config::Config;
use crate::error::KeeperError;
use crate::hash_index::HashIndex;
use crate::output::{Output, QrBody};
use crate::queue::SyncQueue;
use crate::rng::Jitter;
use crate::session::SessionTable;

/// The format written now.
pub const SNAPSHOT_VERSION: u32 = 3;
/// The older format still read (and migrated).
const MIGRATED_VERSION: u32 = 2;

/// A keeper's state, ready to be written ([`Snapshot::to_json`]) or to become a keeper again
/// ([`crate::Keeper::from_snapshot`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    pub(crate) version: u32,
    #[serde(default)]
    pub(crate) incarnation: u64,
    pub(crate) config: Config,
    pub(crate) clock: Clock,
    pub(crate) sessions: SessionTable,
    pub(crate) breaker: CircuitBreaker,
    pub(crate) queue: SyncQueue,
    pub(crate) jitter: Jitter,
    pub(crate) outputs: VecDeque<Output>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) held_qrs: BTreeMap<u64, QrBody>,
    #[serde(default, skip_serializing_if = "HashIndex::is_empty")]
    pub(crate) qr_flowing: HashIndex<u64, ()>,
}

/// Borrowed parts of a keeper, serialised exactly like a [`Snapshot`] without copying them.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SnapshotRef<'a> {
    pub version: u32,
    pub incarnation: u64,
    pub config: &'a Config,
    pub clock: &'a Clock,
    pub sessions: &'a SessionTable,
    pub breaker: &'a CircuitBreaker,
    pub queue: &'a SyncQueue,
    pub jitter: &'a Jitter,
    pub outputs: &'a VecDeque<Output>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub held_qrs: &'a BTreeMap<u64, QrBody>,
    #[serde(skip_serializing_if = "HashIndex::is_empty")]
    pub qr_flowing: &'a HashIndex<u64, ()>,
}

impl Snapshot {
    /// The format version this snapshot is in (always [`SNAPSHOT_VERSION`] once read).
    pub fn version(&self) -> u32 {
        self.version
    }

    /// The incarnation of the keeper it was taken from.
    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// The config it was taken under.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Replaces the config (a restart applies the config given now).
    pub fn set_config(&mut self, config: Config) {
        self.config = config;
    }

    /// The document (deterministic: same state, same bytes).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("the state is plain data")
    }

    /// Reads a document of this version or of version 2 (migrated: it gets an incarnation
    /// derived from its own bytes, so its new keys differ from any fresh keeper's). The error
    /// names the version when that is what is wrong.
    pub fn from_json(text: &str) -> Result<Self, KeeperError> {
        #[derive(Deserialize)]
        struct Version {
            version: u32,
        }
        let wrong_version = |version: u32| {
            KeeperError::Snapshot(format!(
                "version {version} is neither {SNAPSHOT_VERSION} nor {MIGRATED_VERSION} (the versions this keeper reads)"
            ))
        };
        let parsed = match serde_json::from_str::<Version>(text) {
            Ok(Version { version: MIGRATED_VERSION }) => from_version_2(text),
            _ => serde_json::from_str::<Snapshot>(text),
        };
        let mut snapshot: Snapshot = parsed.map_err(|e| match serde_json::from_str::<Version>(text) {
            Ok(Version { version }) if !(MIGRATED_VERSION..=SNAPSHOT_VERSION).contains(&version) => {
                wrong_version(version)
            }
            Err(_) if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() => {
                KeeperError::Snapshot(format!("not valid JSON (a truncated or damaged file?): {e}"))
            }
            Err(_) => KeeperError::Snapshot(
                "not a sessionkeeper state file: expected a JSON object with a numeric `version`".into(),
            ),
            _ => KeeperError::Snapshot(e.to_string()),
        })?;
        match snapshot.version {
            SNAPSHOT_VERSION => {}
            MIGRATED_VERSION => {
                snapshot.incarnation = fnv1a64(text.as_bytes());
                snapshot.version = SNAPSHOT_VERSION;
            }
            other => return Err(wrong_version(other)),
        }
        snapshot.config.validate()?;
        Ok(snapshot)
    }
}

/// Version 2 kept the lanes of removed sessions in the session table; they are the queue's now.
fn from_version_2(text: &str) -> Result<Snapshot, serde_json::Error> {
    let mut state: serde_json::Value = serde_json::from_str(text)?;
    let sessions = state.get_mut("sessions").and_then(serde_json::Value::as_object_mut);
    let kept = sessions.and_then(|s| {
        s.remove("retiredIds");
        s.remove("retired")
    });
    if let (Some(serde_json::Value::Object(by_id)), Some(queue)) =
        (kept, state.get_mut("queue").and_then(serde_json::Value::as_object_mut))
    {
        let by_handle: serde_json::Map<String, serde_json::Value> = by_id
            .iter()
            .map(|(id, handle)| (handle.to_string(), serde_json::Value::String(id.clone())))
            .collect();
        queue.insert("laneIds".into(), serde_json::json!({ "byId": by_id, "byHandle": by_handle }));
    }
    // Through text, not `from_value`: one deserializer for the whole state keeps the wasm small.
    serde_json::from_str(&state.to_string())
}

/// FNV-1a, 64 bits: the same number on every target (a std hasher is not).
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3))
}
