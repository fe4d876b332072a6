//! What became of each message, told to the operator: the published and
//! failed counters (by reason) and the log line of a failure. A host
//! without a queue warns once, then is counted, with a summary line at most
//! once a minute.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::publish::{Failure, Outgoing, PublishOutcome};
use crate::metrics::{FailureLabels, Metrics};

/// Routing keys whose unroutable messages were logged at WARN. Bounded, so
/// that a flood of bad hosts cannot grow it.
#[derive(Debug, Default)]
pub struct Unroutable {
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
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !state.warned.contains(routing_key) {
            if state.warned.len() >= Self::MAX {
                state.warned.clear();
            }
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
pub fn record(
    metrics: &Metrics,
    unroutable: &Unroutable,
    message: &Outgoing,
    outcome: &PublishOutcome,
) {
    match outcome {
        PublishOutcome::Confirmed => {
            metrics.messages_published.inc();
        }
        PublishOutcome::Failed(failure) => {
            record_failure(metrics, outcome);
            if matches!(failure, Failure::Unroutable(_)) && !unroutable.first(&message.routing_key)
            {
                tracing::debug!(routing_key = %message.routing_key, "unroutable again");
            } else {
                tracing::warn!(
                    routing_key = %message.routing_key,
                    message_id = %message.message_id,
                    failure = %crate::error_chain::error_chain(failure),
                    "message not delivered"
                );
            }
        }
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
}
