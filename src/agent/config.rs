//! `[agent]`'s agent keys: the waiter API and what the agent remembers. The
//! host queue's keys of the same section belong to the broker
//! ([`crate::broker::QueueSettings`]).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::support::config_error::{ConfigError, invalid};

/// The longest timeout or grace the agent takes; longer is a typo, not a wish.
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);
/// Bound on `agent.dedup_capacity` (the journal holds up to twice it).
const MAX_DEDUP_CAPACITY: usize = 10_000_000;
/// Bound on `agent.dedup_path`'s length (Linux's `PATH_MAX`).
const MAX_PATH_BYTES: usize = 4096;

/// `[agent]`: the compute agent (`herald agent`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AgentConfig {
    /// Unacknowledged messages the broker may push at once.
    pub prefetch: u16,
    /// Address of the local waiter API.
    pub waiter_listen: SocketAddr,
    /// How long received events are kept for late waiters.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    /// How many handled message ids are remembered to drop redeliveries.
    pub dedup_capacity: usize,
    /// File that keeps those ids across restarts; empty = in memory only.
    pub dedup_path: PathBuf,
    /// Most events kept for waiters at once; the oldest go first when over.
    pub max_retained_events: usize,
    /// How long a waiter may take to send a request's headers.
    #[serde(with = "humantime_serde")]
    pub waiter_header_read_timeout: Duration,
    /// Most waiter API connections open at once; absent: sized from the
    /// open-files limit, as `http.max_connections` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiter_max_connections: Option<usize>,
    /// How long the agent may take after a shutdown signal to settle the
    /// messages it holds and answer the waiters it is serving.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            prefetch: 64,
            waiter_listen: SocketAddr::from(([127, 0, 0, 1], 8775)),
            retention: Duration::from_secs(300),
            dedup_capacity: 65_536,
            dedup_path: PathBuf::new(),
            max_retained_events: 100_000,
            waiter_header_read_timeout: Duration::from_secs(10),
            waiter_max_connections: None,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

impl AgentConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.prefetch == 0 {
            return Err(invalid("agent.prefetch", "must be greater than 0"));
        }
        if self.dedup_capacity == 0 {
            return Err(invalid("agent.dedup_capacity", "must be greater than 0"));
        }
        if self.dedup_capacity > MAX_DEDUP_CAPACITY {
            return Err(invalid(
                "agent.dedup_capacity",
                format!("must be at most {MAX_DEDUP_CAPACITY}"),
            ));
        }
        if self.dedup_path.as_os_str().len() > MAX_PATH_BYTES {
            return Err(invalid(
                "agent.dedup_path",
                format!("must be at most {MAX_PATH_BYTES} bytes"),
            ));
        }
        if self.dedup_path.is_dir() {
            return Err(invalid("agent.dedup_path", "is a directory, not a file"));
        }
        if self.max_retained_events == 0 {
            return Err(invalid(
                "agent.max_retained_events",
                "must be greater than 0",
            ));
        }
        for (key, value) in [
            (
                "agent.waiter_header_read_timeout",
                self.waiter_header_read_timeout,
            ),
            ("agent.shutdown_grace", self.shutdown_grace),
        ] {
            if value.is_zero() || value > MAX_TIMEOUT {
                return Err(invalid(key, "must be between 1ms and 1h"));
            }
        }
        crate::web::config::check_connection_cap(
            "agent.waiter_max_connections",
            self.waiter_max_connections,
        )?;
        Ok(())
    }
}
