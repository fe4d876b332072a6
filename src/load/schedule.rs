//! When each request of a run starts: one [`Schedule`] enum for the closed
//! and the open loop, one ticket dispenser for both, so the driver has a
//! single code path.
//!
//! In the open loop request `n` is *due* at `start + n / rate` whatever the
//! answers, and its latency counts from that due time: a server that stalls
//! is charged for the requests it kept waiting (no coordinated omission).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How requests are paced.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum Schedule {
    /// Each of `concurrency` workers sends its next request when the last one answered.
    Closed { concurrency: usize },
    /// Requests are due at a fixed `rate` per second; `concurrency` caps how many are in flight.
    Open { rate: f64, concurrency: usize },
}

/// What ends a run (whichever comes first), besides a shutdown signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bounds {
    pub requests: Option<u64>,
    #[serde(with = "humantime_serde")]
    pub duration: Option<Duration>,
}

/// Slowest accepted `--rate`: one request every 1000 s.
pub const MIN_RATE: f64 = 0.001;
/// Fastest accepted `--rate`, far above what one loopback herald serves.
pub const MAX_RATE: f64 = 1_000_000.0;

/// "Never" for a due time past what `Instant` holds.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Why flags cannot make a schedule.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("--rate must be between 0.001 and 1000000 requests per second, not {0}")]
    Rate(f64),
    #[error("neither --requests nor --duration bounds the run")]
    Unbounded,
}

impl Schedule {
    /// The open loop when a rate is given, else the closed loop.
    pub fn new(rate: Option<f64>, concurrency: usize) -> Result<Self, ScheduleError> {
        match rate {
            None => Ok(Self::Closed { concurrency }),
            Some(rate) if (MIN_RATE..=MAX_RATE).contains(&rate) => {
                Ok(Self::Open { rate, concurrency })
            }
            Some(rate) => Err(ScheduleError::Rate(rate)),
        }
    }

    /// How many workers send requests.
    pub fn workers(&self) -> usize {
        match *self {
            Self::Closed { concurrency } | Self::Open { concurrency, .. } => concurrency,
        }
    }

    /// When request `seq` is due, for a run that started at `start`.
    pub fn due(&self, start: Instant, seq: u64) -> Instant {
        match *self {
            Self::Closed { .. } => Instant::now(),
            Self::Open { rate, .. } => {
                let offset =
                    Duration::try_from_secs_f64(seq as f64 / rate).unwrap_or(Duration::MAX);
                start.checked_add(offset).unwrap_or(start + FAR_FUTURE)
            }
        }
    }
}

/// Permission to send request `seq`; latency counts from `due`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    pub seq: u64,
    pub due: Instant,
}

/// Hands out tickets to the workers until the bounds are reached.
#[derive(Debug)]
pub struct Tickets {
    schedule: Schedule,
    bounds: Bounds,
    start: Instant,
    next: AtomicU64,
    stop: CancellationToken,
}

impl Tickets {
    /// Starts the clock now; `stop` ends the run early.
    pub fn start(
        schedule: Schedule,
        bounds: Bounds,
        stop: CancellationToken,
    ) -> Result<Self, ScheduleError> {
        if bounds.requests.is_none() && bounds.duration.is_none() {
            return Err(ScheduleError::Unbounded);
        }
        let start = Instant::now();
        Ok(Self {
            schedule,
            bounds,
            start,
            next: AtomicU64::new(0),
            stop,
        })
    }

    /// When the run started.
    pub fn started(&self) -> Instant {
        self.start
    }

    /// The next ticket, after waiting for its due time; `None` once the run is over.
    pub async fn next(&self) -> Option<Ticket> {
        let seq = self.next.fetch_add(1, Ordering::Relaxed);
        if self.bounds.requests.is_some_and(|max| seq >= max) || self.stop.is_cancelled() {
            return None;
        }
        let due = self.schedule.due(self.start, seq);
        if self.bounds.duration.is_some_and(|d| due >= self.start + d) {
            return None;
        }
        if due <= Instant::now() {
            // Due already (always, in a closed loop): no timer. A sleep until
            // an instant already past still waits for the timer's next 1 ms
            // tick, which added about a millisecond to every closed-loop
            // request.
            return Some(Ticket { seq, due });
        }
        tokio::select! {
            () = tokio::time::sleep_until(due) => Some(Ticket { seq, due }),
            () = self.stop.cancelled() => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bounds(requests: Option<u64>, secs: Option<u64>) -> Bounds {
        Bounds {
            requests,
            duration: secs.map(Duration::from_secs),
        }
    }

    async fn drain(t: &Tickets) -> Vec<Ticket> {
        let mut out = Vec::new();
        while let Some(ticket) = t.next().await {
            out.push(ticket);
        }
        out
    }

    #[tokio::test(start_paused = true)]
    async fn the_open_loop_releases_requests_at_fixed_times() {
        let s = Schedule::new(Some(10.0), 4).unwrap();
        let t = Tickets::start(s, bounds(Some(5), None), CancellationToken::new()).unwrap();
        let got = drain(&t).await;
        let offsets: Vec<u128> = got
            .iter()
            .map(|k| (k.due - t.started()).as_millis())
            .collect();
        assert_eq!(offsets, [0, 100, 200, 300, 400]);
        assert_eq!(
            got.iter().map(|k| k.seq).collect::<Vec<_>>(),
            [0, 1, 2, 3, 4]
        );
        assert_eq!(Instant::now() - t.started(), Duration::from_millis(400));
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_worker_keeps_the_due_time_so_waiting_counts_as_latency() {
        let s = Schedule::new(Some(100.0), 1).unwrap();
        let t = Tickets::start(s, bounds(Some(3), None), CancellationToken::new()).unwrap();
        tokio::time::advance(Duration::from_millis(500)).await;
        let k = t.next().await.unwrap();
        let k2 = t.next().await.unwrap();
        assert_eq!((k.due - t.started()).as_millis(), 0);
        assert_eq!((k2.due - t.started()).as_millis(), 10);
        assert!(Instant::now() - k2.due >= Duration::from_millis(490));
    }

    #[tokio::test(start_paused = true)]
    async fn the_open_loop_stops_at_the_duration() {
        let s = Schedule::new(Some(20.0), 4).unwrap();
        let t = Tickets::start(s, bounds(None, Some(1)), CancellationToken::new()).unwrap();
        assert_eq!(drain(&t).await.len(), 20);
    }

    #[tokio::test(start_paused = true)]
    async fn the_closed_loop_sends_at_once_until_a_bound() {
        let s = Schedule::new(None, 2).unwrap();
        let t = Tickets::start(s, bounds(Some(3), None), CancellationToken::new()).unwrap();
        let got = drain(&t).await;
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|k| k.due == t.started()));

        let t = Tickets::start(s, bounds(None, Some(1)), CancellationToken::new()).unwrap();
        assert!(t.next().await.is_some());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(t.next().await.is_none());
    }

    #[tokio::test]
    async fn a_due_ticket_is_handed_out_without_a_timer() {
        // A timer, even for an instant already past, waits for the next
        // 1 ms tick: a closed loop must not pay it on every request.
        use futures_util::FutureExt;
        let s = Schedule::new(None, 1).unwrap();
        let t = Tickets::start(s, bounds(Some(100), None), CancellationToken::new()).unwrap();
        for _ in 0..100 {
            assert!(t.next().now_or_never().flatten().is_some());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_shutdown_ends_the_run_even_while_waiting() {
        let stop = CancellationToken::new();
        let s = Schedule::new(Some(0.001), 1).unwrap();
        let t = Tickets::start(s, bounds(Some(10), None), stop.clone()).unwrap();
        assert!(t.next().await.is_some());
        let canceller = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            stop.cancel();
        });
        assert!(t.next().await.is_none());
        canceller.await.unwrap();
    }

    #[test]
    fn bad_rates_and_unbounded_runs_are_refused() {
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e-20, 1e300, 0.0009] {
            assert!(Schedule::new(Some(rate), 1).is_err(), "{rate}");
        }
        let s = Schedule::new(None, 1).unwrap();
        assert!(matches!(
            Tickets::start(s, bounds(None, None), CancellationToken::new()),
            Err(ScheduleError::Unbounded)
        ));
    }
}
