//! The AMQP side of `herald serve`: per-host grouping, the supervised broker
//! connection, and publishing with confirms. Connecting, names and
//! declarations live in [`crate::broker`].
//!
//! [`Dispatcher`] is what the API uses: it groups a request's events per
//! host, sends them (coalesced per host in `lane`, whose one owner task
//! holds the lanes' state, or one version 1 message per host), and says
//! which hosts confirmed. With `amqp.wire = "nova"` it publishes oslo casts
//! instead ([`nova`], over the cells' brokers kept in [`brokers`]).

pub mod account;
pub mod brokers;
pub mod channels;
pub mod config;
pub mod group;
mod lane;
pub mod link;
pub mod nova;
pub mod publish;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::future::join_all;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::broker::AmqpConfig;
pub use crate::broker::Topology;
use crate::broker::{CellBroker, Wire};
use crate::metrics::Metrics;
use crate::model::{Event, HostName, RequestIds};
use crate::support::error_chain::error_chain;
use crate::support::plain_lock;
use crate::wire;
pub use config::DispatchConfig;
pub use group::HostBatch;
use lane::{LaneLimits, Lanes};
pub use link::Link;
pub use publish::{Failure, Outgoing, PublishOutcome};

/// Coalescing rounds publishing at once, each on one channel. Two measured
/// best (against one and four, `herald load`, 10 hosts): one more round can
/// start while a round awaits its confirms. A pipelined publisher (each
/// message answered at its own confirm, the next one sent at once) measured
/// no faster and with a longer p99 (README, Measurements).
const ROUNDS: usize = 2;
/// Messages (one per host) a round carries at most.
const ROUND_MESSAGES: usize = 64;

/// Publishes batches over a connection kept alive in the background.
#[derive(Debug)]
pub struct Dispatcher {
    shared: Arc<lane::Shared>,
    /// How long a call waits for its confirms (`amqp.confirm_timeout`).
    confirm_timeout: std::time::Duration,
    /// Present when `amqp.coalesce` is on (herald's wire only).
    lanes: Option<Lanes>,
    /// Present with `amqp.wire = "nova"`.
    nova: Option<nova::NovaDispatch>,
    stop: CancellationToken,
    supervisor: Mutex<Option<JoinHandle<()>>>,
}

impl Dispatcher {
    /// Starts connecting in the background; returns at once, even when the
    /// broker is down.
    pub fn start(amqp: &AmqpConfig, config: &DispatchConfig, metrics: Arc<Metrics>) -> Self {
        config.warn_deprecated();
        if amqp.wire == Wire::Nova {
            return Self::start_nova(amqp, config, metrics);
        }
        let topology = Topology::new(amqp);
        let (tx, state) = watch::channel(None);
        let stop = CancellationToken::new();
        let supervisor = tokio::spawn(link::supervise(
            amqp.clone(),
            config.clone(),
            link::OnConnect::Declare(topology.clone()),
            tx,
            metrics.clone(),
            stop.clone(),
        ));
        let shared = Arc::new(lane::Shared {
            topology,
            state,
            metrics,
            failure_log: account::FailureLog::default(),
        });
        let lanes = config.coalesce.then(|| {
            Lanes::start(
                LaneLimits {
                    max_events: config.coalesce_max_events,
                    max_queued: config.coalesce_queue,
                    rounds: ROUNDS,
                    round_messages: ROUND_MESSAGES,
                },
                Arc::clone(&shared),
            )
        });
        Self {
            shared,
            confirm_timeout: config.confirm_timeout,
            lanes,
            nova: None,
            stop,
            supervisor: Mutex::new(Some(supervisor)),
        }
    }

    /// Nova's wire: `amqp.url`'s broker now, the cells' brokers on first
    /// use; no lanes (each cast carries its own request's context).
    fn start_nova(amqp: &AmqpConfig, config: &DispatchConfig, metrics: Arc<Metrics>) -> Self {
        let stop = CancellationToken::new();
        let default = CellBroker::from_urls(&amqp.url)
            .expect("amqp.url was validated at load: its nodes parse");
        let brokers =
            brokers::Brokers::start(amqp, config, &default, metrics.clone(), stop.clone());
        let shared = Arc::new(lane::Shared {
            topology: Topology::new(amqp),
            state: brokers.default_state(),
            metrics: metrics.clone(),
            failure_log: account::FailureLog::default(),
        });
        Self {
            shared,
            confirm_timeout: config.confirm_timeout,
            lanes: None,
            nova: Some(nova::NovaDispatch::new(amqp, config, brokers, metrics)),
            stop,
            supervisor: Mutex::new(None),
        }
    }

    /// Nova's publisher, with `amqp.wire = "nova"`.
    pub fn nova(&self) -> Option<&nova::NovaDispatch> {
        self.nova.as_ref()
    }

    /// The broker node in use (`host:port`), while connected.
    pub fn node(&self) -> Option<String> {
        self.shared
            .state
            .borrow()
            .as_ref()
            .map(|link| link.node.label().to_owned())
    }

    /// Whether a live, unblocked broker connection is held.
    pub fn is_ready(&self) -> bool {
        self.shared
            .state
            .borrow()
            .as_ref()
            .is_some_and(|link| link.conn.status().connected() && !link.conn.status().blocked())
    }

    /// Delivers a request's events: `targets` pairs an index into `events`
    /// with the hosts that event goes to. Groups them per host, publishes,
    /// and reports per host what became of its events. Every answer comes
    /// within `amqp.confirm_timeout` of the call.
    pub async fn deliver<'a>(
        &self,
        targets: impl IntoIterator<Item = (usize, &'a [HostName])>,
        events: &[Event],
        ids: &RequestIds,
    ) -> HashMap<HostName, PublishOutcome> {
        let batches = group::by_host(targets);
        if batches.is_empty() {
            return HashMap::new();
        }
        let deadline = Instant::now() + self.confirm_timeout;
        let outcomes = match &self.lanes {
            Some(lanes) => self.coalesced(lanes, &batches, events, ids, deadline).await,
            None => self.one_message_per_host(&batches, events, ids).await,
        };
        batches.into_iter().map(|b| b.host).zip(outcomes).collect()
    }

    /// `amqp.coalesce = true`: each host's events join its lane and go out
    /// in a version 2 message, possibly with other requests' events.
    async fn coalesced(
        &self,
        lanes: &Lanes,
        batches: &[HostBatch],
        events: &[Event],
        ids: &RequestIds,
        deadline: Instant,
    ) -> Vec<PublishOutcome> {
        if self.shared.state.borrow().is_none() {
            // Nothing can go out: answer at once rather than queue.
            return account::broker_unavailable(&self.shared.metrics, batches.len());
        }
        let work = batches
            .iter()
            .map(|batch| {
                let wire_events = batch
                    .events
                    .iter()
                    .map(|&i| wire_event_v2(&events[i], ids))
                    .collect();
                (batch.host.clone(), wire_events)
            })
            .collect();
        let timed_out = || PublishOutcome::Failed(Failure::Timeout);
        let Ok(replies) = tokio::time::timeout_at(deadline, lanes.submit(work, deadline)).await
        else {
            return vec![timed_out(); batches.len()];
        };
        let wait = |reply| async move {
            match tokio::time::timeout_at(deadline, reply).await {
                Ok(Ok(outcome)) => outcome,
                // The confirm did not come in time, or the lanes skipped
                // the events because their deadline had passed.
                Ok(Err(_)) | Err(_) => timed_out(),
            }
        };
        if replies.len() == 1 {
            // One host (the usual request): no join to set up.
            return match replies.into_iter().next() {
                Some(reply) => vec![wait(reply).await],
                None => Vec::new(),
            };
        }
        join_all(replies.into_iter().map(wait)).await
    }

    /// `amqp.coalesce = false`: one version 1 message per host for this
    /// request, all on one channel.
    async fn one_message_per_host(
        &self,
        batches: &[HostBatch],
        events: &[Event],
        ids: &RequestIds,
    ) -> Vec<PublishOutcome> {
        let link = self.shared.state.borrow().clone();
        let Some(link) = link else {
            return account::broker_unavailable(&self.shared.metrics, batches.len());
        };
        let messages: Vec<Outgoing> = batches
            .iter()
            .map(|b| self.message_v1(b, events, ids))
            .collect();
        let outcomes = publish::publish_batch(
            &link,
            self.shared.topology.exchange(),
            &messages,
            self.confirm_timeout,
            &self.shared.metrics,
        )
        .await;
        for (message, outcome) in messages.iter().zip(&outcomes) {
            account::record(
                &self.shared.metrics,
                &self.shared.failure_log,
                message,
                outcome,
            );
        }
        outcomes
    }

    fn message_v1(&self, batch: &HostBatch, events: &[Event], ids: &RequestIds) -> Outgoing {
        let message_id = uuid::Uuid::new_v4().to_string();
        let body = wire::Message {
            version: wire::BODY_V1,
            message_id: message_id.clone(),
            request_id: ids.request_id.clone(),
            global_request_id: ids.global_request_id.clone(),
            host: batch.host.clone(),
            sent_at: crate::support::timestamp::now_rfc3339(),
            events: batch
                .events
                .iter()
                .map(|&i| {
                    let e = &events[i];
                    wire::WireEvent {
                        name: e.name,
                        server_uuid: e.server,
                        status: e.status,
                        tag: e.tag.clone(),
                    }
                })
                .collect(),
        };
        self.shared
            .metrics
            .events_per_message
            .observe(batch.events.len() as f64);
        Outgoing {
            wire: crate::broker::Wire::Herald,
            routing_key: self.shared.topology.routing_key(&batch.host),
            message_id,
            correlation_id: Some(ids.request_id.clone()),
            body: body.encode(),
        }
    }

    /// Stops reconnecting and closes the connection. Call after the HTTP
    /// side has drained, so in-flight confirms are not cut off. Later calls
    /// return at once.
    pub async fn stop(&self) {
        self.stop.cancel();
        let supervisor = plain_lock::lock(&self.supervisor).take();
        if let Some(supervisor) = supervisor
            && let Err(error) = supervisor.await
        {
            tracing::error!(error = %error_chain(&error), "broker supervisor task failed");
        }
        if let Some(nova) = &self.nova {
            nova.brokers().join().await;
        }
    }
}

fn wire_event_v2(event: &Event, ids: &RequestIds) -> wire::WireEventV2 {
    wire::WireEventV2 {
        name: event.name,
        server_uuid: event.server,
        status: event.status,
        tag: event.tag.clone(),
        request_id: ids.request_id.clone(),
        global_request_id: ids.global_request_id.clone(),
    }
}
