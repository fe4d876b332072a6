//! What happens to each delivery: decode, drop duplicates, hand on, record
//! for waiters, then settle (ack, or reject without requeue when unreadable).
//! The [`Worker`] holds what outlives a broker session (dedup memory, the
//! handler, the store) so a reconnect keeps it.

use std::sync::Arc;
use std::time::Duration;

use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicRejectOptions};
use tracing::Instrument;

use super::Readiness;
use super::config::AgentConfig;
use super::dedup::Dedup;
use super::event::Delivered;
use super::handler::Handler;
use super::store::EventStore;
use crate::broker::{AmqpConfig, QueueSettings, Topology};
use crate::model::HostName;
use crate::support::error_chain::error_chain;
use crate::support::timestamp::now_rfc3339;
use crate::wire::{Decoded, decode};

/// Why a session must be rebuilt.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Lost {
    /// The connection or channel failed (forced close, I/O error, ...).
    #[error("broker error")]
    Broker(#[source] lapin::Error),
    /// The broker cancelled the consumer (queue deleted, ...).
    #[error("the broker cancelled the consumer")]
    Cancelled,
    /// An ack or reject could not be sent: the channel is gone.
    #[error("the channel closed before a message could be settled")]
    AckerUnusable,
}

/// The consuming side of an agent, across sessions.
pub(crate) struct Worker<H> {
    pub amqp: AmqpConfig,
    pub agent: AgentConfig,
    pub queue: QueueSettings,
    pub topology: Topology,
    pub host: HostName,
    pub connection_name: String,
    pub handler: H,
    pub store: Arc<EventStore>,
    pub ready: Readiness,
    pub dedup: Dedup,
    /// How long shutdown may take to settle the messages already held.
    pub drain_timeout: Duration,
}

enum Settle {
    Ack,
    Reject { requeue: bool },
}

impl<H: Handler> Worker<H> {
    /// Handles one delivery; `Err` means the session is gone.
    pub(crate) async fn process(&mut self, delivery: Delivery) -> Result<(), Lost> {
        let received_at = now_rfc3339();
        let message = match decode(&delivery.data) {
            Ok(message) => message,
            Err(error) => {
                // Logged once: without requeue the broker never hands it back.
                tracing::warn!(
                    error = %error_chain(&error),
                    amqp_message_id = ?delivery.properties.message_id(),
                    bytes = delivery.data.len(),
                    "unreadable message rejected (dead-lettered when a DLX is set)"
                );
                return settle(&delivery, Settle::Reject { requeue: false }).await;
            }
        };
        let span = tracing::debug_span!("message", message_id = %message.message_id, version = message.version);
        self.hand_on(message, &delivery, received_at)
            .instrument(span)
            .await
    }

    async fn hand_on(
        &mut self,
        message: Decoded,
        delivery: &Delivery,
        received_at: String,
    ) -> Result<(), Lost> {
        if self.dedup.already_handled(&message.message_id) {
            tracing::debug!("redelivery of a handled message dropped");
            return settle(delivery, Settle::Ack).await;
        }
        let delivered = Delivered::new(message, delivery.redelivered, received_at);
        match self.handler.handle(&delivered).await {
            Ok(()) => {
                for event in &delivered.events {
                    self.store.record(Arc::clone(event));
                }
                self.dedup.remember(delivered.meta.message_id.clone());
                tracing::debug!(events = delivered.events.len(), "handed on");
                settle(delivery, Settle::Ack).await
            }
            Err(error) => {
                // Once more on a first failure; then to the DLX (or dropped).
                let requeue = !delivery.redelivered;
                tracing::warn!(error = %error_chain(error.as_ref()), requeue, "handler failed");
                settle(delivery, Settle::Reject { requeue }).await
            }
        }
    }
}

async fn settle(delivery: &Delivery, how: Settle) -> Result<(), Lost> {
    let result = match how {
        Settle::Ack => {
            delivery
                .acker
                .ack(BasicAckOptions { multiple: false })
                .await
        }
        Settle::Reject { requeue } => delivery.acker.reject(BasicRejectOptions { requeue }).await,
    };
    match result {
        Ok(true) => Ok(()),
        Ok(false) => Err(Lost::AckerUnusable),
        Err(error) => Err(Lost::Broker(error)),
    }
}
