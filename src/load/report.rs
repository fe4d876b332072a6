//! Saying what happened: the merged [`Tally`] and the [`super::ledger`]'s
//! figures turned into a [`Report`] with rates, latency percentiles, what
//! became of the events and what went wrong, printed as text or JSON.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::ledger::{self, Windows};
use super::schedule::{Bounds, Schedule};

pub use super::tally::{Tally, histogram, record};

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

impl Percentiles {
    pub fn of(h: &Histogram<u64>) -> Self {
        let ms = |micros: u64| micros as f64 / 1000.0;
        Self {
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        }
    }
}

impl fmt::Display for Percentiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms, mean {:.2} ms",
            self.p50, self.p90, self.p99, self.max, self.mean
        )
    }
}

/// What the broker side saw, when load consumed the host queues itself.
#[derive(Debug, Clone, Serialize)]
pub struct BrokerReport {
    /// Events that arrived on the host queues.
    pub delivered: u64,
    /// Messages that carried them.
    pub messages: u64,
    /// Messages that were not a herald body (rejected).
    pub undecodable: u64,
    /// Events answered 200 that never arrived (0 when all did).
    pub lost: u64,
    /// Arrivals of an event that had arrived already (at-least-once).
    pub duplicates: u64,
    /// Events answered 503 that arrived anyway (a confirm that timed out or
    /// a connection lost after the broker took the message).
    pub answered_503_delivered: u64,
    /// Times the consumers lost their connection and consumed again.
    pub reconnects: u64,
    /// From each message's `sent_at` to its arrival here.
    pub end_to_end_ms: Percentiles,
}

/// The outcome of a run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schedule: Schedule,
    pub bounds: Bounds,
    pub elapsed_secs: f64,
    pub requests: u64,
    pub transport_errors: u64,
    pub statuses: BTreeMap<u16, u64>,
    pub event_codes: BTreeMap<u16, u64>,
    pub events_sent: u64,
    /// Events answered with per-event code 200.
    pub accepted: u64,
    pub requests_per_sec: f64,
    pub events_per_sec: f64,
    pub latency_ms: Percentiles,
    /// The outage figures read off the answers' times.
    #[serde(flatten)]
    pub windows: Windows,
    /// What kept the run from counting everything (e.g. the broker gone at
    /// the end); a run with problems fails.
    pub problems: Vec<String>,
    /// `None` when agents consume the queues (`--agents-running`) or `--consume false`.
    pub broker: Option<BrokerReport>,
}

impl Report {
    /// Builds the report of `tally` over `elapsed` with `batch_size` events a request.
    pub fn new(
        schedule: Schedule,
        bounds: Bounds,
        tally: &Tally,
        batch_size: usize,
        elapsed: Duration,
    ) -> Self {
        let secs = elapsed.as_secs_f64().max(f64::EPSILON);
        let requests = tally.requests();
        let events_sent = requests * batch_size as u64;
        Self {
            schedule,
            bounds,
            elapsed_secs: elapsed.as_secs_f64(),
            requests,
            transport_errors: tally.failures,
            statuses: tally.statuses.clone(),
            event_codes: tally.codes.clone(),
            events_sent,
            accepted: tally.accepted(),
            requests_per_sec: requests as f64 / secs,
            events_per_sec: events_sent as f64 / secs,
            latency_ms: Percentiles::of(&tally.latency),
            windows: ledger::windows(&tally.answers, elapsed),
            problems: Vec::new(),
            broker: None,
        }
    }

    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a Report holds only numbers, strings and maps")
    }
}

fn counts(map: &BTreeMap<u16, u64>) -> String {
    let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k}: {v}")).collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.schedule {
            Schedule::Closed { concurrency } => {
                writeln!(f, "schedule:   closed loop, concurrency {concurrency}")?
            }
            Schedule::Open { rate, concurrency } => writeln!(
                f,
                "schedule:   open loop, {rate} req/s, at most {concurrency} in flight"
            )?,
        }
        writeln!(f, "elapsed:    {:.2} s", self.elapsed_secs)?;
        writeln!(
            f,
            "requests:   {} ({:.1} req/s), transport errors: {}",
            self.requests, self.requests_per_sec, self.transport_errors
        )?;
        writeln!(f, "statuses:   {}", counts(&self.statuses))?;
        writeln!(
            f,
            "events:     {} sent ({:.1} ev/s), {} accepted",
            self.events_sent, self.events_per_sec, self.accepted
        )?;
        writeln!(f, "codes:      {}", counts(&self.event_codes))?;
        writeln!(f, "latency:    {}", self.latency_ms)?;
        let w = &self.windows;
        write!(
            f,
            "outage:     longest without a 200 {:.0} ms",
            w.longest_without_200_ms
        )?;
        match w.first_503_to_next_200_ms {
            Some(ms) => writeln!(f, ", first 503 to next 200 {ms:.0} ms")?,
            None => writeln!(f, ", no 503 followed by a 200")?,
        }
        for problem in &self.problems {
            writeln!(f, "problem:    {problem}")?;
        }
        match &self.broker {
            None => writeln!(
                f,
                "broker:     delivery not checked (--agents-running or --consume false)"
            ),
            Some(b) => {
                writeln!(
                    f,
                    "delivered:  {} of {} accepted in {} messages, lost {}, undecodable {}",
                    b.delivered, self.accepted, b.messages, b.lost, b.undecodable
                )?;
                writeln!(
                    f,
                    "at-least-once: {} duplicates, {} answered 503 arrived anyway, {} consumer reconnects",
                    b.duplicates, b.answered_503_delivered, b.reconnects
                )?;
                writeln!(f, "end-to-end: {}", b.end_to_end_ms)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn tallies_merge_counts_and_histograms() {
        let mut a = Tally::default();
        a.answered(200, [200, 200], ms(1));
        a.failed(ms(3));
        let mut b = Tally::default();
        b.answered(207, [200, 404, 503], ms(2));
        a.merge(&b);
        assert_eq!(a.requests(), 3);
        assert_eq!(a.accepted(), 3);
        assert_eq!(a.statuses, BTreeMap::from([(200, 1), (207, 1)]));
        assert_eq!(a.codes, BTreeMap::from([(200, 3), (404, 1), (503, 1)]));
        assert_eq!(a.latency.len(), 3);
    }

    #[test]
    fn percentiles_and_rates_are_computed_in_milliseconds() {
        let mut t = Tally::default();
        for i in 1..=100 {
            t.answered(200, [200; 10], ms(i));
        }
        let s = Schedule::new(None, 4).unwrap();
        let r = Report::new(
            s,
            Bounds {
                requests: Some(100),
                duration: None,
            },
            &t,
            10,
            Duration::from_secs(2),
        );
        assert_eq!((r.requests, r.events_sent, r.accepted), (100, 1000, 1000));
        assert_eq!(r.requests_per_sec, 50.0);
        assert_eq!(r.events_per_sec, 500.0);
        let p = r.latency_ms;
        assert!((p.p50 - 50.0).abs() < 0.1, "{p:?}");
        assert!((p.p90 - 90.0).abs() < 0.1, "{p:?}");
        assert!((p.p99 - 99.0).abs() < 0.1, "{p:?}");
        assert!((p.max - 100.0).abs() < 0.1, "{p:?}");
        assert!((p.mean - 50.5).abs() < 0.1, "{p:?}");
    }

    #[test]
    fn out_of_range_latencies_are_clamped_not_lost() {
        let mut h = histogram();
        record(&mut h, Duration::ZERO);
        record(&mut h, Duration::from_secs(10 * 3600));
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn text_and_json_say_the_same_things() {
        let mut t = Tally::default();
        t.answered(207, [200, 503], ms(5));
        let s = Schedule::new(Some(10.0), 2).unwrap();
        let mut r = Report::new(
            s,
            Bounds {
                requests: Some(1),
                duration: None,
            },
            &t,
            2,
            Duration::from_secs(1),
        );
        r.broker = Some(BrokerReport {
            delivered: 1,
            messages: 1,
            undecodable: 0,
            lost: 0,
            duplicates: 0,
            answered_503_delivered: 0,
            reconnects: 0,
            end_to_end_ms: Percentiles::of(&histogram()),
        });
        let text = r.to_string();
        assert!(text.contains("open loop, 10 req/s"), "{text}");
        assert!(text.contains("200: 1, 503: 1"), "{text}");
        assert!(text.contains("delivered:  1 of 1 accepted"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(json["event_codes"]["503"], 1);
        assert_eq!(json["schedule"]["mode"], "open");
        assert_eq!(json["broker"]["lost"], 0);
    }
}
