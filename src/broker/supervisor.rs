//! The one reconnect loop of serve's dispatcher, the agent and load's
//! consumers: run a session (connect, then work until something ends it)
//! again and again; [`Reconnect::after`] decides what follows each one.
//! After a session that worked and was lost, the next one starts at once (on
//! the next node) and the backoff starts over; after a session that could
//! not start, the next waits the jittered backoff delay.
//! The first such failure since the last working session is a warning, the
//! rest debug lines, so an outage cannot flood the log.

use std::error::Error;
use std::ops::ControlFlow;

use tokio_util::sync::CancellationToken;

use super::Backoff;
use crate::support::error_chain::error_chain;

/// How one session ended.
#[derive(Debug)]
pub enum Ended<E, F> {
    /// Shutdown was asked for: stop.
    Shutdown,
    /// It worked, then lost the broker: start the next session at once.
    Lost,
    /// It could not start: wait the backoff delay, then try again.
    Failed(E),
    /// It cannot work as configured (retrying would not help): stop with `F`.
    Fatal(F),
}

/// The loop's policy, kept across sessions. Each user writes
/// `loop { let ended = …session….await; if let Break(done) = reconnect.after(ended, &shutdown).await { return done } }`.
#[derive(Debug)]
pub struct Reconnect {
    /// Names the sessions in log lines ("broker connection", "agent consumer").
    what: &'static str,
    backoff: Backoff,
    /// Whether a failure was logged at warn since the last working session.
    told: bool,
}

impl Reconnect {
    pub fn new(what: &'static str, backoff: Backoff) -> Self {
        Self {
            what,
            backoff,
            told: false,
        }
    }

    /// After a session `ended`: `Break` with the loop's result, or `Continue`
    /// (at once after a loss, after the backoff delay after a failure).
    pub async fn after<E: Error, F>(
        &mut self,
        ended: Ended<E, F>,
        shutdown: &CancellationToken,
    ) -> ControlFlow<Result<(), F>> {
        let error = match ended {
            Ended::Shutdown => return ControlFlow::Break(Ok(())),
            Ended::Fatal(error) => return ControlFlow::Break(Err(error)),
            Ended::Lost => {
                self.backoff.reset();
                self.told = false;
                return Self::unless_stopped(shutdown);
            }
            Ended::Failed(error) => error_chain(&error),
        };
        let (what, delay) = (self.what, self.backoff.next_delay());
        if self.told {
            tracing::debug!(%error, retry_in = ?delay, "{what}: broker still unavailable");
        } else {
            tracing::warn!(%error, retry_in = ?delay, "{what}: no broker node answered; retrying with backoff");
            self.told = true;
        }
        tokio::select! {
            () = shutdown.cancelled() => ControlFlow::Break(Ok(())),
            () = tokio::time::sleep(delay) => Self::unless_stopped(shutdown),
        }
    }

    fn unless_stopped<F>(shutdown: &CancellationToken) -> ControlFlow<Result<(), F>> {
        if shutdown.is_cancelled() {
            ControlFlow::Break(Ok(()))
        } else {
            ControlFlow::Continue(())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("refused")]
    struct Refused;

    /// Runs `script` as the sessions' endings, recording when each started.
    async fn run(
        script: Vec<Ended<Refused, &'static str>>,
    ) -> (Result<(), &'static str>, Vec<u128>) {
        let start = tokio::time::Instant::now();
        let mut script = script.into_iter();
        let mut started = Vec::new();
        let shutdown = CancellationToken::new();
        let backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(1));
        let mut reconnect = Reconnect::new("test", backoff);
        loop {
            started.push(start.elapsed().as_millis());
            let ended = script.next().unwrap_or(Ended::Shutdown);
            if let ControlFlow::Break(done) = reconnect.after(ended, &shutdown).await {
                return (done, started);
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_loss_retries_at_once_and_a_failure_after_a_delay() {
        let (result, started) = run(vec![Ended::Lost, Ended::Failed(Refused), Ended::Lost]).await;
        assert_eq!(result, Ok(()));
        assert_eq!(started.len(), 4);
        assert_eq!(started[1], started[0], "after a loss: at once");
        let waited = started[2] - started[1];
        assert!(
            (50..100).contains(&waited),
            "jittered into [50, 100): {waited}"
        );
        assert_eq!(started[3], started[2], "after a loss: at once");
    }

    #[tokio::test(start_paused = true)]
    async fn a_fatal_error_ends_it() {
        let (result, started) = run(vec![Ended::Failed(Refused), Ended::Fatal("bad queue")]).await;
        assert_eq!(result, Err("bad queue"));
        assert_eq!(started.len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn shutdown_stops_the_wait() {
        let shutdown = CancellationToken::new();
        let backoff = Backoff::new(Duration::from_secs(60), Duration::from_secs(60));
        let mut reconnect = Reconnect::new("test", backoff);
        let stop = shutdown.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            stop.cancel();
        });
        let started = tokio::time::Instant::now();
        let ended: Ended<Refused, ()> = Ended::Failed(Refused);
        let next = reconnect.after(ended, &shutdown).await;
        assert_eq!(next, ControlFlow::Break(Ok(())));
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the wait was cut short"
        );
    }
}
