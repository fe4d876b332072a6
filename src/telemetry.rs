//! The tracing subscriber: text or JSON lines on stderr, filtered by
//! `[log] level` (or `RUST_LOG` when set).

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, prelude::*};

use crate::config::{LogConfig, LogFormat};

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
