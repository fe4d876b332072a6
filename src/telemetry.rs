//! The tracing subscriber: text or JSON lines on stderr, filtered by
//! `[log] level` (or `RUST_LOG` when set); and the `[log]` section itself.

use std::io::IsTerminal;

use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use serde::{Deserialize, Serialize};

use crate::support::config_error::{ConfigError, invalid};

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

/// Log lines queued for the writer thread before logging waits.
const BUFFERED_LINES: usize = 8192;

/// Keeps the log writer thread alive; dropping it writes out what is queued.
/// Hold it until the command returns.
#[must_use = "dropping the guard stops the log writer"]
pub struct LogGuard {
    _writer: tracing_appender::non_blocking::WorkerGuard,
}

/// Installs the global subscriber. Call once, from `main`.
///
/// Lines are handed to a writer thread of their own, so a request's access
/// line never waits on stderr inside a runtime worker. The queue is not
/// lossy: when it is full (a stalled reader), logging waits rather than
/// drops lines.
pub fn init(log: &LogConfig) -> LogGuard {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(with_quiet_lapin(&log.level)))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stderr().is_terminal();
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        // The queue is allocated whole up front: 128,000 lines (the crate's
        // default) would cost ~5 MiB of RSS that a burst never needs.
        .buffered_lines_limit(BUFFERED_LINES)
        .thread_name("herald-log")
        .finish(std::io::stderr());
    let registry = tracing_subscriber::registry().with(filter);
    match log.format {
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_writer(writer)
                    .with_timer(Timestamps)
                    .with_ansi(ansi)
                    .with_target(false),
            )
            .init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_writer(writer)
                    .with_timer(Timestamps)
                    .with_current_span(true)
                    .with_span_list(false),
            )
            .init(),
    }
    LogGuard { _writer: guard }
}

/// The log lines' timestamps, exactly as tracing's default timer writes
/// them, with the digits written directly: every access line has one.
struct Timestamps;

impl FormatTime for Timestamps {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        match crate::support::timestamp::log_rfc3339(time::OffsetDateTime::now_utc()) {
            Some(text) => w.write_str(&text),
            None => fmt::time::SystemTime.format_time(w),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The same text as tracing's own timer, read at (nearly) the same time:
    /// equal up to the second, and the same shape after it.
    #[test]
    fn timestamps_are_tracings_own() {
        let write = |timer: &dyn FormatTime| {
            let mut text = String::new();
            timer
                .format_time(&mut Writer::new(&mut text))
                .expect("writes to a String");
            text
        };
        let (ours, theirs) = (0..10)
            .map(|_| (write(&Timestamps), write(&fmt::time::SystemTime)))
            .find(|(ours, theirs)| ours[..19] == theirs[..19])
            .expect("some pair within the same second");
        assert_eq!(ours.len(), theirs.len(), "{ours} {theirs}");
        assert_eq!(ours.as_bytes()[19], b'.');
        assert!(ours.ends_with('Z') && theirs.ends_with('Z'));
    }
}
