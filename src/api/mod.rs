//! The HTTP routes of `herald serve`.
//!
//! STUB: being written.

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;

/// Why `serve` stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("directory: {0}")]
    Directory(#[from] crate::directory::DirectoryError),
}

/// Runs the API on `listener` until `shutdown` is cancelled.
pub async fn run(_config: Config, _listener: TcpListener, _shutdown: CancellationToken) -> Result<(), ServeError> {
    todo!()
}
