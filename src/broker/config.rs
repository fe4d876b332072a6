//! `[amqp]`: the broker node list, the names used on it, confirm and reconnect timing.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::names::check_amqp_name;
use super::nodes::{BrokerUrls, Node};
use super::tls_config::AmqpTlsConfig;
use crate::config_error::{ConfigError, invalid};

/// `[amqp]`
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
    /// How long the broker may take to confirm a message before its events get 503.
    #[serde(with = "humantime_serde")]
    pub confirm_timeout: Duration,
    /// Confirm-mode channels kept open for publishing (bounds concurrent batches).
    pub channels: usize,
    /// How long to wait for a free publishing channel before answering 503.
    #[serde(with = "humantime_serde")]
    pub channel_wait_timeout: Duration,
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
    /// Send events of concurrent requests for one host in one message (body
    /// version 2); `false` sends body version 1, one message per host per request.
    pub coalesce: bool,
    /// Coalescing: messages per host awaiting confirms at once; more events
    /// for that host wait and go out together in the next message.
    pub coalesce_in_flight: usize,
    /// Coalescing: at most this many events per message (a larger request
    /// travels alone, never split).
    pub coalesce_max_events: usize,
    /// Coalescing: requests waiting per host; past it, that host's events answer 503.
    pub coalesce_queue: usize,
    /// `[amqp.tls]`: TLS to the nodes (`amqps://` URLs always use it).
    pub tls: AmqpTlsConfig,
}

impl Default for AmqpConfig {
    fn default() -> Self {
        Self {
            url: BrokerUrls::from("amqp://guest:guest@127.0.0.1:5672/%2f"),
            exchange: "herald".into(),
            routing_prefix: "events".into(),
            queue_prefix: "herald.events".into(),
            confirm_timeout: Duration::from_secs(5),
            // A publisher holds its channel until its confirm: 64 lets 64
            // messages be in flight (100 hosts, 64 connections: 4,574
            // events/s against 3,640 with 32).
            channels: 64,
            channel_wait_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(5),
            reconnect_min_backoff: Duration::from_millis(100),
            reconnect_max_backoff: Duration::from_secs(2),
            coalesce: true,
            // Measured fastest at every bench shape: one message per host in
            // flight lets the most events queue into the next.
            coalesce_in_flight: 1,
            coalesce_max_events: 256,
            coalesce_queue: 1024,
            tls: AmqpTlsConfig::default(),
        }
    }
}

impl AmqpConfig {
    /// The broker nodes, in the order to try them (validated at load), each
    /// marked for TLS when its URL or `amqp.tls.enabled` asks for it.
    pub fn nodes(&self) -> Vec<Node> {
        let nodes = self.url.nodes().unwrap_or_default();
        let all = self.tls.enabled;
        nodes.into_iter().map(|node| node.with_tls(all)).collect()
    }

    /// Logs, once at start, any setting that weakens the broker's TLS check.
    pub fn warn_weakened(&self) {
        self.tls.warn_weakened(self.uses_tls());
    }

    /// Does any node's connection use TLS?
    pub fn uses_tls(&self) -> bool {
        self.nodes().iter().any(Node::uses_tls)
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        self.url.nodes().map_err(|e| invalid("amqp.url", e))?;
        self.tls.validate(self.uses_tls())?;
        check_amqp_name("amqp.exchange", &self.exchange)?;
        check_amqp_name("amqp.routing_prefix", &self.routing_prefix)?;
        check_amqp_name("amqp.queue_prefix", &self.queue_prefix)?;
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
        if self.confirm_timeout.is_zero() {
            return Err(invalid("amqp.confirm_timeout", "must be greater than 0"));
        }
        if self.channels == 0 {
            return Err(invalid("amqp.channels", "must be greater than 0"));
        }
        for (key, value, max) in [
            ("amqp.coalesce_in_flight", self.coalesce_in_flight, 1024),
            ("amqp.coalesce_max_events", self.coalesce_max_events, 10_000),
            ("amqp.coalesce_queue", self.coalesce_queue, 1_000_000),
        ] {
            if value == 0 || value > max {
                return Err(invalid(key, format!("must be between 1 and {max}")));
            }
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
