//! The compute agent (`herald agent`): consumes a host's queue, hands each
//! event on, and serves local waiters. Embeddable: [`run_with_handler`] takes
//! any [`Handler`]; [`run`] uses [`StdoutHandler`] (one JSON line per event).
//!
//! # Layout
//! - [`event`]: what a delivered message becomes (the stdout line's object).
//! - [`handler`]: the [`Handler`] trait, the stdout handler, closures.
//! - `process`: decode, dedup, hand on, record, ack (per delivery).
//! - `consume`: one broker session (connect, declare, consume, drain).
//! - `supervisor`: rebuilds sessions with backoff after any loss.
//! - [`dedup`], [`store`]: bounded redelivery memory; retained events + waiters.
//! - [`dedup_journal`]: the file that keeps the dedup memory across restarts.
//! - [`waiter_api`]: the local HTTP API (routes, long-poll).
//! - [`waiter_query`]: its query strings, parsed and bounded.

pub mod config;
mod consume;
pub mod dedup;
pub mod dedup_journal;
pub mod event;
pub mod handler;
mod process;
pub mod store;
mod supervisor;
pub mod waiter_api;
pub mod waiter_query;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::broker::{AmqpConfig, DeclareError, QueueSettings, Topology};
use crate::model::HostName;
use crate::support::error_chain::error_chain;
use crate::web::server::ServerOptions;

pub use config::AgentConfig;
pub use event::{Delivered, MessageMeta, ReceivedEvent};
pub use handler::{FnHandler, Handler, HandlerError, StdoutHandler, handler_fn};
pub use store::{EventKey, EventStore};

/// Why the agent stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The topology cannot be declared as configured (a queue or exchange
    /// exists with other arguments); retrying would not help.
    #[error(transparent)]
    Topology(#[from] DeclareError),
    /// The dedup journal (`agent.dedup_path`) cannot be read or written.
    #[error(transparent)]
    DedupJournal(#[from] dedup_journal::JournalError),
}

/// What the agent runs with: its own `[agent]` keys, the broker's `[amqp]`
/// keys to connect, and the host queue's keys to declare it.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub agent: AgentConfig,
    pub amqp: AmqpConfig,
    pub queue: QueueSettings,
}

/// Runs the agent for `host` until `shutdown` is cancelled, writing events
/// to stdout. The waiter API listener is bound by the caller.
pub async fn run(
    settings: Settings,
    host: HostName,
    waiter: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), AgentError> {
    run_with_handler(settings, host, waiter, StdoutHandler, shutdown).await
}

/// Runs the agent with `handler` as the hand-on. Returns `Ok` after shutdown
/// once the messages it held were settled and the connection closed.
pub async fn run_with_handler<H: Handler>(
    settings: Settings,
    host: HostName,
    waiter: TcpListener,
    handler: H,
    shutdown: CancellationToken,
) -> Result<(), AgentError> {
    let Settings { agent, amqp, queue } = settings;
    let dedup = if agent.dedup_path.as_os_str().is_empty() {
        dedup::Dedup::new(agent.dedup_capacity)
    } else {
        dedup::Dedup::with_journal(agent.dedup_capacity, &agent.dedup_path)?
    };
    let store = Arc::new(EventStore::new(agent.retention, agent.max_retained_events));
    let ready = Readiness::default();
    // The API stops with the consumer, also when the consumer fails.
    let api_stop = shutdown.child_token();
    let state = waiter_api::WaiterState {
        store: Arc::clone(&store),
        ready: ready.clone(),
        shutdown: api_stop.clone(),
    };
    let options = ServerOptions {
        header_read_timeout: agent.waiter_header_read_timeout,
        shutdown_grace: agent.shutdown_grace,
        max_connections: crate::support::limits::connection_cap(agent.waiter_max_connections),
        metrics: crate::web::slots::ConnectionMetrics::default(),
        // The waiter API is for the compute host itself: plain HTTP on loopback.
        tls: None,
    };
    let api = tokio::spawn(waiter_api::run(waiter, state, options));
    let pruner = tokio::spawn(prune_periodically(
        Arc::clone(&store),
        agent.retention,
        api_stop.clone(),
    ));
    let worker = process::Worker {
        topology: Topology::new(&amqp),
        connection_name: connection_name(&host),
        dedup,
        drain_timeout: agent.shutdown_grace,
        amqp,
        agent,
        queue,
        host,
        handler,
        store,
        ready,
    };
    let result = supervisor::supervise(worker, shutdown).await;
    api_stop.cancel();
    for task in [api, pruner] {
        if let Err(error) = task.await {
            tracing::warn!(error = %error_chain(&error), "agent task ended abnormally");
        }
    }
    result.map_err(AgentError::from)
}

/// The AMQP connection name of this process's agent for `host`, as the
/// broker shows it (`rabbitmqctl list_connections client_properties`).
pub fn connection_name(host: &HostName) -> String {
    format!("herald-agent-{host}-{}", std::process::id())
}

/// Whether the agent is consuming right now and the broker lets its
/// connection write (acks included) (`/readyz`).
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    consuming: Arc<AtomicBool>,
    blocked: Arc<AtomicBool>,
}

impl Readiness {
    /// Ready: consuming on a connection the broker has not blocked.
    pub fn get(&self) -> bool {
        self.consuming.load(Ordering::Relaxed) && !self.is_blocked()
    }

    pub fn set(&self, consuming: bool) {
        self.consuming.store(consuming, Ordering::Relaxed);
    }

    /// Whether the broker blocked the connection (memory or disk alarm).
    pub fn is_blocked(&self) -> bool {
        self.blocked.load(Ordering::Relaxed)
    }

    pub fn set_blocked(&self, blocked: bool) {
        self.blocked.store(blocked, Ordering::Relaxed);
    }
}

async fn prune_periodically(store: Arc<EventStore>, retention: Duration, stop: CancellationToken) {
    let mut tick = tokio::time::interval((retention / 4).max(Duration::from_millis(100)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = tick.tick() => store.prune(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Readiness;

    #[test]
    fn a_blocked_connection_is_not_ready() {
        let ready = Readiness::default();
        assert!(!ready.get());
        ready.set(true);
        assert!(ready.get());
        ready.set_blocked(true);
        assert!(!ready.get());
        ready.set_blocked(false);
        assert!(ready.get());
    }
}
