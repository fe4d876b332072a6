//! The AMQP side of `herald serve`: per-host grouping, the supervised broker
//! connection, and publishing with confirms. Connecting, names and
//! declarations live in [`crate::broker`].
//!
//! [`Dispatcher`] is what the API uses: it turns a request's per-host
//! batches into messages, publishes them, and says which hosts confirmed.

pub mod channels;
pub mod group;
pub mod link;
pub mod publish;

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use crate::broker::Topology;
use crate::config::AmqpConfig;
use crate::metrics::Metrics;
use crate::model::{Event, HostName, RequestIds};
use crate::wire;
pub use group::HostBatch;
pub use link::Link;
pub use publish::{Delivery, Failure, Outgoing};

/// Publishes batches over a connection kept alive in the background.
#[derive(Debug)]
pub struct Dispatcher {
    topology: Topology,
    amqp: AmqpConfig,
    state: watch::Receiver<Option<Arc<Link>>>,
    metrics: Arc<Metrics>,
    stop: CancellationToken,
    supervisor: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Dispatcher {
    /// Starts connecting in the background; returns at once, even when the
    /// broker is down.
    pub fn start(amqp: &AmqpConfig, metrics: Arc<Metrics>) -> Self {
        let topology = Topology::new(amqp);
        let (tx, state) = watch::channel(None);
        let stop = CancellationToken::new();
        let supervisor = tokio::spawn(link::supervise(
            amqp.clone(),
            topology.clone(),
            tx,
            metrics.clone(),
            stop.clone(),
        ));
        Self {
            topology,
            amqp: amqp.clone(),
            state,
            metrics,
            stop,
            supervisor: std::sync::Mutex::new(Some(supervisor)),
        }
    }

    /// The broker node in use (`host:port`), while connected.
    pub fn node(&self) -> Option<String> {
        self.state
            .borrow()
            .as_ref()
            .map(|link| link.node.label().to_owned())
    }

    /// Whether a live, unblocked broker connection is held.
    pub fn is_ready(&self) -> bool {
        self.state
            .borrow()
            .as_ref()
            .is_some_and(|link| link.conn.status().connected() && !link.conn.status().blocked())
    }

    /// Publishes one message per host batch and reports, per host, whether
    /// the broker confirmed it.
    pub async fn deliver(
        &self,
        batches: &[HostBatch],
        events: &[Event],
        ids: &RequestIds,
    ) -> HashMap<HostName, Delivery> {
        if batches.is_empty() {
            return HashMap::new();
        }
        let link = self.state.borrow().clone();
        let deliveries = match link {
            None => vec![Delivery::Failed(Failure::BrokerUnavailable); batches.len()],
            Some(link) => {
                let messages: Vec<Outgoing> = batches
                    .iter()
                    .map(|b| self.message_for(b, events, ids))
                    .collect();
                let deliveries = publish::publish_batch(
                    &link,
                    self.topology.exchange(),
                    &messages,
                    self.amqp.confirm_timeout,
                    &self.metrics,
                )
                .await;
                for (message, delivery) in messages.iter().zip(&deliveries) {
                    match delivery {
                        Delivery::Confirmed => {
                            self.metrics.messages_published.inc();
                        }
                        Delivery::Failed(failure) => tracing::warn!(
                            routing_key = %message.routing_key,
                            message_id = %message.message_id,
                            %failure,
                            "message not delivered"
                        ),
                    };
                }
                deliveries
            }
        };
        batches
            .iter()
            .map(|b| b.host.clone())
            .zip(deliveries)
            .collect()
    }

    fn message_for(&self, batch: &HostBatch, events: &[Event], ids: &RequestIds) -> Outgoing {
        let message_id = uuid::Uuid::new_v4().to_string();
        let body = wire::Message {
            version: wire::BODY_VERSION,
            message_id: message_id.clone(),
            request_id: ids.request_id.clone(),
            global_request_id: ids.global_request_id.clone(),
            host: batch.host.clone(),
            sent_at: wire::now_rfc3339(),
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
        Outgoing {
            routing_key: self.topology.routing_key(&batch.host),
            message_id,
            correlation_id: ids.request_id.clone(),
            body: body.encode(),
        }
    }

    /// Stops reconnecting and closes the connection. Call after the HTTP
    /// side has drained, so in-flight confirms are not cut off. Later calls
    /// return at once.
    pub async fn stop(&self) {
        self.stop.cancel();
        let supervisor = self
            .supervisor
            .lock()
            .expect("the lock is only held to take the handle")
            .take();
        if let Some(supervisor) = supervisor
            && let Err(error) = supervisor.await
        {
            tracing::error!(%error, "broker supervisor task failed");
        }
    }
}

/// Connects once to the broker and closes again: does it answer?
pub async fn probe(amqp: &AmqpConfig) -> Result<(), crate::broker::ConnectError> {
    let connected = crate::broker::connect::connect(amqp, "herald-check-config").await?;
    let _ = connected.conn.close(200, "probe".into()).await;
    Ok(())
}
