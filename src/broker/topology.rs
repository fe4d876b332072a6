//! The broker topology: the one place where exchange, routing-key and queue
//! names are built and where queue arguments are chosen. The dispatcher, the
//! agent and load all go through here, so their names cannot drift apart.

use lapin::types::{AMQPValue, FieldTable, LongString};
use serde::{Deserialize, Serialize};

use super::config::{AmqpConfig, QueueSettings};
use crate::model::HostName;

/// Names derived from `[amqp]`.
#[derive(Debug, Clone)]
pub struct Topology {
    exchange: String,
    routing_prefix: String,
    queue_prefix: String,
}

impl Topology {
    pub fn new(amqp: &AmqpConfig) -> Self {
        Self {
            exchange: amqp.exchange.clone(),
            routing_prefix: amqp.routing_prefix.clone(),
            queue_prefix: amqp.queue_prefix.clone(),
        }
    }

    /// The durable topic exchange events are published to.
    pub fn exchange(&self) -> &str {
        &self.exchange
    }

    /// `<routing_prefix>.<host>`
    pub fn routing_key(&self, host: &HostName) -> String {
        format!("{}.{}", self.routing_prefix, host)
    }

    /// `<queue_prefix>.<host>`
    pub fn queue(&self, host: &HostName) -> String {
        format!("{}.{}", self.queue_prefix, host)
    }

    /// The queue that collects dead-lettered messages of `dlx`.
    pub fn dead_letter_queue(dlx: &str) -> String {
        format!("{dlx}.queue")
    }
}

/// The kind of queue a host queue is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueueType {
    Classic,
    Quorum,
}

impl QueueType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Classic => "classic",
            Self::Quorum => "quorum",
        }
    }
}

/// `x-` arguments of a host queue.
pub fn host_queue_arguments(queue: &QueueSettings) -> FieldTable {
    let mut args = FieldTable::default();
    // LongString, never ShortString: RabbitMQ rejects AMQP's internal short-string tag.
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(LongString::from(queue.queue_type.as_str())),
    );
    if let Some(ttl) = queue.message_ttl {
        let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(millis));
    }
    if let Some(dlx) = &queue.dead_letter_exchange {
        args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(LongString::from(dlx.as_str())),
        );
    }
    if queue.queue_type == QueueType::Quorum {
        // Bound redeliveries of a message that keeps failing; then it dead-letters.
        args.insert("x-delivery-limit".into(), AMQPValue::LongInt(20));
    }
    args
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn names_follow_the_contract() {
        let t = Topology::new(&AmqpConfig::default());
        let h = HostName::parse("compute-1").unwrap();
        assert_eq!(t.exchange(), "herald");
        assert_eq!(t.routing_key(&h), "events.compute-1");
        assert_eq!(t.queue(&h), "herald.events.compute-1");
    }

    #[test]
    fn queue_arguments_follow_the_queue_settings() {
        let mut settings = QueueSettings::default();
        let args = host_queue_arguments(&settings);
        assert_eq!(args.inner().len(), 1);
        settings.queue_type = QueueType::Quorum;
        settings.message_ttl = Some(Duration::from_secs(600));
        settings.dead_letter_exchange = Some("dlx".into());
        let args = host_queue_arguments(&settings);
        let keys: Vec<_> = args.inner().keys().map(|k| k.as_str().to_owned()).collect();
        assert!(keys.contains(&"x-message-ttl".to_owned()));
        assert!(keys.contains(&"x-dead-letter-exchange".to_owned()));
        assert!(keys.contains(&"x-delivery-limit".to_owned()));
    }
}
