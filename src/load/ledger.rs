//! Exact accounting of every event of a run, through broker faults: which
//! event was answered with which code and when, which arrived (and how
//! often), and from those the figures a fault run is about: acknowledged
//! events lost, events answered 503 that arrived anyway, duplicates, the
//! longest window without a 200 and the time from the first 503 to the next
//! 200. Pure: the workers and consumers fill it, the report reads it.
//!
//! Event `n` of a run (counting across batches, see [`super::plan`]) carries
//! `n` as its tag, so an arrival names exactly one sent event.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde::Serialize;

/// One answered request: when (since the run started) and each event's code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answered {
    /// The request's sequence number; its events are `seq * batch ..`.
    pub seq: u64,
    pub at: Duration,
    pub codes: Vec<u16>,
}

/// How often each event number arrived on the host queues.
#[derive(Debug, Default, Clone)]
pub struct Arrivals {
    times: HashMap<u64, u32>,
    duplicates: u64,
    /// The `_unique_id`s of the oslo messages seen.
    messages: HashSet<String>,
}

impl Arrivals {
    /// One arrival of event `n`.
    pub fn record(&mut self, n: u64) {
        let times = self.times.entry(n).or_default();
        if *times > 0 {
            self.duplicates += 1;
        }
        *times = times.saturating_add(1);
    }

    /// The events of one message; a message whose `unique_id` came before
    /// is a redelivery (oslo drops it) and its events count as duplicates.
    pub fn record_message(&mut self, unique_id: Option<String>, events: &[u64]) {
        if let Some(id) = unique_id
            && !self.messages.insert(id)
        {
            self.duplicates += events.len() as u64;
            return;
        }
        for &n in events {
            self.record(n);
        }
    }

    /// Distinct events that arrived.
    pub fn distinct(&self) -> u64 {
        self.times.len() as u64
    }

    /// Arrivals of an event that had arrived already.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    pub fn contains(&self, n: u64) -> bool {
        self.times.contains_key(&n)
    }
}

/// What became of the events, by their answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Fates {
    /// Answered 200 and never arrived: what a run must not have.
    pub lost: u64,
    /// Answered 503 (not confirmed) and arrived all the same: at-least-once.
    pub answered_503_delivered: u64,
}

/// Reads `answers` (events `seq * batch + i`) against `arrivals`.
pub fn fates(answers: &[Answered], batch: usize, arrivals: &Arrivals) -> Fates {
    let mut fates = Fates::default();
    for a in answers {
        let first = a.seq.saturating_mul(batch as u64);
        for (i, code) in a.codes.iter().enumerate() {
            let arrived = arrivals.contains(first + i as u64);
            match code {
                200 if !arrived => fates.lost += 1,
                503 if arrived => fates.answered_503_delivered += 1,
                _ => {}
            }
        }
    }
    fates
}

/// The event numbers answered 200 that have not arrived (yet).
pub fn missing(answers: &[Answered], batch: usize, arrivals: &Arrivals) -> u64 {
    fates(answers, batch, arrivals).lost
}

/// Outage figures read off the answers' times, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Windows {
    /// The longest time between two answers with a 200 in them (or from the
    /// last one to the end of sending, when the run ended without one).
    pub longest_without_200_ms: f64,
    /// From the first answer with a 503 to the next answer with a 200;
    /// `None` when there was no 503, or no 200 after it.
    pub first_503_to_next_200_ms: Option<f64>,
}

/// The windows of `answers`, sending having lasted `elapsed`.
pub fn windows(answers: &[Answered], elapsed: Duration) -> Windows {
    let mut by_time: Vec<&Answered> = answers.iter().collect();
    by_time.sort_by_key(|a| a.at);
    let mut longest = Duration::ZERO;
    let mut last_200: Option<Duration> = None;
    let mut first_503: Option<Duration> = None;
    let mut recovered: Option<Duration> = None;
    for a in by_time {
        if a.codes.contains(&200) {
            if let Some(previous) = last_200 {
                longest = longest.max(a.at.saturating_sub(previous));
            }
            last_200 = Some(a.at);
            if let (Some(f), None) = (first_503, recovered) {
                recovered = Some(a.at.saturating_sub(f));
            }
        }
        if first_503.is_none() && a.codes.contains(&503) {
            first_503 = Some(a.at);
        }
    }
    if let Some(last) = last_200 {
        longest = longest.max(elapsed.saturating_sub(last));
    }
    Windows {
        longest_without_200_ms: ms(longest),
        first_503_to_next_200_ms: recovered.map(ms),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(seq: u64, at_ms: u64, codes: &[u16]) -> Answered {
        Answered {
            seq,
            at: Duration::from_millis(at_ms),
            codes: codes.to_vec(),
        }
    }

    #[test]
    fn duplicates_count_second_arrivals_only() {
        let mut a = Arrivals::default();
        for n in [1, 2, 2, 3, 2] {
            a.record(n);
        }
        assert_eq!((a.distinct(), a.duplicates()), (3, 2));
    }

    #[test]
    fn a_repeated_unique_id_is_a_redelivery() {
        let mut a = Arrivals::default();
        a.record_message(Some("m1".into()), &[1, 2]);
        a.record_message(Some("m2".into()), &[3]);
        a.record_message(Some("m1".into()), &[1, 2]);
        assert_eq!((a.distinct(), a.duplicates()), (3, 2));
        // Without ids (herald's wire) a repeated event is still a duplicate.
        a.record_message(None, &[3, 4]);
        assert_eq!((a.distinct(), a.duplicates()), (4, 3));
    }

    #[test]
    fn fates_name_lost_200s_and_delivered_503s_by_event_number() {
        // Batches of 2: request 0 holds events 0, 1; request 1 events 2, 3.
        let answers = [answered(0, 10, &[200, 503]), answered(1, 20, &[200, 503])];
        let mut arrivals = Arrivals::default();
        for n in [0, 1] {
            arrivals.record(n);
        }
        assert_eq!(
            fates(&answers, 2, &arrivals),
            Fates {
                lost: 1,
                answered_503_delivered: 1
            }
        );
        assert_eq!(missing(&answers, 2, &arrivals), 1);
        arrivals.record(2);
        assert_eq!(missing(&answers, 2, &arrivals), 0);
    }

    #[test]
    fn windows_measure_the_outage_from_the_answers() {
        let answers = [
            answered(0, 100, &[200]),
            answered(3, 1_000, &[503]),
            answered(1, 200, &[200]),
            answered(2, 900, &[503]),
            answered(4, 2_500, &[200]),
            answered(5, 2_600, &[200]),
        ];
        let w = windows(&answers, Duration::from_millis(3_000));
        assert_eq!(w.longest_without_200_ms, 2_300.0);
        assert_eq!(w.first_503_to_next_200_ms, Some(1_600.0));
    }

    #[test]
    fn a_run_ending_in_an_outage_counts_it_to_the_end() {
        let answers = [answered(0, 100, &[200]), answered(1, 200, &[503])];
        let w = windows(&answers, Duration::from_millis(5_100));
        assert_eq!(w.longest_without_200_ms, 5_000.0);
        assert_eq!(w.first_503_to_next_200_ms, None, "no 200 after the 503");
        assert_eq!(windows(&[], Duration::from_secs(1)), Windows::default());
    }
}
