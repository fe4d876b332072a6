//! What a flight's task does with the broker: each host's group becomes a
//! version 2 message, the flight's messages go out together on one
//! borrowed channel, and their confirms are awaited together. The owner
//! task in [`super`] reaches the broker only through [`Publish`], so its
//! loop is tested with a publisher of the tests' own.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::time::Instant;

use super::queue::Pending;
use crate::broker::Topology;
use crate::dispatch::account;
use crate::dispatch::link::Link;
use crate::dispatch::publish::{self, Outgoing, PublishOutcome};
use crate::metrics::Metrics;
use crate::model::HostName;
use crate::wire;

/// Publishes a flight: one message per group, together, and their
/// outcomes in the groups' order.
pub(super) trait Publish: Send + Sync + 'static {
    fn publish(
        &self,
        groups: &[(HostName, Vec<Pending>)],
    ) -> impl Future<Output = Vec<PublishOutcome>> + Send;
}

/// Everything the broker publisher needs, shared with the dispatcher's
/// uncoalesced path.
#[derive(Debug)]
pub struct Shared {
    pub topology: Topology,
    pub state: watch::Receiver<Option<Arc<Link>>>,
    pub metrics: Arc<Metrics>,
    pub failure_log: account::FailureLog,
}

impl Publish for Shared {
    /// A message may wait until its latest request's deadline; the flight
    /// stops at the earliest such deadline of its messages, so a host
    /// stalling for the first time keeps the others' answers (confirmed
    /// long before) at most until then, within their requests' own
    /// deadlines.
    async fn publish(&self, groups: &[(HostName, Vec<Pending>)]) -> Vec<PublishOutcome> {
        let Some(link) = self.state.borrow().clone() else {
            return account::broker_unavailable(&self.metrics, groups.len());
        };
        let messages: Vec<Outgoing> = groups
            .iter()
            .map(|(host, group)| message(host, group, self))
            .collect();
        let timeout = flight_deadline(groups).saturating_duration_since(Instant::now());
        let outcomes = publish::publish_batch(
            &link,
            self.topology.exchange(),
            &messages,
            timeout,
            &self.metrics,
        )
        .await;
        for (message, outcome) in messages.iter().zip(&outcomes) {
            account::record(&self.metrics, &self.failure_log, message, outcome);
        }
        outcomes
    }
}

/// When a flight stops waiting for confirms: the earliest of its
/// messages' deadlines, a message's being its latest request's.
pub(super) fn flight_deadline(groups: &[(HostName, Vec<Pending>)]) -> Instant {
    groups
        .iter()
        .filter_map(|(_, group)| group.iter().map(|p| p.deadline).max())
        .min()
        .unwrap_or_else(Instant::now)
}

/// One host's group as a version 2 message.
fn message(host: &HostName, group: &[Pending], shared: &Shared) -> Outgoing {
    let events: Vec<&wire::WireEventV2> = group.iter().flat_map(|p| &p.events).collect();
    let correlation_id =
        wire::shared_request_id(events.iter().map(|e| e.request_id.as_str())).map(str::to_owned);
    shared
        .metrics
        .events_per_message
        .observe(events.len() as f64);
    let message_id = uuid::Uuid::new_v4().to_string();
    let sent_at = crate::support::timestamp::now_rfc3339();
    let body = wire::MessageV2Ref {
        version: wire::BODY_V2,
        message_id: &message_id,
        host,
        sent_at: &sent_at,
        events,
    };
    let body = body.encode();
    Outgoing {
        wire: crate::broker::Wire::Herald,
        routing_key: shared.topology.routing_key(host),
        message_id,
        correlation_id,
        body,
    }
}
