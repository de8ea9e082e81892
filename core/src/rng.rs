//! The core's only randomness: jitter from a seeded generator that is part of the state, so
//! snapshots, wasm and native all draw the same numbers.

use rand_core::{RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

/// Seeded jitter source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jitter {
    rng: Xoshiro256PlusPlus,
}

impl Jitter {
    /// From the config's seed.
    pub fn new(seed: u64) -> Self {
        Self { rng: Xoshiro256PlusPlus::seed_from_u64(seed) }
    }

    /// Uniform in `0..=max`.
    pub fn upto(&mut self, max: u64) -> u64 {
        if max == 0 {
            return 0;
        }
        self.rng.next_u64() % (max.saturating_add(1)).max(1)
    }
}
