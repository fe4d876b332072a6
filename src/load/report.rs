//! Counting what happened and saying it: per-worker [`Tally`]s merged at the
//! end (no locks on the hot path), turned into a [`Report`] with rates and
//! latency percentiles, printed as text or JSON.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::schedule::{Bounds, Schedule};

/// Longest latency a histogram holds, in microseconds (one hour); longer ones are clamped.
const MAX_MICROS: u64 = 3_600_000_000;

/// A latency histogram in microseconds, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("1..1h at 3 digits is a valid histogram")
}

/// Records `d` into `h`, clamped into the histogram's range.
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let micros = u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_MICROS);
    h.record(micros)
        .expect("the value was clamped into the histogram's range");
}

/// What one worker saw.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Requests answered, by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Events answered, by per-event code.
    pub codes: BTreeMap<u16, u64>,
    /// Requests that got no HTTP answer (connection refused, reset, bad body).
    pub failures: u64,
    /// Latency of every request, answered or not, from its due time.
    pub latency: Histogram<u64>,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            statuses: BTreeMap::new(),
            codes: BTreeMap::new(),
            failures: 0,
            latency: histogram(),
        }
    }
}

impl Tally {
    /// One answered request and the per-event codes of its body.
    pub fn answered(
        &mut self,
        status: u16,
        codes: impl IntoIterator<Item = u16>,
        latency: Duration,
    ) {
        *self.statuses.entry(status).or_default() += 1;
        for code in codes {
            *self.codes.entry(code).or_default() += 1;
        }
        record(&mut self.latency, latency);
    }

    /// One request that got no usable answer.
    pub fn failed(&mut self, latency: Duration) {
        self.failures += 1;
        record(&mut self.latency, latency);
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Tally) {
        for (k, v) in &other.statuses {
            *self.statuses.entry(*k).or_default() += v;
        }
        for (k, v) in &other.codes {
            *self.codes.entry(*k).or_default() += v;
        }
        self.failures += other.failures;
        self.latency
            .add(&other.latency)
            .expect("histograms built by histogram() have equal bounds");
    }

    /// Requests sent, answered or not.
    pub fn requests(&self) -> u64 {
        self.statuses.values().sum::<u64>() + self.failures
    }

    /// Events the API acknowledged with per-event code 200.
    pub fn accepted(&self) -> u64 {
        self.codes.get(&200).copied().unwrap_or(0)
    }
}

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
    /// Accepted events that never arrived (0 when all did).
    pub lost: u64,
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
