//! The dispatcher's settings: publishing with confirms and coalescing. Users
//! write these keys in `[amqp]`, beside the broker's own ([`crate::broker::config`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::support::config_error::{ConfigError, invalid};

/// `[amqp]`'s publish and coalescing keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DispatchConfig {
    /// How long the broker may take to confirm a message before its events get 503.
    #[serde(with = "humantime_serde")]
    pub confirm_timeout: Duration,
    /// Confirm-mode channels kept open for publishing (bounds concurrent batches).
    pub channels: usize,
    /// How long to wait for a free publishing channel before answering 503.
    #[serde(with = "humantime_serde")]
    pub channel_wait_timeout: Duration,
    /// Send events of concurrent requests for one host in one message (body
    /// version 2); `false` sends body version 1, one message per host per request.
    pub coalesce: bool,
    /// Deprecated, without effect: a host always has one coalesced message
    /// awaiting its confirm (what measured fastest at every shape). Still
    /// accepted, so existing files load; serve warns when it is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coalesce_in_flight: Option<usize>,
    /// Coalescing: at most this many events per message (a larger request
    /// travels alone, never split).
    pub coalesce_max_events: usize,
    /// Coalescing: requests waiting per host; past it, that host's events answer 503.
    pub coalesce_queue: usize,
}

impl Default for DispatchConfig {
    fn default() -> Self {
        Self {
            confirm_timeout: Duration::from_secs(5),
            // A publisher holds its channel until its confirm: 64 lets 64
            // messages be in flight (100 hosts, 64 connections: 4,574
            // events/s against 3,640 with 32).
            channels: 64,
            channel_wait_timeout: Duration::from_secs(2),
            coalesce: true,
            coalesce_in_flight: None,
            coalesce_max_events: 256,
            coalesce_queue: 1024,
        }
    }
}

impl DispatchConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.confirm_timeout.is_zero() {
            return Err(invalid("amqp.confirm_timeout", "must be greater than 0"));
        }
        if self.channels == 0 {
            return Err(invalid("amqp.channels", "must be greater than 0"));
        }
        // The deprecated key keeps its old bounds: a file that loaded loads.
        let in_flight = self.coalesce_in_flight.unwrap_or(1);
        for (key, value, max) in [
            ("amqp.coalesce_in_flight", in_flight, 1024),
            ("amqp.coalesce_max_events", self.coalesce_max_events, 10_000),
            ("amqp.coalesce_queue", self.coalesce_queue, 1_000_000),
        ] {
            if value == 0 || value > max {
                return Err(invalid(key, format!("must be between 1 and {max}")));
            }
        }
        Ok(())
    }

    /// Warns about each deprecated key the file sets.
    pub fn warn_deprecated(&self) {
        if let Some(value) = self.coalesce_in_flight {
            tracing::warn!(
                key = "amqp.coalesce_in_flight",
                value,
                "deprecated and ignored: a host always has one coalesced message in flight; remove the key"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    const MINIMAL: &str = "[[auth.tokens]]\ntoken = \"secret\"\nroles = [\"admin\"]\n";

    #[test]
    fn the_deprecated_in_flight_key_still_loads_and_keeps_its_bounds() {
        let set = format!("{MINIMAL}[amqp]\ncoalesce_in_flight = 4\n");
        let c = Config::from_toml(&set, Vec::new()).expect("a file that set it still loads");
        assert_eq!(c.dispatch.coalesce_in_flight, Some(4));
        let unset = Config::from_toml(MINIMAL, Vec::new()).expect("loads");
        assert_eq!(
            unset.dispatch.coalesce_in_flight, None,
            "nothing to warn about"
        );
        assert!(!unset.redacted_toml().contains("coalesce_in_flight"));
        let zero = format!("{MINIMAL}[amqp]\ncoalesce_in_flight = 0\n");
        assert!(Config::from_toml(&zero, Vec::new()).is_err(), "as before");
    }
}
