//! Batch lookups of concurrent requests share one query.
//!
//! A lookup joins the queue; if fewer than [`QUERIES_AT_ONCE`] shared
//! queries are running, one starts at once, so an idle directory adds no
//! wait. Otherwise the lookup waits, and the next free query takes every
//! waiting lookup it can fit ([`IDS_PER_QUERY`]) and asks for all their ids
//! together. Every lookup is answered by a query that started after it
//! arrived, so it sees every write finished before it was made.
//!
//! Under load this turns one database round trip (and, on SQLite, two
//! thread hand-offs) per request into one per group of requests. Rows are
//! checked once per query; a corrupt row fails only the lookups that asked
//! for it. Queries are tasks of their own: a request that gives up does not
//! cut short a query other requests wait on.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use futures_util::future::BoxFuture;
use tokio::sync::oneshot;

use super::error::DirectoryError;
use super::row::{self, RawRow};
use crate::model::{Placement, ServerId};
use crate::support::plain_lock::lock;

/// Shared queries running at once.
pub(crate) const QUERIES_AT_ONCE: usize = 2;
/// Ids one shared query asks for at most (a larger lookup goes alone).
pub(crate) const IDS_PER_QUERY: usize = 4096;

/// Runs one batch lookup of canonical uuids against the backend.
pub(crate) type Fetch = Arc<
    dyn Fn(Vec<String>) -> BoxFuture<'static, Result<Vec<RawRow>, DirectoryError>> + Send + Sync,
>;

/// A query's rows, checked, by the uuid they were asked for.
pub(crate) type Found = HashMap<String, Result<(ServerId, Placement), Arc<DirectoryError>>>;

type Answer = Result<Arc<Found>, Arc<DirectoryError>>;

struct Waiter {
    uuids: Vec<String>,
    reply: oneshot::Sender<Answer>,
}

#[derive(Default)]
struct Queue {
    waiting: VecDeque<Waiter>,
    running: usize,
}

/// The queue of lookups waiting for a shared query.
pub(crate) struct SharedLookups {
    fetch: Fetch,
    queue: Arc<Mutex<Queue>>,
}

impl std::fmt::Debug for SharedLookups {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedLookups").finish_non_exhaustive()
    }
}

impl SharedLookups {
    pub fn new(fetch: Fetch) -> Self {
        Self {
            fetch,
            queue: Arc::default(),
        }
    }

    /// The rows of `uuids` (canonical, distinct), from a query that started
    /// after this call.
    pub async fn find(&self, uuids: Vec<String>) -> Result<Arc<Found>, DirectoryError> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut queue = lock(&self.queue);
            queue.waiting.push_back(Waiter { uuids, reply });
            let start = queue.running < QUERIES_AT_ONCE;
            if start {
                queue.running += 1;
            }
            start
        };
        if start {
            tokio::spawn(run(Arc::clone(&self.fetch), Arc::clone(&self.queue)));
        }
        match answer.await {
            Ok(Ok(found)) => Ok(found),
            Ok(Err(error)) => Err(DirectoryError::Shared(error)),
            // The query task ended without answering (the runtime is going away).
            Err(_) => Err(DirectoryError::Abandoned),
        }
    }
}

/// Counts a query task out of `running` if it ends without doing so itself
/// (it panicked or was cancelled), so the queue does not go on thinking it
/// runs: the next lookup then starts a task of its own. A task that ends
/// normally counts itself out under the same lock that saw the queue empty.
struct Running {
    queue: Arc<Mutex<Queue>>,
    armed: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.armed {
            lock(&self.queue).running -= 1;
        }
    }
}

/// Answers waiting lookups, a shared query at a time, until none wait.
async fn run(fetch: Fetch, queue: Arc<Mutex<Queue>>) {
    let mut running = Running {
        queue: Arc::clone(&queue),
        armed: true,
    };
    loop {
        let group = {
            let mut queue = lock(&queue);
            let group = take_group(&mut queue.waiting);
            if group.is_empty() {
                queue.running -= 1;
                running.armed = false;
                return;
            }
            group
        };
        let group: Vec<Waiter> = group.into_iter().filter(|w| !w.reply.is_closed()).collect();
        if group.is_empty() {
            continue; // every lookup taken had given up
        }
        let uuids: BTreeSet<&String> = group.iter().flat_map(|w| &w.uuids).collect();
        let uuids: Vec<String> = uuids.into_iter().cloned().collect();
        let answer = match fetch(uuids).await {
            Ok(rows) => Ok(Arc::new(check(rows))),
            Err(error) => Err(Arc::new(error)),
        };
        for waiter in group {
            let _ = waiter.reply.send(answer.clone());
        }
    }
}

/// The first waiter, then every next one while the ids fit.
fn take_group(waiting: &mut VecDeque<Waiter>) -> Vec<Waiter> {
    let mut group = Vec::new();
    let mut ids = 0;
    while let Some(next) = waiting.front() {
        if !group.is_empty() && ids + next.uuids.len() > IDS_PER_QUERY {
            break;
        }
        ids += next.uuids.len();
        group.extend(waiting.pop_front());
    }
    group
}

fn check(rows: Vec<RawRow>) -> Found {
    rows.into_iter()
        .map(|row| {
            let uuid = row.0.clone();
            (uuid, row::placement(row).map_err(Arc::new))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiter(n: usize) -> Waiter {
        let (reply, _) = oneshot::channel();
        Waiter {
            uuids: (0..n).map(|i| i.to_string()).collect(),
            reply,
        }
    }

    #[test]
    fn a_group_takes_waiters_while_their_ids_fit() {
        let mut waiting: VecDeque<Waiter> = [1, 2, IDS_PER_QUERY - 3, 1]
            .into_iter()
            .map(waiter)
            .collect();
        assert_eq!(take_group(&mut waiting).len(), 3);
        assert_eq!(take_group(&mut waiting).len(), 1);
        assert!(take_group(&mut waiting).is_empty());
    }

    #[tokio::test]
    async fn a_query_task_that_panics_does_not_strand_later_lookups() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let calls = Arc::new(AtomicUsize::new(0));
        let fetch: Fetch = {
            let calls = Arc::clone(&calls);
            Arc::new(move |_uuids| {
                let call = calls.fetch_add(1, Ordering::SeqCst);
                Box::pin(async move {
                    assert!(call >= QUERIES_AT_ONCE, "query {call} fails hard");
                    Ok(Vec::new())
                })
            })
        };
        let lookups = SharedLookups::new(fetch);
        for _ in 0..QUERIES_AT_ONCE {
            let failed = lookups.find(vec!["a".into()]).await;
            assert!(
                matches!(failed, Err(DirectoryError::Abandoned)),
                "{failed:?}"
            );
        }
        let answered = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            lookups.find(vec!["a".into()]),
        )
        .await
        .expect("a later lookup is answered, not stranded");
        assert!(answered.expect("found").is_empty());
    }

    #[test]
    fn a_lookup_larger_than_a_query_goes_alone() {
        let mut waiting: VecDeque<Waiter> =
            [IDS_PER_QUERY + 5, 1].into_iter().map(waiter).collect();
        assert_eq!(take_group(&mut waiting).len(), 1);
        assert_eq!(take_group(&mut waiting).len(), 1);
    }
}
