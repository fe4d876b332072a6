//! Keeps the agent consuming: runs sessions one after another, rebuilding the
//! connection and channel from scratch after any loss, with exponential
//! backoff between failed attempts. Only a permanent topology error (a queue
//! that exists with other arguments) or shutdown ends it.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::consume::{Ended, SessionError, session};
use super::handler::Handler;
use super::process::Worker;
use crate::dispatch::topology::DeclareError;

/// Runs sessions until shutdown (`Ok`) or a permanent topology error.
pub(crate) async fn supervise<H: Handler>(
    mut worker: Worker<H>,
    shutdown: CancellationToken,
) -> Result<(), DeclareError> {
    let mut backoff = Backoff::new(
        worker.amqp.reconnect_min_backoff,
        worker.amqp.reconnect_max_backoff,
    );
    loop {
        match session(&mut worker, &shutdown).await {
            Ok(Ended::Shutdown) | Err(SessionError::ShutDown) => return Ok(()),
            Ok(Ended::Lost(lost)) => {
                // It was consuming: the next attempt starts from the shortest delay.
                backoff.reset();
                tracing::warn!(reason = %lost, "consumer lost; rebuilding the connection");
            }
            // Reported once, by the caller.
            Err(SessionError::Declare(error)) if error.is_permanent() => return Err(error),
            Err(error) => {
                tracing::warn!(error = %super::error_chain(&error), retry_in = ?backoff.peek(), "cannot consume; retrying");
            }
        }
        let delay = backoff.next_delay();
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// Exponential backoff: `min`, doubling up to `max`.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Self {
        let max = max.max(min);
        Self {
            min,
            max,
            next: min,
        }
    }

    /// The delay the next call to [`next_delay`](Self::next_delay) returns.
    pub(crate) fn peek(&self) -> Duration {
        self.next
    }

    pub(crate) fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    pub(crate) fn reset(&mut self) {
        self.next = self.min;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_max_and_resets() {
        let ms = Duration::from_millis;
        let mut b = Backoff::new(ms(100), ms(350));
        let delays: Vec<_> = (0..4).map(|_| b.next_delay()).collect();
        assert_eq!(delays, [ms(100), ms(200), ms(350), ms(350)]);
        b.reset();
        assert_eq!(b.next_delay(), ms(100));
    }
}
