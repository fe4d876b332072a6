//! Publishing messages on a borrowed confirm channel and
//! turning the broker's answers (ack, nack, return, silence) into outcomes.
//!
//! All messages are published first, then their confirms are awaited
//! together under one deadline: never one round trip per message.

use std::collections::HashSet;
use std::sync::{Arc, LazyLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures_util::future::join_all;
use lapin::Confirmation;
use lapin::options::BasicPublishOptions;
use lapin::types::ShortString;
use lapin::{BasicProperties, PublisherConfirm};
use tokio::time::{Instant, timeout_at};

use super::channels::Borrowed;
use super::link::Link;
use crate::broker::names::short;
use crate::broker::{NameTooLong, Wire};
use crate::metrics::Metrics;
use crate::support::error_chain::error_chain;
use crate::wire;

/// A message ready to publish.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Whose body it is: decides the AMQP properties it carries.
    pub wire: Wire,
    pub routing_key: String,
    pub message_id: String,
    /// The request id when every event shares one (always, in version 1).
    pub correlation_id: Option<String>,
    pub body: Vec<u8>,
}

/// What became of one message.
#[derive(Debug, Clone)]
pub enum PublishOutcome {
    /// The broker confirmed it and routed it to at least one queue.
    Confirmed,
    Failed(Failure),
}

/// Why a message was not confirmed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Failure {
    #[error("broker unreachable")]
    BrokerUnavailable,
    #[error("no publishing channel free in time")]
    NoChannel,
    #[error("unroutable: no queue bound for the routing key ({0})")]
    Unroutable(String),
    #[error("broker refused the message (nack)")]
    Nacked,
    #[error("no confirm within the confirm timeout")]
    Timeout,
    /// Writing the message to the channel failed (the connection broke).
    #[error("publishing on the channel failed")]
    Publish(#[source] Arc<lapin::Error>),
    /// The channel went away before the broker answered.
    #[error("the confirm was lost with the channel")]
    ConfirmLost(#[source] Arc<lapin::Error>),
    #[error("the channel is not in confirm mode")]
    NotInConfirmMode,
    #[error("a name does not fit AMQP")]
    Name(#[source] NameTooLong),
    #[error("too many requests already waiting for this host")]
    Overloaded,
}

impl Failure {
    /// The `reason` label of `herald_messages_failed_total`. Only `timeout`
    /// may still have been delivered (the broker may store it later).
    pub fn reason(&self) -> &'static str {
        match self {
            Failure::BrokerUnavailable => "broker_unavailable",
            Failure::NoChannel => "no_channel",
            Failure::Unroutable(_) => "unroutable",
            Failure::Nacked => "nacked",
            Failure::Timeout => "timeout",
            Failure::Publish(_) | Failure::ConfirmLost(_) | Failure::NotInConfirmMode => {
                "connection"
            }
            Failure::Name(_) => "name",
            Failure::Overloaded => "overloaded",
        }
    }
}

impl PublishOutcome {
    pub fn is_confirmed(&self) -> bool {
        matches!(self, PublishOutcome::Confirmed)
    }
}

/// Publishes every message and waits for all confirms until `timeout`.
pub async fn publish_batch(
    link: &Link,
    exchange: &str,
    messages: &[Outgoing],
    timeout: Duration,
    metrics: &Metrics,
) -> Vec<PublishOutcome> {
    let deadline = Instant::now() + timeout;
    let channel = match timeout_at(deadline, link.channels.get()).await {
        Ok(Ok(channel)) => Borrowed::new(channel),
        Ok(Err(error)) => {
            tracing::warn!(error = %error_chain(&error), "no publishing channel");
            return vec![PublishOutcome::Failed(Failure::NoChannel); messages.len()];
        }
        Err(_) => return vec![PublishOutcome::Failed(Failure::NoChannel); messages.len()],
    };
    let started = Instant::now();
    let _unconfirmed = Unconfirmed::count(&metrics.unconfirmed, messages.len());
    let mut healthy = true;
    let exchange = match short(exchange) {
        Ok(name) => name,
        Err(error) => {
            return vec![PublishOutcome::Failed(Failure::Name(error)); messages.len()];
        }
    };
    // Every message is handed to the channel before any write is awaited,
    // so a batch's frames go out together instead of one write at a time.
    // `join_all` polls in order, so the confirm order is the message order.
    let publish = |message| timeout_at(deadline, publish_one(&channel, &exchange, message));
    let publishes = match messages {
        // One message (a lone host's round): no join to set up.
        [message] => vec![publish(message).await],
        _ => join_all(messages.iter().map(publish)).await,
    };
    let mut confirms = Vec::with_capacity(messages.len());
    for published in publishes {
        match published {
            Ok(Ok(confirm)) => confirms.push(Ok(confirm)),
            Ok(Err(failure)) => {
                healthy = false;
                confirms.push(Err(failure));
            }
            Err(_) => {
                healthy = false;
                confirms.push(Err(Failure::Timeout));
            }
        }
    }
    let answers = match <[_; 1]>::try_from(confirms) {
        Ok([confirm]) => vec![await_confirm(confirm, deadline, started, metrics).await],
        Err(confirms) => {
            join_all(
                confirms
                    .into_iter()
                    .map(|c| await_confirm(c, deadline, started, metrics)),
            )
            .await
        }
    };
    let returned: HashSet<String> = answers
        .iter()
        .flat_map(|a| a.returned.iter().cloned())
        .collect();
    healthy &= answers.iter().all(|a| a.resolved);
    if healthy {
        channel.settle();
    }
    // Otherwise dropping it discards it: unresolved confirms would be
    // attributed to the next borrower's messages.
    messages
        .iter()
        .zip(answers)
        .map(|(message, answer)| match answer.delivery {
            _ if returned.contains(&message.message_id) => {
                PublishOutcome::Failed(Failure::Unroutable(message.routing_key.clone()))
            }
            delivery => delivery,
        })
        .collect()
}

/// Counts messages awaiting their confirms for as long as they do.
struct Unconfirmed(prometheus_client::metrics::gauge::Gauge, i64);

impl Unconfirmed {
    fn count(gauge: &prometheus_client::metrics::gauge::Gauge, n: usize) -> Self {
        let n = i64::try_from(n).unwrap_or(i64::MAX);
        gauge.inc_by(n);
        Self(gauge.clone(), n)
    }
}

impl Drop for Unconfirmed {
    fn drop(&mut self) {
        self.0.dec_by(self.1);
    }
}

async fn publish_one(
    channel: &lapin::Channel,
    exchange: &ShortString,
    message: &Outgoing,
) -> Result<PublisherConfirm, Failure> {
    let name = Failure::Name;
    let options = BasicPublishOptions {
        mandatory: true,  // an unroutable message comes back instead of vanishing
        immediate: false, // unsupported by RabbitMQ; it would close the connection
    };
    channel
        .basic_publish(
            exchange.clone(),
            short(&message.routing_key).map_err(name)?,
            options,
            &message.body,
            properties(message).map_err(name)?,
        )
        .await
        .map_err(|e| Failure::Publish(Arc::new(e)))
}

/// The properties every message of herald's wire shares, built once.
static COMMON_PROPERTIES: LazyLock<BasicProperties> = LazyLock::new(|| {
    // Constants well under the 255-byte limit (checked by a test).
    BasicProperties::default()
        .with_content_type(ShortString::from(wire::CONTENT_TYPE))
        .with_delivery_mode(2) // persistent: survives a broker restart in a durable queue
        .with_type(ShortString::from(wire::MESSAGE_TYPE))
        .with_app_id(ShortString::from(wire::APP_ID))
});

/// The properties of Nova's wire, as nova-api's casts carry them (oslo
/// drops a message without `content_type`), built once.
static NOVA_PROPERTIES: LazyLock<BasicProperties> = LazyLock::new(|| {
    BasicProperties::default()
        .with_content_type(ShortString::from(wire::nova::CONTENT_TYPE))
        .with_content_encoding(ShortString::from(wire::nova::CONTENT_ENCODING))
        .with_delivery_mode(2) // persistent, as oslo sends casts
        .with_priority(0)
});

fn properties(message: &Outgoing) -> Result<BasicProperties, crate::broker::NameTooLong> {
    if message.wire == Wire::Nova {
        // The message id only attributes a mandatory return to its message.
        return Ok(NOVA_PROPERTIES
            .clone()
            .with_message_id(short(&message.message_id)?));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let properties = COMMON_PROPERTIES
        .clone()
        .with_message_id(short(&message.message_id)?)
        .with_timestamp(now);
    Ok(match &message.correlation_id {
        Some(id) => properties.with_correlation_id(short(id)?),
        None => properties,
    })
}

/// One confirm's answer, plus the message ids the broker returned with it.
struct Answer {
    delivery: PublishOutcome,
    returned: Vec<String>,
    resolved: bool,
}

async fn await_confirm(
    confirm: Result<PublisherConfirm, Failure>,
    deadline: Instant,
    started: Instant,
    metrics: &Metrics,
) -> Answer {
    let failed = |f, resolved| Answer {
        delivery: PublishOutcome::Failed(f),
        returned: Vec::new(),
        resolved,
    };
    let confirm = match confirm {
        Ok(c) => c,
        Err(f) => return failed(f, true),
    };
    let confirmation = match timeout_at(deadline, confirm).await {
        Err(_) => return failed(Failure::Timeout, false),
        Ok(Err(error)) => return failed(Failure::ConfirmLost(Arc::new(error)), true),
        Ok(Ok(c)) => c,
    };
    metrics
        .confirm_seconds
        .observe(started.elapsed().as_secs_f64());
    let returned_id = |ret: &lapin::message::BasicReturnMessage| {
        ret.properties
            .message_id()
            .as_ref()
            .map(|id| id.to_string())
            .into_iter()
            .collect()
    };
    match confirmation {
        Confirmation::Ack(None) => Answer {
            delivery: PublishOutcome::Confirmed,
            returned: Vec::new(),
            resolved: true,
        },
        Confirmation::Ack(Some(ret)) => Answer {
            // The return names its message; attribution goes by that id.
            delivery: PublishOutcome::Confirmed,
            returned: returned_id(&ret),
            resolved: true,
        },
        Confirmation::Nack(ret) => Answer {
            delivery: PublishOutcome::Failed(Failure::Nacked),
            returned: ret.as_ref().map(returned_id).unwrap_or_default(),
            resolved: true,
        },
        Confirmation::NotRequested => failed(Failure::NotInConfirmMode, true),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_properties_fit_amqp_short_strings() {
        for constant in [wire::CONTENT_TYPE, wire::MESSAGE_TYPE, wire::APP_ID] {
            assert!(short(constant).is_ok(), "{constant}");
        }
        assert_eq!(COMMON_PROPERTIES.delivery_mode(), &Some(2));
        assert_eq!(NOVA_PROPERTIES.delivery_mode(), &Some(2));
        assert_eq!(
            NOVA_PROPERTIES
                .content_encoding()
                .as_ref()
                .map(|e| e.as_str()),
            Some("utf-8")
        );
    }
}
