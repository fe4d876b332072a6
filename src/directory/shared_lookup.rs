//! Batch lookups of concurrent requests share one query.
//!
//! A lookup that finds no query running nor any lookup waiting asks for
//! its ids itself, at once, in its own task: an idle directory adds no wait
//! and no hand-off. Otherwise the lookup joins the queue; if fewer than
//! [`QUERIES_AT_ONCE`] queries are running, a shared query starts at once,
//! else the lookup waits, and the next free query takes every waiting
//! lookup it can fit ([`IDS_PER_QUERY`]) and asks for all their ids
//! together. Every lookup is answered by a query that started after it
//! arrived, so it sees every write finished before it was made.
//!
//! Under load this turns one database round trip per request into one per
//! group of requests. Rows are checked once per query; a corrupt row fails
//! only the lookups that asked for it. Shared queries are tasks of their
//! own: a request that gives up does not cut short a query other requests
//! wait on (a query a lookup runs alone answers only that lookup; when it
//! ends, however it ends, its place goes to the lookups queued meanwhile).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use futures_util::FutureExt;
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

/// What a lookup does on arrival: ask alone, or wait in the queue
/// (starting a shared query task when a place is free).
enum Turn {
    Alone(Vec<String>),
    Queued {
        answer: oneshot::Receiver<Answer>,
        start: bool,
    },
}

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
        let turn = {
            let mut queue = lock(&self.queue);
            let start = queue.running < QUERIES_AT_ONCE;
            if start {
                queue.running += 1;
            }
            if start && queue.waiting.is_empty() {
                Turn::Alone(uuids)
            } else {
                let (reply, answer) = oneshot::channel();
                queue.waiting.push_back(Waiter { uuids, reply });
                Turn::Queued { answer, start }
            }
        };
        let (answer, start) = match turn {
            Turn::Alone(uuids) => return self.ask_alone(uuids).await,
            Turn::Queued { answer, start } => (answer, start),
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

impl SharedLookups {
    /// Runs the query of a lookup that had the queue to itself, holding one
    /// of the running places until it ends (a panic in the query is the
    /// lookup's `Abandoned`, as it is for a shared query).
    async fn ask_alone(&self, uuids: Vec<String>) -> Result<Arc<Found>, DirectoryError> {
        let place = Place {
            fetch: Arc::clone(&self.fetch),
            queue: Arc::clone(&self.queue),
        };
        let fetched = AssertUnwindSafe((self.fetch)(uuids)).catch_unwind().await;
        drop(place);
        match fetched {
            Ok(Ok(rows)) => Ok(Arc::new(check(rows))),
            Ok(Err(error)) => Err(DirectoryError::Shared(Arc::new(error))),
            Err(_) => Err(DirectoryError::Abandoned),
        }
    }
}

/// A running place held by a lookup's own query. When it goes (the query
/// ended, or the lookup was dropped during it), the lookups queued
/// meanwhile get it: a shared query task starts for them; with none
/// queued, the place is free again.
struct Place {
    fetch: Fetch,
    queue: Arc<Mutex<Queue>>,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut queue = lock(&self.queue);
        if !queue.waiting.is_empty()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            drop(queue);
            runtime.spawn(run(Arc::clone(&self.fetch), Arc::clone(&self.queue)));
            return;
        }
        queue.running -= 1;
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

    #[tokio::test]
    async fn lookups_queued_behind_lone_queries_are_answered_when_those_are_dropped() {
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let fetch: Fetch = {
            let gate = Arc::clone(&gate);
            Arc::new(move |_uuids| {
                let gate = Arc::clone(&gate);
                Box::pin(async move {
                    gate.acquire().await.expect("never closed").forget();
                    Ok(Vec::new())
                })
            })
        };
        let lookups = Arc::new(SharedLookups::new(fetch));
        let find = |id: &str| {
            let lookups = Arc::clone(&lookups);
            let uuids = vec![id.to_owned()];
            tokio::spawn(async move { lookups.find(uuids).await })
        };
        let settled = |done: fn(&Queue) -> bool| {
            let lookups = Arc::clone(&lookups);
            async move {
                while !done(&lock(&lookups.queue)) {
                    tokio::task::yield_now().await;
                }
            }
        };
        let lone: Vec<_> = (0..QUERIES_AT_ONCE).map(|_| find("a")).collect();
        settled(|q| q.running == QUERIES_AT_ONCE).await;
        let queued = find("b");
        settled(|q| q.waiting.len() == 1).await;
        for lookup in &lone {
            lookup.abort();
        }
        gate.add_permits(1);
        let answered = tokio::time::timeout(std::time::Duration::from_secs(5), queued)
            .await
            .expect("answered, not stranded")
            .expect("the lookup's task")
            .expect("found");
        assert!(answered.is_empty());
        settled(|q| q.running == 0 && q.waiting.is_empty()).await;
    }

    #[test]
    fn a_lookup_larger_than_a_query_goes_alone() {
        let mut waiting: VecDeque<Waiter> =
            [IDS_PER_QUERY + 5, 1].into_iter().map(waiter).collect();
        assert_eq!(take_group(&mut waiting).len(), 1);
        assert_eq!(take_group(&mut waiting).len(), 1);
    }
}
