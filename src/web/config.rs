//! `[http]`: where the API listens and the limits of its connections.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::proxies::TrustedProxies;
use super::tls::HttpTlsConfig;
use crate::support::config_error::{ConfigError, invalid};

/// `[http]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address the API listens on.
    pub listen: SocketAddr,
    /// Largest accepted request body; larger ones get 413 without being read.
    pub max_body_bytes: usize,
    /// Largest accepted body of the bulk directory route (`POST
    /// /directory/servers`, at most 1000 entries); larger ones get 413.
    pub max_bulk_body_bytes: usize,
    /// How long a client may take to send a request's headers.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// How long a client may take to send a request's body.
    #[serde(with = "humantime_serde")]
    pub body_read_timeout: Duration,
    /// How long in-flight requests may run on after a shutdown signal.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
    /// Most client connections open at once; absent: sized from the
    /// open-files limit (see `crate::support::limits::connection_cap`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,
    /// While this file exists, `/healthcheck` answers 503 (a proxy then
    /// drains this replica). Empty: never.
    pub healthcheck_disable_file: PathBuf,
    /// Proxies (CIDRs or addresses) whose `Forwarded` and `X-Forwarded-*`
    /// headers are believed: the client address logged, and the scheme and
    /// host of the version documents' links. Empty: none are.
    pub trusted_proxies: TrustedProxies,
    /// `[http.tls]`: serve HTTPS with this certificate and key.
    pub tls: HttpTlsConfig,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8774)),
            max_body_bytes: 114_688,
            max_bulk_body_bytes: 262_144,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(30),
            max_connections: None,
            healthcheck_disable_file: PathBuf::new(),
            trusted_proxies: TrustedProxies::default(),
            tls: HttpTlsConfig::default(),
        }
    }
}

impl HttpConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_body_bytes == 0 {
            return Err(invalid("http.max_body_bytes", "must be greater than 0"));
        }
        if self.max_bulk_body_bytes == 0 {
            return Err(invalid(
                "http.max_bulk_body_bytes",
                "must be greater than 0",
            ));
        }
        check_connection_cap("http.max_connections", self.max_connections)?;
        self.tls.validate()
    }
}

/// Bound on a connection cap (`http.max_connections`, the agent's waiter
/// API's): more is a typo, not a wish.
const MAX_CONNECTIONS: usize = 1_000_000;

/// A connection cap, when set, is within 1..=[`MAX_CONNECTIONS`].
pub(crate) fn check_connection_cap(
    key: &'static str,
    cap: Option<usize>,
) -> Result<(), ConfigError> {
    match cap {
        Some(max) if !(1..=MAX_CONNECTIONS).contains(&max) => {
            Err(invalid(key, "must be between 1 and 1000000"))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_connections_is_bounded_and_named() {
        let mut http = HttpConfig::default();
        assert!(
            http.validate().is_ok(),
            "absent: sized from the open-files limit"
        );
        for bad in [0, MAX_CONNECTIONS + 1] {
            http.max_connections = Some(bad);
            let error = http.validate().expect_err("out of range").to_string();
            assert!(error.contains("http.max_connections"), "{error}");
        }
        http.max_connections = Some(16);
        assert!(http.validate().is_ok());
    }
}
