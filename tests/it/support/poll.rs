//! Waiting in tests: the one poll loop ([`poll_for`], and [`poll_until`] on
//! top of it) and [`within`], a deadline for a single step. No test sleeps to
//! synchronise: it waits on a condition, with a deadline that names it.

use std::time::Duration;

use tokio::time::Instant;

/// How often a condition is checked again.
const EVERY: Duration = Duration::from_millis(50);

/// Far past any answer serve gives in a test (the longest confirm timeout a
/// test sets is 20 s): a request unanswered this long is a hang.
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(60);

/// Polls `check` every 50 ms until it gives a value, and returns it; panics
/// with `what` once `limit` has passed. The one poll loop of the tests.
pub async fn poll_for<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting until {what}"
        );
        tokio::time::sleep(EVERY).await;
    }
}

/// Polls `check` until it holds; panics with `what` once `limit` has passed.
pub async fn poll_until<F, Fut>(what: &str, limit: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    poll_for(what, limit, || {
        let holds = check();
        async move { holds.await.then_some(()) }
    })
    .await
}

/// `fut`, or a panic naming `what` once `limit` passed: a step that would
/// hang fails with its name instead of running into nextest's kill.
pub async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: not done in {limit:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn poll_for_returns_the_first_value_the_check_gives() {
        let mut calls = 0;
        let found = poll_for("the third call", Duration::from_secs(1), || {
            calls += 1;
            let now = calls;
            async move { (now == 3).then_some(now) }
        })
        .await;
        assert_eq!(found, 3);
    }

    #[tokio::test(start_paused = true)]
    #[should_panic(expected = "timed out after 1s waiting until never")]
    async fn poll_until_names_what_never_came() {
        poll_until("never", Duration::from_secs(1), || async { false }).await;
    }
}
