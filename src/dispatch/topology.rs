//! The broker topology: the one place where exchange, routing-key and queue
//! names are built and where queue arguments are chosen. The dispatcher and
//! the agent both go through here, so their names cannot drift apart.

use lapin::options::ExchangeDeclareOptions;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};

use crate::config::{AgentConfig, AmqpConfig, QueueType};
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

/// `x-` arguments of a host queue, from `[agent]`.
pub fn host_queue_arguments(agent: &AgentConfig) -> FieldTable {
    let mut args = FieldTable::default();
    // LongString, never ShortString: RabbitMQ rejects AMQP's internal short-string tag.
    args.insert(
        "x-queue-type".into(),
        AMQPValue::LongString(LongString::from(agent.queue_type.as_str())),
    );
    if let Some(ttl) = agent.message_ttl {
        let millis = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        args.insert("x-message-ttl".into(), AMQPValue::LongLongInt(millis));
    }
    if let Some(dlx) = &agent.dead_letter_exchange {
        args.insert(
            "x-dead-letter-exchange".into(),
            AMQPValue::LongString(LongString::from(dlx.as_str())),
        );
    }
    if agent.queue_type == QueueType::Quorum {
        // Bound redeliveries of a message that keeps failing; then it dead-letters.
        args.insert("x-delivery-limit".into(), AMQPValue::LongInt(20));
    }
    args
}

/// How the events exchange is declared, by the dispatcher and by every agent
/// alike: a durable topic exchange. Redeclaring with the same settings is a no-op.
pub async fn declare_exchange(channel: &Channel, topology: &Topology) -> Result<(), DeclareError> {
    let options = ExchangeDeclareOptions {
        passive: false,
        durable: true,      // survives a broker restart, as the queues bound to it do
        auto_delete: false, // stays when the last queue is unbound
        internal: false,    // clients publish to it directly
        nowait: false,      // wait for declare-ok so a mismatch surfaces here
    };
    channel
        .exchange_declare(
            short(topology.exchange())?,
            ExchangeKind::Topic,
            options,
            FieldTable::default(),
        )
        .await
        .map_err(|source| DeclareError::broker("exchange", topology.exchange(), source))
}

/// Why declaring part of the topology failed.
#[derive(Debug, thiserror::Error)]
pub enum DeclareError {
    #[error(transparent)]
    Name(#[from] NameTooLong),
    /// The entity exists with other settings (406 PRECONDITION_FAILED). Not
    /// retried: it needs an operator (or a config change).
    #[error(
        "{kind} {name:?} already exists with a different {argument:?} ({reply}); delete it or change the config to match"
    )]
    Mismatch {
        kind: &'static str,
        name: String,
        argument: String,
        reply: String,
    },
    #[error("cannot declare {kind} {name:?}")]
    Broker {
        kind: &'static str,
        name: String,
        #[source]
        source: lapin::Error,
    },
}

impl DeclareError {
    /// Classifies a broker error of a declare call on `kind` `name`.
    pub fn broker(kind: &'static str, name: &str, source: lapin::Error) -> Self {
        use lapin::protocol::{AMQPErrorKind, AMQPSoftError};
        if let lapin::ErrorKind::ProtocolError(amqp) = source.kind()
            && *amqp.kind() == AMQPErrorKind::Soft(AMQPSoftError::PRECONDITIONFAILED)
        {
            let reply = amqp.get_message().to_string();
            let argument = mismatched_argument(&reply)
                .unwrap_or("arguments")
                .to_owned();
            return Self::Mismatch {
                kind,
                name: name.to_owned(),
                argument,
                reply,
            };
        }
        Self::Broker {
            kind,
            name: name.to_owned(),
            source,
        }
    }

    /// Whether retrying cannot help (a mismatch or a bad name).
    pub fn is_permanent(&self) -> bool {
        !matches!(self, Self::Broker { .. })
    }
}

/// The argument RabbitMQ names in a 406 reply such as
/// `PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'q' ...`.
fn mismatched_argument(reply: &str) -> Option<&str> {
    let rest = reply.split_once("inequivalent arg '")?.1;
    Some(rest.split_once('\'')?.0)
}

/// Converts a name to an AMQP short string without panicking on long input.
pub fn short(name: &str) -> Result<ShortString, NameTooLong> {
    ShortString::try_new(name.to_owned()).map_err(|_| NameTooLong(name.len()))
}

/// A name over AMQP's 255-byte short-string limit.
#[derive(Debug, Clone, thiserror::Error)]
#[error("AMQP name of {0} bytes is over the 255-byte limit")]
pub struct NameTooLong(pub usize);

#[cfg(test)]
mod tests {
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
    fn queue_arguments_follow_the_agent_config() {
        let mut agent = AgentConfig::default();
        let args = host_queue_arguments(&agent);
        assert_eq!(args.inner().len(), 1);
        agent.queue_type = QueueType::Quorum;
        agent.message_ttl = Some(std::time::Duration::from_secs(600));
        agent.dead_letter_exchange = Some("dlx".into());
        let args = host_queue_arguments(&agent);
        let keys: Vec<_> = args.inner().keys().map(|k| k.as_str().to_owned()).collect();
        assert!(keys.contains(&"x-message-ttl".to_owned()));
        assert!(keys.contains(&"x-dead-letter-exchange".to_owned()));
        assert!(keys.contains(&"x-delivery-limit".to_owned()));
    }

    #[test]
    fn mismatch_replies_name_the_argument() {
        let reply = "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'q' in vhost '/': received 'quorum' but current is 'classic'";
        assert_eq!(mismatched_argument(reply), Some("x-queue-type"));
        assert_eq!(
            mismatched_argument("PRECONDITION_FAILED - something else"),
            None
        );
    }

    #[test]
    fn only_a_406_is_a_permanent_mismatch() {
        use lapin::protocol::{AMQPError, AMQPErrorKind, AMQPSoftError};
        let reply = "PRECONDITION_FAILED - inequivalent arg 'durable' for queue 'q' in vhost '/'";
        let soft = |e| {
            lapin::Error::from(lapin::ErrorKind::ProtocolError(AMQPError::new(
                AMQPErrorKind::Soft(e),
                reply.into(),
            )))
        };
        let mismatch = DeclareError::broker("queue", "q", soft(AMQPSoftError::PRECONDITIONFAILED));
        assert!(mismatch.is_permanent());
        let text = mismatch.to_string();
        assert!(text.contains("\"q\"") && text.contains("durable"), "{text}");
        let other = DeclareError::broker("queue", "q", soft(AMQPSoftError::ACCESSREFUSED));
        assert!(!other.is_permanent());
    }

    #[test]
    fn long_names_are_errors_not_panics() {
        assert!(short(&"x".repeat(256)).is_err());
        assert!(short("ok").is_ok());
    }
}
