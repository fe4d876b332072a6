//! The retention store: received events kept for `retention` so that a local
//! waiter that asks late still gets its event, and the wake-up of waiters
//! that ask early. Bounded by time and by count; expired entries are pruned on
//! every insert and read, and by a periodic timer.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;

use super::event::ReceivedEvent;
use crate::model::{EventName, ServerId};
use crate::support::plain_lock;

/// What a waiter waits for. Matching is exact, as in Nova: no tag matches
/// only an event without a tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct EventKey {
    pub server_uuid: ServerId,
    pub name: EventName,
    pub tag: Option<String>,
}

impl EventKey {
    /// The key an event answers to.
    pub fn of(event: &ReceivedEvent) -> Self {
        Self {
            server_uuid: event.server_uuid,
            name: event.name,
            tag: event.tag.clone(),
        }
    }
}

/// Received events, newest last, for `retention`.
#[derive(Debug)]
pub struct EventStore {
    retention: Duration,
    max_events: usize,
    inner: Mutex<Inner>,
    /// Every recorded event, for waiters already waiting.
    arrivals: broadcast::Sender<Arc<ReceivedEvent>>,
}

#[derive(Debug, Default)]
struct Inner {
    order: VecDeque<(Instant, Arc<ReceivedEvent>)>,
    /// The newest retained event of each key.
    latest: HashMap<EventKey, Arc<ReceivedEvent>>,
}

/// Waiters that fall this far behind re-read the store instead.
const ARRIVALS_CAPACITY: usize = 1024;

impl EventStore {
    /// Keeps events for `retention`, at most `max_events` of them.
    pub fn new(retention: Duration, max_events: usize) -> Self {
        let (arrivals, _) = broadcast::channel(ARRIVALS_CAPACITY);
        Self {
            retention,
            max_events: max_events.max(1),
            inner: Mutex::default(),
            arrivals,
        }
    }

    /// Records an event and wakes the waiters.
    pub fn record(&self, event: Arc<ReceivedEvent>) {
        {
            let mut inner = self.lock();
            let now = Instant::now();
            self.prune_locked(&mut inner, now);
            while inner.order.len() >= self.max_events {
                inner.pop_oldest();
            }
            inner
                .latest
                .insert(EventKey::of(&event), Arc::clone(&event));
            inner.order.push_back((now, Arc::clone(&event)));
        }
        // No receiver means no waiter: nothing to do.
        let _ = self.arrivals.send(event);
    }

    /// The newest retained event for `key`.
    pub fn find(&self, key: &EventKey) -> Option<Arc<ReceivedEvent>> {
        let mut inner = self.lock();
        self.prune_locked(&mut inner, Instant::now());
        inner.latest.get(key).cloned()
    }

    /// The last `limit` retained events, newest last.
    pub fn recent(&self, limit: usize) -> Vec<Arc<ReceivedEvent>> {
        let mut inner = self.lock();
        self.prune_locked(&mut inner, Instant::now());
        let skip = inner.order.len().saturating_sub(limit);
        inner
            .order
            .iter()
            .skip(skip)
            .map(|(_, e)| Arc::clone(e))
            .collect()
    }

    /// How many events are retained.
    pub fn len(&self) -> usize {
        self.lock().order.len()
    }

    /// Whether no event is retained.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many waiters are waiting right now.
    pub fn waiters(&self) -> usize {
        self.arrivals.receiver_count()
    }

    /// Forgets the events older than the retention window.
    pub fn prune(&self) {
        let mut inner = self.lock();
        self.prune_locked(&mut inner, Instant::now());
    }

    /// Waits up to `timeout` for an event matching `key`; an event already
    /// retained answers at once. Returns the first match only.
    pub async fn wait(&self, key: &EventKey, timeout: Duration) -> Option<Arc<ReceivedEvent>> {
        // Subscribe before looking, so an event recorded in between is not missed.
        let mut arrivals = self.arrivals.subscribe();
        if let Some(found) = self.find(key) {
            return Some(found);
        }
        let watch = async {
            loop {
                match arrivals.recv().await {
                    Ok(event) if EventKey::of(&event) == *key => return event,
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if let Some(found) = self.find(key) {
                            return found;
                        }
                    }
                    // The store outlives its waiters; park until the timeout.
                    Err(broadcast::error::RecvError::Closed) => std::future::pending().await,
                }
            }
        };
        tokio::time::timeout(timeout, watch).await.ok()
    }

    fn prune_locked(&self, inner: &mut Inner, now: Instant) {
        while let Some((at, _)) = inner.order.front() {
            if now.duration_since(*at) < self.retention {
                break;
            }
            inner.pop_oldest();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The data stays consistent across a panic elsewhere: each change is one step.
        plain_lock::lock(&self.inner)
    }
}

impl Inner {
    fn pop_oldest(&mut self) {
        let Some((_, event)) = self.order.pop_front() else {
            return;
        };
        let key = EventKey::of(&event);
        // Only forget the key if no newer event of the same key replaced it.
        if self
            .latest
            .get(&key)
            .is_some_and(|newest| Arc::ptr_eq(newest, &event))
        {
            self.latest.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::EventStatus;

    const UUID: &str = "3df201cf-2451-44f2-8d25-a4ca826fc1f3";

    fn event(name: EventName, tag: Option<&str>, message_id: &str) -> Arc<ReceivedEvent> {
        Arc::new(ReceivedEvent {
            name,
            server_uuid: ServerId::parse(UUID).unwrap(),
            status: EventStatus::Completed,
            tag: tag.map(str::to_owned),
            message_id: message_id.into(),
            request_id: "req-1".into(),
            global_request_id: None,
            received_at: "now".into(),
        })
    }

    fn key(name: EventName, tag: Option<&str>) -> EventKey {
        EventKey {
            server_uuid: ServerId::parse(UUID).unwrap(),
            name,
            tag: tag.map(str::to_owned),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn events_expire_after_the_retention() {
        let store = EventStore::new(Duration::from_secs(60), 100);
        store.record(event(EventName::NetworkChanged, None, "m1"));
        tokio::time::advance(Duration::from_secs(59)).await;
        assert!(store.find(&key(EventName::NetworkChanged, None)).is_some());
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(store.find(&key(EventName::NetworkChanged, None)).is_none());
        assert!(store.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_newer_duplicate_survives_the_expiry_of_the_older() {
        let store = EventStore::new(Duration::from_secs(60), 100);
        store.record(event(EventName::NetworkChanged, None, "m1"));
        tokio::time::advance(Duration::from_secs(30)).await;
        store.record(event(EventName::NetworkChanged, None, "m2"));
        tokio::time::advance(Duration::from_secs(31)).await;
        let found = store.find(&key(EventName::NetworkChanged, None)).unwrap();
        assert_eq!(found.message_id, "m2");
    }

    #[tokio::test(start_paused = true)]
    async fn the_count_is_bounded_oldest_first() {
        let store = EventStore::new(Duration::from_secs(60), 2);
        store.record(event(EventName::NetworkChanged, None, "m1"));
        store.record(event(EventName::NetworkVifPlugged, None, "m2"));
        store.record(event(EventName::NetworkVifUnplugged, None, "m3"));
        let ids: Vec<_> = store
            .recent(10)
            .iter()
            .map(|e| e.message_id.clone())
            .collect();
        assert_eq!(ids, ["m2", "m3"]);
        assert!(store.find(&key(EventName::NetworkChanged, None)).is_none());
        assert_eq!(store.recent(1)[0].message_id, "m3");
    }

    #[tokio::test(start_paused = true)]
    async fn tags_match_exactly() {
        let store = EventStore::new(Duration::from_secs(60), 10);
        store.record(event(EventName::NetworkVifPlugged, Some("port-1"), "m1"));
        assert!(
            store
                .find(&key(EventName::NetworkVifPlugged, Some("port-1")))
                .is_some()
        );
        assert!(
            store
                .find(&key(EventName::NetworkVifPlugged, None))
                .is_none()
        );
        assert!(
            store
                .find(&key(EventName::NetworkVifPlugged, Some("port-2")))
                .is_none()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_get_early_and_late_events_and_time_out_otherwise() {
        let store = Arc::new(EventStore::new(Duration::from_secs(60), 10));
        let k = key(EventName::NetworkVifPlugged, Some("p"));
        let early = tokio::spawn({
            let (store, k) = (Arc::clone(&store), k.clone());
            async move { store.wait(&k, Duration::from_secs(30)).await }
        });
        tokio::task::yield_now().await;
        store.record(event(EventName::NetworkVifPlugged, None, "other"));
        store.record(event(EventName::NetworkVifPlugged, Some("p"), "m1"));
        store.record(event(EventName::NetworkVifPlugged, Some("p"), "m2"));
        assert_eq!(early.await.unwrap().unwrap().message_id, "m1");
        let late = store.wait(&k, Duration::from_secs(30)).await.unwrap();
        assert_eq!(late.message_id, "m2");
        let none = store
            .wait(
                &key(EventName::PowerUpdate, Some("POWER_ON")),
                Duration::from_secs(5),
            )
            .await;
        assert!(none.is_none());
    }
}
