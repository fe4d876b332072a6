//! A log line that cannot flood: the first occurrence is logged, later ones
//! are counted and told as one summary line at most once per interval.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::support::plain_lock;

/// What the caller should log for one occurrence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The first one (or the first after a quiet interval): log it in full.
    Log,
    /// Counted; nothing to log now.
    Counted,
    /// Log a summary: this many occurred since the last line (this one included).
    Summary(u64),
}

/// Rate limit of one kind of log line.
#[derive(Debug)]
pub struct RateLog {
    interval: Duration,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// When the last line (full or summary) was logged.
    last: Option<Instant>,
    counted: u64,
}

impl RateLog {
    pub fn new(interval: Duration) -> Self {
        Self {
            interval,
            state: Mutex::default(),
        }
    }

    /// Records one occurrence at `now` and says what to log.
    pub fn hit(&self, now: Instant) -> Verdict {
        let mut state = plain_lock::lock(&self.state);
        let Some(last) = state.last else {
            state.last = Some(now);
            return Verdict::Log;
        };
        state.counted += 1;
        if now.duration_since(last) < self.interval {
            return Verdict::Counted;
        }
        let counted = std::mem::take(&mut state.counted);
        state.last = Some(now);
        Verdict::Summary(counted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_then_counted_then_one_summary_per_interval() {
        let log = RateLog::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(log.hit(t0), Verdict::Log);
        for i in 1..=100 {
            assert_eq!(log.hit(t0 + Duration::from_millis(i)), Verdict::Counted);
        }
        assert_eq!(log.hit(t0 + Duration::from_secs(10)), Verdict::Summary(101));
        assert_eq!(log.hit(t0 + Duration::from_secs(11)), Verdict::Counted);
        assert_eq!(log.hit(t0 + Duration::from_secs(21)), Verdict::Summary(2));
    }
}
