//! `[directory]`: which database holds the instance directory, and its pool.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config_error::{ConfigError, invalid};

/// `[directory]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DirectoryConfig {
    /// `sqlite` (embedded) or `postgres` (shared by replicas).
    pub backend: DirectoryBackend,
    /// SQLite: a file path or `:memory:`; PostgreSQL: a `postgres://` URL.
    pub url: String,
    /// Largest number of pooled database connections.
    pub max_connections: u32,
    /// How long a query may wait for a connection before the request gets 503.
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
}

impl Default for DirectoryConfig {
    fn default() -> Self {
        Self {
            backend: DirectoryBackend::Sqlite,
            url: "var/herald.sqlite3".into(),
            max_connections: 8,
            acquire_timeout: Duration::from_secs(3),
        }
    }
}

/// Which database holds the instance directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DirectoryBackend {
    Sqlite,
    Postgres,
}

impl DirectoryConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.url.trim().is_empty() {
            return Err(invalid("directory.url", "must not be empty"));
        }
        if self.max_connections == 0 {
            return Err(invalid(
                "directory.max_connections",
                "must be greater than 0",
            ));
        }
        Ok(())
    }
}
