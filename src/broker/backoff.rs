//! The one reconnect backoff of serve, agent and load: exponential from
//! `min` to `max`, each delay jittered into `[d/2, d)` so that many clients
//! of one broker do not reconnect in step. Built on `backon`'s exponential
//! iterator, which saturates instead of overflowing, so any `max` is safe.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// Reconnect delays: `min`, doubling up to `max`, jittered; [`reset`](Self::reset)
/// after a success.
#[derive(Debug)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    delays: ExponentialBackoff,
}

impl Backoff {
    /// `max` below `min` is taken as `min`.
    pub fn new(min: Duration, max: Duration) -> Self {
        let max = max.max(min);
        Self {
            min,
            max,
            delays: Self::build(min, max),
        }
    }

    fn build(min: Duration, max: Duration) -> ExponentialBackoff {
        // backon's jitter adds up to one more delay: halving both bounds
        // puts every delay in [d/2, d) with d = min·2ⁿ capped at max.
        ExponentialBuilder::default()
            .with_min_delay(min / 2)
            .with_max_delay(max / 2)
            .with_factor(2.0)
            .with_jitter()
            .without_max_times()
            .build()
    }

    /// The next delay to wait before retrying.
    pub fn next_delay(&mut self) -> Duration {
        self.delays.next().unwrap_or(self.max).min(self.max)
    }

    /// Starts over from `min` (after a connection worked).
    pub fn reset(&mut self) {
        self.delays = Self::build(self.min, self.max);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_within_their_bounds_and_grow() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(100), ms(1600));
        let delays: Vec<_> = (0..12).map(|_| b.next_delay()).collect();
        for (n, d) in delays.iter().enumerate() {
            let full = (ms(100) * 2u32.pow(n.min(4) as u32)).min(ms(1600));
            assert!(
                *d >= full / 2 && *d <= full,
                "delay {n}: {d:?} not in [{:?}, {full:?}]",
                full / 2
            );
        }
        assert!(delays[11] >= ms(800), "{delays:?}");
    }

    #[test]
    fn delays_are_jittered() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(1000), ms(1000));
        let delays: std::collections::HashSet<_> = (0..20).map(|_| b.next_delay()).collect();
        assert!(delays.len() > 1, "no jitter: {delays:?}");
        assert!(delays.iter().all(|d| *d >= ms(500) && *d <= ms(1000)));
    }

    #[test]
    fn a_huge_max_does_not_overflow() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::MAX);
        for _ in 0..200 {
            let _ = b.next_delay();
        }
        b.reset();
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn reset_starts_from_min() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(100), ms(10_000));
        for _ in 0..10 {
            b.next_delay();
        }
        b.reset();
        assert!(b.next_delay() <= ms(100));
    }
}
