//! What became of each message, told to the operator: the published and
//! failed counters (by reason) and the log line of a failure. A host
//! without a queue warns once, then is counted, with a summary line at most
//! once a minute. Other failures (nack, timeout, a lost connection) warn in
//! full once, then are counted into a summary line at most every 10 s, so
//! an outage cannot flood the log; each one is still a DEBUG line.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::publish::{Failure, Outgoing, PublishOutcome};
use crate::metrics::{FailureLabels, Metrics};
use crate::support::error_chain::error_chain;
use crate::support::plain_lock;
use crate::support::rate_log::{RateLog, Verdict};

/// How often, at most, failures other than unroutable are summarised.
const FAILURE_SUMMARY_EVERY: Duration = Duration::from_secs(10);

/// The log state of failed messages, shared by every publisher.
#[derive(Debug)]
pub struct FailureLog {
    unroutable: Unroutable,
    others: RateLog,
}

impl Default for FailureLog {
    fn default() -> Self {
        Self {
            unroutable: Unroutable::default(),
            others: RateLog::new(FAILURE_SUMMARY_EVERY),
        }
    }
}

/// Routing keys whose unroutable messages were logged at WARN. Bounded, so
/// that a flood of bad hosts cannot grow it: past the bound, a new host's
/// messages are only counted.
#[derive(Debug, Default)]
struct Unroutable {
    state: Mutex<UnroutableState>,
}

#[derive(Debug, Default)]
struct UnroutableState {
    warned: HashSet<String>,
    /// Repeats since the last summary line, and when that was.
    repeats: u64,
    summarised: Option<Instant>,
}

impl Unroutable {
    const MAX: usize = 1024;
    const SUMMARY_EVERY: Duration = Duration::from_secs(60);

    /// Whether this is the first unroutable message for `routing_key`; a
    /// repeat is counted, and once a minute the count is logged.
    fn first(&self, routing_key: &str) -> bool {
        let mut state = plain_lock::lock(&self.state);
        if !state.warned.contains(routing_key) && state.warned.len() < Self::MAX {
            state.warned.insert(routing_key.to_owned());
            return true;
        }
        state.repeats += 1;
        let now = Instant::now();
        let since = *state.summarised.get_or_insert(now);
        if now.duration_since(since) >= Self::SUMMARY_EVERY {
            tracing::warn!(
                messages = state.repeats,
                hosts = state.warned.len(),
                "unroutable messages since the last summary (hosts without a bound queue; see herald_messages_failed_total{{reason=\"unroutable\"}})"
            );
            state.repeats = 0;
            state.summarised = Some(now);
        }
        false
    }
}

/// Counts and logs what became of one message.
pub fn record(metrics: &Metrics, log: &FailureLog, message: &Outgoing, outcome: &PublishOutcome) {
    let PublishOutcome::Failed(failure) = outcome else {
        metrics.messages_published.inc();
        return;
    };
    record_failure(metrics, outcome);
    let routing_key = &message.routing_key;
    let message_id = &message.message_id;
    // Formatted only when a line is written (tracing evaluates fields lazily).
    let cause = || error_chain(failure);
    if matches!(failure, Failure::Unroutable(_)) {
        if log.unroutable.first(routing_key) {
            tracing::warn!(%routing_key, %message_id, failure = %cause(), "message not delivered");
        } else {
            tracing::debug!(%routing_key, "unroutable again");
        }
        return;
    }
    match log.others.hit(Instant::now()) {
        Verdict::Log => {
            tracing::warn!(%routing_key, %message_id, failure = %cause(), "message not delivered");
        }
        Verdict::Counted => {
            tracing::debug!(%routing_key, %message_id, failure = %cause(), "message not delivered");
        }
        Verdict::Summary(messages) => tracing::warn!(
            messages,
            %routing_key,
            last_failure = %cause(),
            "messages not delivered since the last such line (see herald_messages_failed_total)"
        ),
    }
}

/// Counts a failed message by its reason.
pub fn record_failure(metrics: &Metrics, outcome: &PublishOutcome) {
    if let PublishOutcome::Failed(failure) = outcome {
        metrics
            .messages_failed
            .get_or_create(&FailureLabels {
                reason: failure.reason(),
            })
            .inc();
    }
}

/// With no broker connection, `n` messages fail at once: each is counted,
/// and each gets the outcome.
pub fn broker_unavailable(metrics: &Metrics, n: usize) -> Vec<PublishOutcome> {
    let failed = PublishOutcome::Failed(super::Failure::BrokerUnavailable);
    for _ in 0..n {
        record_failure(metrics, &failed);
    }
    vec![failed; n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_warns_once() {
        let u = Unroutable::default();
        assert!(u.first("events.a"));
        assert!(!u.first("events.a"));
        assert!(u.first("events.b"));
    }

    #[test]
    fn past_the_bound_new_hosts_are_only_counted() {
        let u = Unroutable::default();
        for i in 0..Unroutable::MAX {
            assert!(u.first(&format!("events.h{i}")));
        }
        assert!(!u.first("events.one-too-many"));
        assert!(!u.first("events.h0"), "the remembered hosts are kept");
    }
}
