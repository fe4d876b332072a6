//! Keeps the agent consuming: runs sessions one after another through the
//! broker's one reconnect loop ([`crate::broker::Reconnect`]), rebuilding the
//! connection and channel from scratch after any loss. Only a permanent
//! topology error (a queue that exists with other arguments) or shutdown
//! ends it.

use tokio_util::sync::CancellationToken;

use super::consume::{Ended as Session, SessionError, session};
use super::handler::Handler;
use super::process::Worker;
use std::ops::ControlFlow;

use crate::broker::{Backoff, DeclareError, Ended, Reconnect};
use crate::support::error_chain::error_chain;

/// Runs sessions until shutdown (`Ok`) or a permanent topology error.
pub(crate) async fn supervise<H: Handler>(
    mut worker: Worker<H>,
    shutdown: CancellationToken,
) -> Result<(), DeclareError> {
    let backoff = Backoff::new(
        worker.amqp.reconnect_min_backoff,
        worker.amqp.reconnect_max_backoff,
    );
    let mut reconnect = Reconnect::new("agent consumer", backoff);
    // Where the next connection round starts: after the node last used.
    let mut next_node = 0;
    loop {
        let ended = match session(&mut worker, &mut next_node, &shutdown).await {
            Ok(Session::Shutdown) | Err(SessionError::ShutDown) => Ended::Shutdown,
            Ok(Session::Lost(lost)) => {
                tracing::warn!(reason = %error_chain(&lost), "consumer lost; reconnecting to the next broker node");
                Ended::Lost
            }
            // Reported once, by the caller.
            Err(SessionError::Declare(error)) if error.is_permanent() => Ended::Fatal(error),
            Err(error) => Ended::Failed(error),
        };
        if let ControlFlow::Break(done) = reconnect.after(ended, &shutdown).await {
            return done;
        }
    }
}
