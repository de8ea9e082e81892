//! Which session id a status lane belongs to once its session is gone: a removed session whose
//! final status is still queued keeps its lane, so if the id comes back it gets the same lane
//! and its statuses stay in one line, in order. Also lanes reserved for ids not added yet (a
//! gateway's call tied to a session before `AddSession`). Forgotten once the lane drains.

use serde::{Deserialize, Serialize};

use crate::hash_index::HashIndex;
use crate::session_id::SessionId;

/// Lanes of sessions the table does not hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LaneIds {
    #[serde(default, skip_serializing_if = "HashIndex::is_empty")]
    by_id: HashIndex<SessionId, u64>,
    #[serde(default, skip_serializing_if = "HashIndex::is_empty")]
    by_handle: HashIndex<u64, SessionId>,
}

impl LaneIds {
    /// The lane handle kept for `id`.
    pub fn get(&self, id: &str) -> Option<u64> {
        self.by_id.get(id).copied()
    }

    /// Keeps `handle`'s lane for `id`.
    pub fn keep(&mut self, id: SessionId, handle: u64) {
        self.by_handle.insert(handle, id.clone());
        self.by_id.insert(id, handle);
    }

    /// Hands the lane kept for `id` back to its session (it is held again).
    pub fn take(&mut self, id: &str) -> Option<(SessionId, u64)> {
        let handle = self.by_id.remove(id)?;
        let id = self.by_handle.remove(&handle)?;
        Some((id, handle))
    }

    /// The lane drained: nothing keeps it any more.
    pub fn forget(&mut self, handle: u64) {
        if let Some(id) = self.by_handle.remove(&handle) {
            self.by_id.remove(&id);
        }
    }
}
