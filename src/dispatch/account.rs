//! What became of each message, told to the operator: the published and
//! failed counters (by reason) and the log line of a failure. A host
//! without a queue warns once, then is only counted.

use std::collections::HashSet;
use std::sync::Mutex;

use super::publish::{Failure, Outgoing, PublishOutcome};
use crate::metrics::{FailureLabels, Metrics};

/// Routing keys whose unroutable messages were logged at WARN. Bounded, so
/// that a flood of bad hosts cannot grow it.
#[derive(Debug, Default)]
pub struct Unroutable {
    warned: Mutex<HashSet<String>>,
}

impl Unroutable {
    const MAX: usize = 1024;

    /// Whether this is the first unroutable message for `routing_key`.
    fn first(&self, routing_key: &str) -> bool {
        let mut warned = self
            .warned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if warned.contains(routing_key) {
            return false;
        }
        if warned.len() >= Self::MAX {
            warned.clear();
        }
        warned.insert(routing_key.to_owned())
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
                    %failure,
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
