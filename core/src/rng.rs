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

    /// Exponential backoff with "equal jitter": half the capped delay, plus up to the other half.
    pub fn backoff(&mut self, base: u64, cap: u64, attempt: u32) -> u64 {
        let exp = attempt.saturating_sub(1).min(40);
        let delay = base.saturating_mul(1u64 << exp).min(cap);
        let half = delay / 2;
        half + self.upto(delay - half)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_reproducible() {
        let mut a = Jitter::new(7);
        let mut b = Jitter::new(7);
        for attempt in 1..20 {
            let d = a.backoff(1_000, 60_000, attempt);
            assert_eq!(d, b.backoff(1_000, 60_000, attempt));
            let full = (1_000u64 << (attempt - 1).min(40)).min(60_000);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d}");
        }
    }
}
