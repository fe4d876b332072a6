//! Nova mode's brokers: one supervised connection ([`link::supervise`],
//! failover across its nodes included) per distinct broker that `amqp.url`
//! and the cells' transport URLs name. Each checks, when it connects, that
//! Nova's exchange exists, and never declares it.
//!
//! `amqp.url`'s broker starts with the dispatcher; a cell's starts the
//! first time one of its events goes out, and that first request waits for
//! its first connection (within the request's deadline and one round of
//! connection attempts). Later, as for herald's wire, a request never waits
//! for a connection: without a live link its events answer 503 at once, and
//! only the events of the cells that broker serves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::DispatchConfig;
use super::link::{self, Link, OnConnect};
use crate::broker::{AmqpConfig, CellBroker};
use crate::metrics::Metrics;
use crate::support::plain_lock::lock;

/// A live link's state, as the supervisor publishes it.
type State = watch::Receiver<Option<Arc<Link>>>;

/// One broker's supervised connection.
#[derive(Debug)]
struct Entry {
    state: State,
    /// Until then a request may wait for the first connection.
    first_round_ends: Instant,
    label: String,
}

/// Every broker Nova mode publishes to, by [`CellBroker::key`].
#[derive(Debug)]
pub struct Brokers {
    base: AmqpConfig,
    config: DispatchConfig,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
    entries: Mutex<HashMap<String, Arc<Entry>>>,
    supervisors: Mutex<Vec<JoinHandle<()>>>,
    /// `amqp.url`'s broker.
    default: State,
}

impl Brokers {
    /// Starts `amqp.url`'s broker (validated at load: its nodes parse).
    pub fn start(
        amqp: &AmqpConfig,
        config: &DispatchConfig,
        default: &CellBroker,
        metrics: Arc<Metrics>,
        stop: CancellationToken,
    ) -> Self {
        let mut brokers = Self {
            base: amqp.clone(),
            config: config.clone(),
            metrics,
            stop,
            entries: Mutex::default(),
            supervisors: Mutex::default(),
            default: watch::channel(None).1,
        };
        brokers.default = brokers.entry(default).state.clone();
        brokers
    }

    /// `amqp.url`'s broker link state (what `/readyz` reports).
    pub fn default_state(&self) -> State {
        self.default.clone()
    }

    /// The live link to `broker`, starting its connection on first use.
    /// `None` when it has none (now, or by `deadline` for a broker still
    /// making its first connection).
    pub async fn link(&self, broker: &CellBroker, deadline: Instant) -> Option<Arc<Link>> {
        let entry = self.entry(broker);
        if let Some(link) = entry.state.borrow().clone() {
            return Some(link);
        }
        let until = deadline.min(entry.first_round_ends);
        if Instant::now() >= until {
            return None;
        }
        let mut state = entry.state.clone();
        match tokio::time::timeout_at(until, state.wait_for(Option::is_some)).await {
            Ok(Ok(link)) => link.clone(),
            _ => None,
        }
    }

    /// Each broker's `host:port` label and whether it is connected.
    pub fn summary(&self) -> Vec<(String, bool)> {
        let mut all: Vec<(String, bool)> = lock(&self.entries)
            .values()
            .map(|e| (e.label.clone(), e.state.borrow().is_some()))
            .collect();
        all.sort();
        all
    }

    /// Waits for every supervisor to end (after the stop token is cancelled).
    pub async fn join(&self) {
        let handles = std::mem::take(&mut *lock(&self.supervisors));
        for handle in handles {
            if let Err(error) = handle.await {
                tracing::error!(%error, "broker supervisor task failed");
            }
        }
    }

    fn entry(&self, broker: &CellBroker) -> Arc<Entry> {
        let mut entries = lock(&self.entries);
        if let Some(entry) = entries.get(broker.key()) {
            return Arc::clone(entry);
        }
        let mut amqp = self.base.clone();
        amqp.url = broker.urls();
        let (tx, state) = watch::channel(None);
        let handle = tokio::spawn(link::supervise(
            amqp.clone(),
            self.config.clone(),
            OnConnect::CheckExists(amqp.nova_exchange.clone()),
            tx,
            self.metrics.clone(),
            self.stop.clone(),
        ));
        lock(&self.supervisors).push(handle);
        let entry = Arc::new(Entry {
            state,
            first_round_ends: Instant::now() + first_round(&amqp),
            label: broker.label(),
        });
        tracing::info!(broker = %entry.label, "connecting to a Nova broker");
        entries.insert(broker.key().to_owned(), Arc::clone(&entry));
        entry
    }
}

/// How long one round of attempts over a broker's nodes may take.
fn first_round(amqp: &AmqpConfig) -> Duration {
    let nodes = u32::try_from(amqp.nodes().len().max(1)).unwrap_or(u32::MAX);
    amqp.connect_timeout.saturating_mul(nodes)
}
