//! The connection slots of the accept loop: at most `max` connections are
//! open at once. At the cap, the connection idle the longest (no request in
//! progress: waiting for its first headers or between keep-alive requests)
//! is closed to make room, as nginx reuses idle keep-alive connections; when
//! every connection is busy the loop stops accepting until one ends.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use crate::support::plain_lock;

/// The accept loop's metrics; unregistered ones (the default) count for nobody.
#[derive(Debug, Clone, Default)]
pub struct ConnectionMetrics {
    /// Connections open now.
    pub open: Gauge,
    /// Connections accepted while every slot was taken (they waited).
    pub deferred: Counter,
    /// Idle connections closed to make room for a new one.
    pub evicted: Counter,
}

/// One connection's slot: its permit, whether a request is in progress, and
/// the token that asks it to close.
#[derive(Debug)]
pub struct Slot {
    id: u64,
    pub busy: Arc<AtomicBool>,
    pub evict: CancellationToken,
    slots: Arc<Slots>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.slots.lock().remove(&self.id);
        self.slots.metrics.open.dec();
    }
}

/// Bookkeeping of the open connections.
#[derive(Debug)]
pub struct Slots {
    permits: Arc<Semaphore>,
    next_id: AtomicU64,
    /// By accept order, so the first idle one found is the oldest.
    open: Mutex<BTreeMap<u64, (Arc<AtomicBool>, CancellationToken)>>,
    metrics: ConnectionMetrics,
}

impl Slots {
    pub fn new(max: usize, metrics: ConnectionMetrics) -> Arc<Self> {
        Arc::new(Self {
            permits: Arc::new(Semaphore::new(max.clamp(1, Semaphore::MAX_PERMITS))),
            next_id: AtomicU64::new(0),
            open: Mutex::default(),
            metrics,
        })
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, BTreeMap<u64, (Arc<AtomicBool>, CancellationToken)>> {
        plain_lock::lock(&self.open)
    }

    /// A slot for a just-accepted connection: at once when one is free;
    /// else after closing the oldest idle connection, or after any ends.
    /// `None` when `shutdown` is cancelled first.
    pub async fn take(self: &Arc<Self>, shutdown: &CancellationToken) -> Option<Slot> {
        let permit = match Arc::clone(&self.permits).try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                self.metrics.deferred.inc();
                self.evict_oldest_idle();
                tokio::select! {
                    () = shutdown.cancelled() => return None,
                    permit = Arc::clone(&self.permits).acquire_owned() => permit.ok()?,
                }
            }
        };
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let busy = Arc::new(AtomicBool::new(false));
        // Not a child of `shutdown`: on shutdown connections drain gracefully,
        // only an evicted one is closed at once.
        let evict = CancellationToken::new();
        self.lock().insert(id, (Arc::clone(&busy), evict.clone()));
        self.metrics.open.inc();
        Some(Slot {
            id,
            busy,
            evict,
            slots: Arc::clone(self),
            _permit: permit,
        })
    }

    /// Asks the oldest connection without a request in progress to close;
    /// false when every connection is busy.
    pub fn evict_oldest_idle(&self) -> bool {
        let mut open = self.lock();
        let idle = open
            .iter()
            .find(|(_, (busy, evict))| !busy.load(Ordering::Acquire) && !evict.is_cancelled())
            .map(|(id, _)| *id);
        let Some(id) = idle else {
            return false;
        };
        if let Some((_, evict)) = open.remove(&id) {
            evict.cancel();
            self.metrics.evicted.inc();
        }
        true
    }
}

/// Marks a connection busy while one of its requests is being answered.
#[derive(Debug)]
pub struct Busy(Arc<AtomicBool>);

impl Busy {
    pub fn enter(flag: &Arc<AtomicBool>) -> Self {
        flag.store(true, Ordering::Release);
        Self(Arc::clone(flag))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn at_the_cap_the_oldest_idle_connection_goes() {
        let metrics = ConnectionMetrics::default();
        let slots = Slots::new(2, metrics.clone());
        let shutdown = CancellationToken::new();
        let first = slots.take(&shutdown).await.unwrap();
        let second = slots.take(&shutdown).await.unwrap();
        let _busy = Busy::enter(&first.busy);
        assert_eq!(metrics.open.get(), 2);
        let third = tokio::spawn({
            let slots = Arc::clone(&slots);
            let shutdown = shutdown.clone();
            async move { slots.take(&shutdown).await.is_some() }
        });
        second.evict.cancelled().await;
        assert!(
            !first.evict.is_cancelled(),
            "a busy connection is never evicted"
        );
        drop(second);
        assert!(third.await.unwrap());
        assert_eq!(metrics.deferred.get(), 1);
        assert_eq!(metrics.evicted.get(), 1);
        assert!(!slots.evict_oldest_idle(), "only the busy one is left");
    }
}
