//! What one worker counts as it goes, without locks: statuses, per-event
//! codes, latencies, and each answer with its time for the [`super::ledger`];
//! merged into one at the end of a run.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::ledger::Answered;

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
    /// Every answered request with its time and codes, for the ledger.
    pub answers: Vec<Answered>,
}

impl Default for Tally {
    fn default() -> Self {
        Self {
            statuses: BTreeMap::new(),
            codes: BTreeMap::new(),
            failures: 0,
            latency: histogram(),
            answers: Vec::new(),
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

    /// Keeps the answer to request `seq`, `at` since the run started.
    pub fn keep(&mut self, seq: u64, at: Duration, codes: Vec<u16>) {
        self.answers.push(Answered { seq, at, codes });
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
        self.answers.extend(other.answers.iter().cloned());
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
