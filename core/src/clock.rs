//! Time as the core sees it: whatever the caller says, never going backwards.

use serde::{Deserialize, Serialize};

/// The last `now` seen. A `now` earlier than that is treated as that.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    last: u64,
}

impl Clock {
    /// Accepts a caller's `now` and returns the effective one.
    pub fn advance(&mut self, now: u64) -> u64 {
        self.last = self.last.max(now);
        self.last
    }

    /// The last effective `now`.
    pub fn now(&self) -> u64 {
        self.last
    }
}

/// The soonest of several optional deadlines.
pub fn soonest(deadlines: impl IntoIterator<Item = Option<u64>>) -> Option<u64> {
    deadlines.into_iter().flatten().min()
}
