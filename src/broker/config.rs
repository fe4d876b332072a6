//! The broker's settings: `[amqp]`'s node list, names and connect timing
//! ([`AmqpConfig`]), and how host queues are declared ([`QueueSettings`],
//! whose keys users write in `[agent]`). `[amqp]`'s publish and coalescing
//! keys belong to [`crate::dispatch::config`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::cell::CellBroker;
use super::names::check_amqp_name;
use super::nodes::{BrokerUrls, Node};
use super::topology::QueueType;
use crate::support::config_error::{ConfigError, invalid};

/// `[amqp]`: where the broker is, the names used on it (herald's, or Nova's
/// with `wire = "nova"`), connect timing.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AmqpConfig {
    /// Broker node(s): one URL, an array of URLs, or oslo's comma form
    /// `amqp://u:p@h1:5672,u:p@h2:5672/vhost`; `?heartbeat=` is honoured.
    pub url: BrokerUrls,
    /// The durable topic exchange events are published to.
    pub exchange: String,
    /// Routing keys are `<routing_prefix>.<host>`.
    pub routing_prefix: String,
    /// Host queues are `<queue_prefix>.<host>`.
    pub queue_prefix: String,
    /// How long one connection attempt may take.
    #[serde(with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// First delay between reconnection rounds (after every node failed);
    /// doubles up to `reconnect_max_backoff`, each delay jittered into [d/2, d).
    #[serde(with = "humantime_serde")]
    pub reconnect_min_backoff: Duration,
    /// Longest delay between reconnection attempts.
    #[serde(with = "humantime_serde")]
    pub reconnect_max_backoff: Duration,
    /// The wire events travel on: `herald` (herald's bodies to herald agents)
    /// or `nova` (the oslo cast unmodified nova-compute reads; needs
    /// `directory.backend = "nova"`; `amqp.coalesce` does not apply and is ignored).
    pub wire: Wire,
    /// Nova wire: Nova's `control_exchange`. Checked passively at connect,
    /// never declared (it is Nova's).
    pub nova_exchange: String,
    /// Nova wire: the routing key's topic, `<topic>.<host>`: `auto` (as
    /// nova-api with `[upgrade_levels] compute = auto`), `compute` or `compute-alt`.
    pub nova_topic: NovaTopic,
}

/// `amqp.wire`: which messages herald publishes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Wire {
    /// herald's own bodies, to `amqp.exchange`, read by `herald agent`.
    #[default]
    Herald,
    /// nova-api's `external_instance_event` cast, to `amqp.nova_exchange`.
    Nova,
}

/// `amqp.nova_topic`: the topic of the routing key in Nova mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NovaTopic {
    /// `compute-alt` once every cell's nova-compute services are new enough
    /// to consume it, else `compute`; read from the cell databases.
    #[default]
    Auto,
    /// Always `compute` (every nova-compute consumes it).
    Compute,
    /// Always `compute-alt` (nova-compute 2026.1 and later; it keeps
    /// consuming it while shutting down gracefully).
    ComputeAlt,
}

impl Default for AmqpConfig {
    fn default() -> Self {
        Self {
            url: BrokerUrls::from("amqp://guest:guest@127.0.0.1:5672/%2f"),
            exchange: "herald".into(),
            routing_prefix: "events".into(),
            queue_prefix: "herald.events".into(),
            connect_timeout: Duration::from_secs(5),
            reconnect_min_backoff: Duration::from_millis(100),
            reconnect_max_backoff: Duration::from_secs(2),
            wire: Wire::Herald,
            // nova's own default control_exchange (nova/config.py).
            nova_exchange: "nova".into(),
            nova_topic: NovaTopic::Auto,
        }
    }
}

impl AmqpConfig {
    /// The broker nodes, in the order to try them (validated at load).
    pub fn nodes(&self) -> Vec<Node> {
        self.url.nodes().unwrap_or_default()
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        match self.wire {
            Wire::Herald => drop(self.url.nodes().map_err(|e| invalid("amqp.url", e))?),
            // oslo's forms too (rabbit://, an empty vhost), as in nova.conf.
            Wire::Nova => drop(
                CellBroker::from_urls(&self.url).map_err(|e| invalid("amqp.url", e.to_string()))?,
            ),
        }
        check_amqp_name("amqp.exchange", &self.exchange)?;
        check_amqp_name("amqp.routing_prefix", &self.routing_prefix)?;
        check_amqp_name("amqp.queue_prefix", &self.queue_prefix)?;
        check_amqp_name("amqp.nova_exchange", &self.nova_exchange)?;
        if self.wire == Wire::Nova && self.nova_exchange.is_empty() {
            return Err(invalid(
                "amqp.nova_exchange",
                "must not be empty with amqp.wire = \"nova\" (Nova casts to its control_exchange)",
            ));
        }
        if self.exchange.is_empty() {
            return Err(invalid(
                "amqp.exchange",
                "must not be empty (the default exchange cannot be bound)",
            ));
        }
        if self.exchange.starts_with("amq.") {
            return Err(invalid(
                "amqp.exchange",
                "names starting with `amq.` are reserved by the broker",
            ));
        }
        if self.reconnect_min_backoff.is_zero()
            || self.reconnect_min_backoff > self.reconnect_max_backoff
        {
            return Err(invalid(
                "amqp.reconnect_min_backoff",
                "must be greater than 0 and at most amqp.reconnect_max_backoff",
            ));
        }
        Ok(())
    }
}

/// How host queues are declared (by the agent, and by `herald load`). The
/// keys sit in `[agent]`, where users have always written them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueSettings {
    /// `classic` or `quorum`.
    pub queue_type: QueueType,
    /// Messages older than this expire from the host queue (to the DLX if set).
    #[serde(
        default,
        with = "humantime_serde",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_ttl: Option<Duration>,
    /// Exchange that rejected and expired messages go to (declared by the agent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_exchange: Option<String>,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            queue_type: QueueType::Classic,
            message_ttl: None,
            dead_letter_exchange: None,
        }
    }
}

impl QueueSettings {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if let Some(dlx) = &self.dead_letter_exchange {
            check_amqp_name("agent.dead_letter_exchange", dlx)?;
        }
        if let Some(ttl) = self.message_ttl
            && (ttl.is_zero() || ttl.as_millis() > i32::MAX as u128)
        {
            return Err(invalid(
                "agent.message_ttl",
                "must be between 1ms and about 24 days",
            ));
        }
        Ok(())
    }
}
