//! The compute agent (`herald agent`): consumes a host's queue, hands each
//! event on, and serves local waiters.
//!
//! STUB: being written.

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::model::HostName;

/// Why the agent stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("agent failed: {0}")]
    Other(String),
}

/// Runs the agent for `host` until `shutdown` is cancelled. The waiter API
/// listener is bound by the caller.
pub async fn run(
    _config: Config,
    _host: HostName,
    _waiter: TcpListener,
    _shutdown: CancellationToken,
) -> Result<(), AgentError> {
    todo!()
}
