//! Waiting in tests: the one poll loop ([`poll`], with [`poll_for`] and
//! [`poll_until`] bounding it) and [`within`], a deadline for a single step. No test sleeps to
//! synchronise: it waits on a condition, with a deadline that names it.

use std::time::Duration;

/// How often a condition is checked again.
const EVERY: Duration = Duration::from_millis(50);

/// Far past any answer serve gives in a test (the longest confirm timeout a
/// test sets is 20 s): a request unanswered this long is a hang.
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(60);

/// Polls `check` every 50 ms until it gives a value, and returns it: the
/// one poll loop of the tests. It has no deadline of its own: use
/// [`poll_for`] or [`poll_until`], or bound it where giving up is no failure.
pub async fn poll<T, F, Fut>(mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    loop {
        if let Some(found) = check().await {
            return found;
        }
        tokio::time::sleep(EVERY).await;
    }
}

/// [`poll`], failing the test with `what` once `limit` has passed (a check
/// that hangs included).
pub async fn poll_for<T, F, Fut>(what: &str, limit: Duration, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    tokio::time::timeout(limit, poll(check))
        .await
        .unwrap_or_else(|_| panic!("timed out after {limit:?} waiting until {what}"))
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
