//! Keeps the agent consuming: runs sessions one after another, rebuilding the
//! connection and channel from scratch after any loss. A lost session moves
//! to the next broker node at once; the jittered backoff applies only after
//! a whole round of nodes failed. Only a permanent topology error (a queue
//! that exists with other arguments) or shutdown ends it.

use tokio_util::sync::CancellationToken;

use super::consume::{Ended, SessionError, session};
use super::handler::Handler;
use super::process::Worker;
use crate::broker::{Backoff, DeclareError, FailureLog};

/// Runs sessions until shutdown (`Ok`) or a permanent topology error.
pub(crate) async fn supervise<H: Handler>(
    mut worker: Worker<H>,
    shutdown: CancellationToken,
) -> Result<(), DeclareError> {
    let mut backoff = Backoff::new(
        worker.amqp.reconnect_min_backoff,
        worker.amqp.reconnect_max_backoff,
    );
    // Where the next connection round starts: after the node last used.
    let mut next_node = 0;
    let mut failures = FailureLog::new(&worker.connection_name);
    loop {
        let delay = match session(&mut worker, &mut next_node, &shutdown).await {
            Ok(Ended::Shutdown) | Err(SessionError::ShutDown) => return Ok(()),
            Ok(Ended::Lost(lost)) => {
                // It was consuming: try the next node at once, then back off from the shortest delay.
                backoff.reset();
                failures.connected();
                tracing::warn!(reason = %lost, "consumer lost; reconnecting to the next broker node");
                continue;
            }
            // Reported once, by the caller.
            Err(SessionError::Declare(error)) if error.is_permanent() => return Err(error),
            // No node answered (a TLS failure included): rate-limited, as serve logs it.
            Err(SessionError::Connect(error)) => {
                let delay = backoff.next_delay();
                failures.failed(&error, delay);
                delay
            }
            Err(error) => {
                tracing::warn!(error = %crate::error_chain::error_chain(&error), "cannot consume; retrying");
                backoff.next_delay()
            }
        };
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(delay) => {}
        }
    }
}
