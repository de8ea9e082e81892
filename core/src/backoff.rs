//! The retry delay both the queue (failed deliveries) and the session table (reconnects) use:
//! exponential, capped, with "equal jitter" so a fleet that failed at once does not retry at once.

use crate::rng::Jitter;

/// Attempt `attempt` (1 for the first retry) waits half the capped delay, plus up to the other
/// half drawn from `jitter`.
pub fn backoff(jitter: &mut Jitter, base: u64, cap: u64, attempt: u32) -> u64 {
    let exp = attempt.saturating_sub(1).min(40);
    let delay = base.saturating_mul(1u64 << exp).min(cap);
    let half = delay / 2;
    half + jitter.upto(delay - half)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_is_capped_and_reproducible() {
        let mut a = Jitter::new(7);
        let mut b = Jitter::new(7);
        for attempt in 1..20 {
            let d = backoff(&mut a, 1_000, 60_000, attempt);
            assert_eq!(d, backoff(&mut b, 1_000, 60_000, attempt));
            let full = (1_000u64 << (attempt - 1).min(40)).min(60_000);
            assert!(d >= full / 2 && d <= full, "attempt {attempt}: {d}");
        }
    }
}
