//! `Retry-After`: delta-seconds or an HTTP-date, turned into a pause in milliseconds.

use std::time::{Duration, UNIX_EPOCH};

/// Parses a `Retry-After` value relative to `now` (unix ms). `None` when it cannot be read.
/// A date in the past means "now" (0).
pub fn parse_retry_after(value: &str, now: u64) -> Option<u64> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(secs.saturating_mul(1_000));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    let at = date.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    let at_ms = u64::try_from(at.as_millis()).unwrap_or(u64::MAX);
    Some(at_ms.saturating_sub(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_and_dates() {
        assert_eq!(parse_retry_after("120", 0), Some(120_000));
        assert_eq!(parse_retry_after(" 3 ", 0), Some(3_000));
        // Sun, 06 Nov 1994 08:49:37 GMT = 784111777 s.
        let now = 784_111_777_000 - 5_000;
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now), Some(5_000));
        assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now + 60_000), Some(0));
        assert_eq!(parse_retry_after("soon", 0), None);
        assert_eq!(parse_retry_after("-1", 0), None);
    }
}
