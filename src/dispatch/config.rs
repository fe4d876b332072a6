//! `[amqp]`: the broker URL, the names used on it, confirm and reconnect timing.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::check_amqp_name;
use crate::config_error::{ConfigError, invalid};

/// `[amqp]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AmqpConfig {
    /// Broker URL; `?heartbeat=` and `?connection_timeout=` are honoured.
    pub url: String,
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
    /// First delay between reconnection attempts; doubles up to `reconnect_max_backoff`.
    #[serde(with = "humantime_serde")]
    pub reconnect_min_backoff: Duration,
    /// Longest delay between reconnection attempts.
    #[serde(with = "humantime_serde")]
    pub reconnect_max_backoff: Duration,
}

impl Default for AmqpConfig {
    fn default() -> Self {
        Self {
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".into(),
            exchange: "herald".into(),
            routing_prefix: "events".into(),
            queue_prefix: "herald.events".into(),
            confirm_timeout: Duration::from_secs(5),
            channels: 32,
            channel_wait_timeout: Duration::from_secs(2),
            connect_timeout: Duration::from_secs(5),
            reconnect_min_backoff: Duration::from_millis(200),
            reconnect_max_backoff: Duration::from_secs(10),
        }
    }
}

impl AmqpConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        self.url
            .parse::<lapin::uri::AMQPUri>()
            .map_err(|e| invalid("amqp.url", format!("not an AMQP URL: {e}")))?;
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
