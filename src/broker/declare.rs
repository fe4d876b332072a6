//! Declarations: the events exchange (serve, agent and load alike), the
//! host's queue bound to it with the host's routing key, and, when
//! configured, the dead-letter exchange (fanout) with its queue. Names and
//! queue arguments come from [`Topology`]; redeclaring the same is harmless.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, ExchangeKind};

use super::config::QueueSettings;
use super::names::{NameTooLong, short};
use super::topology::{self, Topology};
use crate::model::HostName;

/// Declares the whole agent topology for `host`; returns the queue to consume.
pub async fn declare_topology(
    channel: &Channel,
    topology: &Topology,
    settings: &QueueSettings,
    host: &HostName,
) -> Result<String, DeclareError> {
    declare_exchange(channel, topology).await?;
    if let Some(dlx) = &settings.dead_letter_exchange {
        declare_dead_letter(channel, dlx).await?;
    }
    let queue = topology.queue(host);
    declare_queue(channel, &queue, topology::host_queue_arguments(settings)).await?;
    let routing_key = topology.routing_key(host);
    channel
        .queue_bind(
            short(&queue)?,
            short(topology.exchange())?,
            short(&routing_key)?,
            QueueBindOptions { nowait: false },
            FieldTable::default(),
        )
        .await
        .map_err(|source| DeclareError::broker("binding of queue", &queue, source))?;
    Ok(queue)
}

/// The dead-letter exchange (fanout: dead letters keep their routing key,
/// which no binding of ours would match) and `<dlx>.queue` bound to it.
async fn declare_dead_letter(channel: &Channel, dlx: &str) -> Result<(), DeclareError> {
    let options = ExchangeDeclareOptions {
        passive: false,
        durable: true, // dead letters are kept for an operator to look at
        auto_delete: false,
        internal: false,
        nowait: false,
    };
    channel
        .exchange_declare(
            short(dlx)?,
            ExchangeKind::Fanout,
            options,
            FieldTable::default(),
        )
        .await
        .map_err(|source| DeclareError::broker("exchange", dlx, source))?;
    let queue = Topology::dead_letter_queue(dlx);
    declare_queue(channel, &queue, FieldTable::default()).await?;
    channel
        .queue_bind(
            short(&queue)?,
            short(dlx)?,
            short("")?,
            QueueBindOptions { nowait: false },
            FieldTable::default(),
        )
        .await
        .map_err(|source| DeclareError::broker("binding of queue", &queue, source))
}

async fn declare_queue(
    channel: &Channel,
    queue: &str,
    arguments: FieldTable,
) -> Result<(), DeclareError> {
    let options = QueueDeclareOptions {
        passive: false,
        durable: true,    // events survive a broker restart (quorum queues require it)
        exclusive: false, // several agents of a host may share it, and it outlives us
        auto_delete: false, // messages wait while no agent runs
        nowait: false,    // wait for declare-ok so a 406 surfaces here
    };
    channel
        .queue_declare(short(queue)?, options, arguments)
        .await
        .map(drop)
        .map_err(|source| DeclareError::broker("queue", queue, source))
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

/// Checks that someone else's exchange exists (Nova's `control_exchange`)
/// without declaring it: a passive declare changes nothing, and a missing
/// exchange is a 404 that closes only this channel.
pub async fn check_exchange_exists(channel: &Channel, exchange: &str) -> Result<(), DeclareError> {
    let options = ExchangeDeclareOptions {
        passive: true, // only ask: the exchange and its settings are Nova's
        durable: false,
        auto_delete: false,
        internal: false,
        nowait: false, // wait for the answer: a 404 must surface here
    };
    channel
        .exchange_declare(
            short(exchange)?,
            ExchangeKind::Topic,
            options,
            FieldTable::default(),
        )
        .await
        .map(drop)
        .map_err(|source| DeclareError::Missing {
            name: exchange.to_owned(),
            source,
        })
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
    /// A passive check found no such exchange (or could not ask).
    #[error("exchange {name:?} is not on the broker (herald never declares it)")]
    Missing {
        name: String,
        #[source]
        source: lapin::Error,
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

    /// Whether retrying cannot help (a mismatch or a bad name). A missing
    /// exchange may appear: its owner declares it when it starts.
    pub fn is_permanent(&self) -> bool {
        !matches!(self, Self::Broker { .. } | Self::Missing { .. })
    }
}

/// The argument RabbitMQ names in a 406 reply such as
/// `PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'q' ...`.
fn mismatched_argument(reply: &str) -> Option<&str> {
    let rest = reply.split_once("inequivalent arg '")?.1;
    Some(rest.split_once('\'')?.0)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
