//! The seed's circuit breaker, as the classic Node.js tutorial writes it (both seed policies).
//!
//! ```text
//! fire():  if OPEN: if nextAttempt <= now -> HALF_OPEN else throw "Circuit breaker is OPEN"
//! success: failureCount = 0; if HALF_OPEN -> CLOSED
//! fail:    failureCount++; if failureCount >= threshold -> OPEN, nextAttempt = now + timeout
//! ```
//!
//! HALF_OPEN is entered lazily and lets every request through; the failure count is not reset on
//! opening, so one failure in HALF_OPEN opens it again; late results are not told apart. Every
//! outcome that is not 2xx (429 included) is a failure.

use super::{Books, BreakerLevel};

/// The seed's breaker.
#[derive(Debug, Clone)]
pub struct NaiveBreaker {
    threshold: u32,
    timeout_ms: u64,
    failures: u32,
    level: BreakerLevel,
    next_attempt: u64,
    changes: Vec<(u64, BreakerLevel, BreakerLevel)>,
    opens: u64,
    reopens: u64,
}

/// Closed.
pub const CLOSED: BreakerLevel = 0;
/// Half-open.
pub const HALF_OPEN: BreakerLevel = 1;
/// Open.
pub const OPEN: BreakerLevel = 2;

impl NaiveBreaker {
    /// `threshold` failures open it for `timeout_ms`.
    pub fn new(threshold: u32, timeout_ms: u64) -> Self {
        Self {
            threshold,
            timeout_ms,
            failures: 0,
            level: CLOSED,
            next_attempt: 0,
            changes: Vec::new(),
            opens: 0,
            reopens: 0,
        }
    }

    /// `fire()`'s gate: whether a request may be sent now.
    pub fn allow(&mut self, now: u64) -> bool {
        if self.level == OPEN {
            if self.next_attempt <= now {
                self.set(now, HALF_OPEN);
            } else {
                return false;
            }
        }
        true
    }

    /// A result (2xx or not).
    pub fn record(&mut self, now: u64, ok: bool) {
        if ok {
            self.failures = 0;
            if self.level == HALF_OPEN {
                self.set(now, CLOSED);
            }
        } else {
            self.failures = self.failures.saturating_add(1);
            if self.failures >= self.threshold {
                match self.level {
                    CLOSED => self.opens += 1,
                    HALF_OPEN => self.reopens += 1,
                    _ => {}
                }
                self.next_attempt = now + self.timeout_ms;
                self.set(now, OPEN);
            }
        }
    }

    /// Current level.
    pub fn level(&self) -> BreakerLevel {
        self.level
    }

    /// (opens, reopens).
    pub fn counts(&self) -> (u64, u64) {
        (self.opens, self.reopens)
    }

    /// The books of a seed policy using this breaker (the seed never supersedes a QR).
    pub fn books(&self, status_dropped: u64, qr_dropped: u64, items_outstanding: u64) -> Books {
        let (breaker_opens, breaker_reopens) = self.counts();
        Books {
            breaker_opens,
            breaker_reopens,
            qr_superseded: 0,
            status_dropped,
            qr_dropped,
            items_outstanding,
        }
    }

    /// Transitions since the last call.
    pub fn take_changes(&mut self) -> Vec<(u64, BreakerLevel, BreakerLevel)> {
        std::mem::take(&mut self.changes)
    }

    fn set(&mut self, now: u64, to: BreakerLevel) {
        if self.level != to {
            self.changes.push((now, self.level, to));
            self.level = to;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classic_breaker_semantics() {
        let mut b = NaiveBreaker::new(3, 1_000);
        for t in 0..3 {
            assert!(b.allow(t));
            b.record(t, false);
        }
        assert_eq!(b.level(), OPEN);
        assert!(!b.allow(500));
        assert!(b.allow(1_002));
        assert_eq!(b.level(), HALF_OPEN);
        b.record(1_003, false);
        assert_eq!(b.level(), OPEN, "failure count was never reset");
        assert_eq!(b.counts(), (1, 1));
        assert!(b.allow(2_003));
        b.record(2_010, true);
        assert_eq!(b.level(), CLOSED);
    }
}
