//! The tracing subscriber: text or JSON lines on stderr, filtered by
//! `[log] level` (or `RUST_LOG` when set); and the `[log]` section itself.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use serde::{Deserialize, Serialize};

use crate::config_error::{ConfigError, invalid};

/// `[log]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `text` for people, `json` for log shippers.
    pub format: LogFormat,
    /// A tracing filter: `info`, or `info,herald=debug`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

impl LogConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        EnvFilter::try_new(&self.level).map_err(|e| invalid("log.level", e.to_string()))?;
        Ok(())
    }
}

/// Installs the global subscriber. Call once, from `main`.
pub fn init(log: &LogConfig) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(with_quiet_lapin(&log.level)))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let registry = tracing_subscriber::registry().with(filter);
    match log.format {
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_writer(std::io::stderr)
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_target(false),
            )
            .init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_writer(std::io::stderr)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .init(),
    }
}

/// lapin logs every closed channel at ERROR and every returned message at
/// WARN; herald logs those outcomes itself, once, with context.
fn with_quiet_lapin(level: &str) -> String {
    if level.contains("lapin") {
        level.to_owned()
    } else {
        format!("{level},lapin=off")
    }
}
