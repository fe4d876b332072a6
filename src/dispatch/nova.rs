//! Publishing on Nova's wire (`amqp.wire = "nova"`): one oslo cast per host
//! per request, over the broker of that host's cell, to Nova's exchange with
//! routing key `<topic>.<host>`, mandatory and confirmed on the same
//! publish + confirm path as herald's wire ([`publish::publish_batch`]).
//!
//! There is no coalescing across requests here: every cast carries its own
//! request's context (`amqp.coalesce` is ignored). The topic is fixed by
//! `amqp.nova_topic`, or with `auto` follows the lowest nova-compute service
//! version across the cells, which the caller reads and hands to
//! [`NovaDispatch::observe_compute_versions`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::future::join_all;
use tokio::time::Instant;

use super::account::{self, FailureLog};
use super::brokers::Brokers;
use super::publish::{self, Outgoing, PublishOutcome};
use crate::broker::{AmqpConfig, CellBroker, NovaTopic, Wire};
use crate::metrics::Metrics;
use crate::model::HostName;
use crate::wire::nova;

/// The lowest `services.version` whose nova-compute consumes `compute-alt`
/// (RPC 6.5, nova 2026.1; `objects/service.py`).
pub const COMPUTE_ALT_SERVICE_VERSION: i64 = 71;

/// The topic of a routing key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    Compute,
    ComputeAlt,
}

impl Topic {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Compute => "compute",
            Self::ComputeAlt => "compute-alt",
        }
    }

    /// What nova-api's `[upgrade_levels] compute = auto` picks from each
    /// cell's lowest nova-compute version (`None`: the cell has none, or
    /// did not answer). As in Nova, cells without a version are left out,
    /// and with none anywhere the newest applies.
    pub fn from_versions(per_cell: impl IntoIterator<Item = Option<i64>>) -> Self {
        let lowest = per_cell.into_iter().flatten().filter(|v| *v > 0).min();
        match lowest {
            Some(v) if v < COMPUTE_ALT_SERVICE_VERSION => Self::Compute,
            _ => Self::ComputeAlt,
        }
    }
}

/// One host's cast of one request.
#[derive(Debug, Clone)]
pub struct NovaCast {
    pub host: HostName,
    /// The broker of the host's cell; `None` when it has none (its events
    /// answer 503).
    pub broker: Option<CellBroker>,
    pub instances: Vec<nova::Instance>,
    pub events: Vec<nova::Event>,
}

/// Nova mode's publisher.
#[derive(Debug)]
pub struct NovaDispatch {
    brokers: Brokers,
    exchange: String,
    confirm_timeout: std::time::Duration,
    fixed_topic: Option<Topic>,
    /// With `nova_topic = "auto"`: whether the last reading said `compute-alt`.
    /// `compute` until the first reading: every nova-compute consumes it.
    alt: AtomicBool,
    metrics: Arc<Metrics>,
    failure_log: FailureLog,
}

impl NovaDispatch {
    pub fn new(
        amqp: &AmqpConfig,
        config: &super::DispatchConfig,
        brokers: Brokers,
        metrics: Arc<Metrics>,
    ) -> Self {
        let fixed_topic = match amqp.nova_topic {
            NovaTopic::Auto => None,
            NovaTopic::Compute => Some(Topic::Compute),
            NovaTopic::ComputeAlt => Some(Topic::ComputeAlt),
        };
        Self {
            brokers,
            exchange: amqp.nova_exchange.clone(),
            confirm_timeout: config.confirm_timeout,
            fixed_topic,
            alt: AtomicBool::new(false),
            metrics,
            failure_log: FailureLog::default(),
        }
    }

    /// The brokers, for readiness and shutdown.
    pub fn brokers(&self) -> &Brokers {
        &self.brokers
    }

    /// Whether the topic is read from the cells (`nova_topic = "auto"`).
    pub fn topic_is_auto(&self) -> bool {
        self.fixed_topic.is_none()
    }

    /// The topic casts go to now.
    pub fn topic(&self) -> Topic {
        self.fixed_topic
            .unwrap_or(if self.alt.load(Ordering::Relaxed) {
                Topic::ComputeAlt
            } else {
                Topic::Compute
            })
    }

    /// A fresh reading of every cell's lowest nova-compute version.
    pub fn observe_compute_versions(&self, per_cell: impl IntoIterator<Item = Option<i64>>) {
        let topic = Topic::from_versions(per_cell);
        let was = self.alt.swap(topic == Topic::ComputeAlt, Ordering::Relaxed);
        if was != (topic == Topic::ComputeAlt) {
            tracing::info!(
                topic = topic.as_str(),
                "Nova cast topic chosen from the compute service versions"
            );
        }
    }

    /// Publishes each cast (with `context`) and says what became of it, in
    /// order. Every answer comes within `amqp.confirm_timeout` of the call.
    pub async fn deliver(
        &self,
        context: &nova::Context,
        casts: &[NovaCast],
    ) -> Vec<PublishOutcome> {
        let deadline = Instant::now() + self.confirm_timeout;
        let topic = self.topic();
        let messages: Vec<Outgoing> = casts
            .iter()
            .map(|cast| self.message(context, cast, topic))
            .collect();
        // One batch per broker, the brokers at once.
        let mut groups: Vec<(&CellBroker, Vec<usize>)> = Vec::new();
        let mut outcomes = vec![None; casts.len()];
        for (i, cast) in casts.iter().enumerate() {
            match &cast.broker {
                None => outcomes[i] = Some(account::broker_unavailable(&self.metrics, 1).remove(0)),
                Some(b) => match groups.iter_mut().find(|(g, _)| g.key() == b.key()) {
                    Some((_, members)) => members.push(i),
                    None => groups.push((b, vec![i])),
                },
            }
        }
        let batches = groups.iter().map(|(broker, members)| {
            let batch: Vec<Outgoing> = members.iter().map(|&i| messages[i].clone()).collect();
            self.publish(broker, batch, deadline)
        });
        for ((_, members), results) in groups.iter().zip(join_all(batches).await) {
            for (&i, outcome) in members.iter().zip(results) {
                outcomes[i] = Some(outcome);
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.expect("every cast is answered: no broker, or its batch's outcome"))
            .collect()
    }

    async fn publish(
        &self,
        broker: &CellBroker,
        messages: Vec<Outgoing>,
        deadline: Instant,
    ) -> Vec<PublishOutcome> {
        let Some(link) = self.brokers.link(broker, deadline).await else {
            return account::broker_unavailable(&self.metrics, messages.len());
        };
        let timeout = deadline.saturating_duration_since(Instant::now());
        let outcomes =
            publish::publish_batch(&link, &self.exchange, &messages, timeout, &self.metrics).await;
        for (message, outcome) in messages.iter().zip(&outcomes) {
            account::record(&self.metrics, &self.failure_log, message, outcome);
        }
        outcomes
    }

    fn message(&self, context: &nova::Context, cast: &NovaCast, topic: Topic) -> Outgoing {
        let unique_id = nova::unique_id();
        let body = nova::encode(&nova::Cast {
            context,
            instances: &cast.instances,
            events: &cast.events,
            unique_id: &unique_id,
        });
        self.metrics
            .events_per_message
            .observe(cast.events.len() as f64);
        Outgoing {
            wire: Wire::Nova,
            routing_key: format!("{}.{}", topic.as_str(), cast.host),
            message_id: unique_id,
            correlation_id: None,
            body,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_follows_the_lowest_compute_version_across_cells() {
        let pick = |v: &[Option<i64>]| Topic::from_versions(v.iter().copied());
        assert_eq!(pick(&[Some(71), Some(72)]), Topic::ComputeAlt);
        assert_eq!(pick(&[Some(72), Some(70)]), Topic::Compute);
        assert_eq!(pick(&[Some(70)]), Topic::Compute);
        // Cells without computes (or that did not answer) do not count.
        assert_eq!(pick(&[None, Some(71)]), Topic::ComputeAlt);
        assert_eq!(pick(&[Some(0), Some(71)]), Topic::ComputeAlt);
        // No compute anywhere: the newest, as nova-api does.
        assert_eq!(pick(&[None, None]), Topic::ComputeAlt);
        assert_eq!(pick(&[]), Topic::ComputeAlt);
    }
}
