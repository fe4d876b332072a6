//! `[directory]`: which database holds the instance directory, and its pool.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::support::config_error::{ConfigError, invalid};

/// `[directory]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DirectoryConfig {
    /// `sqlite` (embedded), `postgres` (shared by replicas) or `nova`
    /// (read-only lookups in Nova's own databases).
    pub backend: DirectoryBackend,
    /// SQLite: a file path or `:memory:`; PostgreSQL: a `postgres://` URL;
    /// nova: Nova's API database (`mysql://`, `postgresql://`, or
    /// SQLAlchemy's `mysql+pymysql://`, `postgresql+psycopg2://` forms).
    pub url: String,
    /// nova: what nova-api has in `[database]/connection`; fills the
    /// `{username}`, `{password}`, `{hostname}`, `{port}`… templates of
    /// `cell_mappings.database_connection` as Nova does. Empty: cell URLs
    /// must be literal.
    pub nova_database_url: String,
    /// Largest number of pooled database connections.
    pub max_connections: u32,
    /// How long a query may wait for a connection before the request gets 503.
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
    /// How long one directory operation may take in all (waiting for a
    /// connection included) before the request gets 503: a database that
    /// stops answering is an outage, not a hung request.
    #[serde(with = "humantime_serde")]
    pub query_timeout: Duration,
}

impl Default for DirectoryConfig {
    fn default() -> Self {
        Self {
            backend: DirectoryBackend::Sqlite,
            url: "var/herald.sqlite3".into(),
            nova_database_url: String::new(),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(3),
            query_timeout: Duration::from_secs(5),
        }
    }
}

/// Bound on `directory.max_connections`: more is a typo, not a wish.
const MAX_CONNECTIONS: u32 = 1000;
/// Bound on the directory's timeouts.
const MAX_TIMEOUT: Duration = Duration::from_secs(3600);

/// Which database holds the instance directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DirectoryBackend {
    Sqlite,
    Postgres,
    /// Nova's API and cell databases, read-only (Nova mode).
    Nova,
}

impl DirectoryConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.url.trim().is_empty() {
            return Err(invalid("directory.url", "must not be empty"));
        }
        if self.backend == DirectoryBackend::Nova {
            crate::directory::nova::url::to_sqlx(&self.url)
                .map_err(|e| invalid("directory.url", e.to_string()))?;
        }
        let source = self.nova_database_url.trim();
        if !source.is_empty() && !source.contains("://") {
            return Err(invalid(
                "directory.nova_database_url",
                "must be a URL (scheme://user:password@host:port/database)",
            ));
        }
        if !(1..=MAX_CONNECTIONS).contains(&self.max_connections) {
            return Err(invalid(
                "directory.max_connections",
                format!("must be between 1 and {MAX_CONNECTIONS}"),
            ));
        }
        for (key, value) in [
            ("directory.acquire_timeout", self.acquire_timeout),
            ("directory.query_timeout", self.query_timeout),
        ] {
            if value.is_zero() || value > MAX_TIMEOUT {
                return Err(invalid(key, "must be between 1ms and 1h"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Edit = fn(&mut DirectoryConfig);

    #[test]
    fn pool_size_and_timeouts_are_bounded_and_named() {
        let check = |edit: Edit| {
            let mut config = DirectoryConfig::default();
            edit(&mut config);
            config.validate().map_err(|e| e.to_string())
        };
        assert!(check(|_| {}).is_ok());
        let cases: [(Edit, &str); 5] = [
            (|c| c.max_connections = 0, "directory.max_connections"),
            (|c| c.max_connections = 1001, "directory.max_connections"),
            (
                |c| c.acquire_timeout = Duration::ZERO,
                "directory.acquire_timeout",
            ),
            (
                |c| c.query_timeout = Duration::ZERO,
                "directory.query_timeout",
            ),
            (
                |c| c.query_timeout = Duration::from_secs(3601),
                "directory.query_timeout",
            ),
        ];
        for (edit, key) in cases {
            let error = check(edit).expect_err(key);
            assert!(error.contains(key), "{error}");
        }
    }

    #[test]
    fn nova_urls_are_checked_at_load() {
        let nova = |url: &str, source: &str| DirectoryConfig {
            backend: DirectoryBackend::Nova,
            url: url.into(),
            nova_database_url: source.into(),
            ..DirectoryConfig::default()
        };
        assert!(
            nova("mysql+pymysql://n:p@db/nova_api?charset=utf8", "")
                .validate()
                .is_ok()
        );
        let scheme = nova("sqlite:///x", "").validate().unwrap_err().to_string();
        assert!(scheme.contains("directory.url"), "{scheme}");
        let tls = nova("mysql+pymysql://n:p@db/a?ssl_ca=/x", "")
            .validate()
            .unwrap_err();
        assert!(tls.to_string().contains("ssl_ca"), "{tls}");
        let source = nova("mysql://n:p@db/a", "db/nova").validate().unwrap_err();
        assert!(
            source.to_string().contains("directory.nova_database_url"),
            "{source}"
        );
    }
}
