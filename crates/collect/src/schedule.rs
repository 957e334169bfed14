//! When to collect a source next: its interval with jitter, longer after repeated
//! failures, never before a server's `Retry-After`.

use chrono::{DateTime, Duration, Utc};
use threatdesk_model::FAILING_AFTER;

/// Sources without an interval of their own are polled this often (seconds).
pub const DEFAULT_INTERVAL_SECS: u64 = 3600;
/// Backoff never waits longer than this (seconds): a failing source is still tried daily.
pub const MAX_BACKOFF_SECS: u64 = 24 * 3600;

/// The next attempt after one that ended at `now`.
///
/// - Success, or fewer than [`FAILING_AFTER`] failures in a row: the interval, ±10 % jitter
///   (so sources added together drift apart instead of hitting the network in bursts).
/// - A failing source backs off: the interval doubles with each further failure, up to
///   [`MAX_BACKOFF_SECS`] (or the interval itself, if longer).
/// - Never earlier than the server's `Retry-After`.
pub fn next_attempt(
    now: DateTime<Utc>,
    interval_secs: u64,
    consecutive_failures: u32,
    retry_after: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    let interval = interval_secs.max(1) as f64;
    let base = if consecutive_failures >= FAILING_AFTER {
        let doublings = (consecutive_failures - FAILING_AFTER + 1).min(20);
        (interval * f64::from(1u32 << doublings)).min((MAX_BACKOFF_SECS as f64).max(interval))
    } else {
        interval
    };
    let jittered = base * (0.9 + fastrand::f64() * 0.2);
    let next = now + Duration::milliseconds((jittered * 1000.0) as i64);
    match retry_after {
        Some(at) if at > next => at,
        _ => next,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthy_sources_keep_their_interval_with_jitter() {
        let now = Utc::now();
        for _ in 0..100 {
            let secs = (next_attempt(now, 600, 0, None) - now).num_seconds();
            assert!((540..=660).contains(&secs), "{secs}");
        }
        let secs = (next_attempt(now, 600, FAILING_AFTER - 1, None) - now).num_seconds();
        assert!((540..=660).contains(&secs), "{secs}");
    }

    #[test]
    fn failing_sources_back_off_up_to_a_day() {
        let now = Utc::now();
        let wait = |failures| (next_attempt(now, 600, failures, None) - now).num_seconds();
        assert!((1080..=1320).contains(&wait(FAILING_AFTER)));
        assert!((2160..=2640).contains(&wait(FAILING_AFTER + 1)));
        assert!(wait(FAILING_AFTER + 30) <= (MAX_BACKOFF_SECS as i64) * 11 / 10);
        assert!(wait(FAILING_AFTER + 30) >= (MAX_BACKOFF_SECS as i64) * 9 / 10);
    }

    #[test]
    fn retry_after_is_honoured() {
        let now = Utc::now();
        let later = now + Duration::hours(5);
        assert_eq!(next_attempt(now, 600, 1, Some(later)), later);
        let sooner = now + Duration::seconds(1);
        assert!(next_attempt(now, 600, 1, Some(sooner)) > sooner);
    }
}
