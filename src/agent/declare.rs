//! Declares what the agent consumes from: the events exchange, the host's
//! queue bound to it with the host's routing key, and, when configured, the
//! dead-letter exchange (fanout) with its queue. Names and queue arguments
//! come from [`Topology`]; redeclaring with the same settings is harmless.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{Channel, ExchangeKind};

use crate::config::AgentConfig;
use crate::dispatch::topology::{self, DeclareError, Topology, short};
use crate::model::HostName;

/// Declares the whole agent topology for `host`; returns the queue to consume.
pub async fn declare_topology(
    channel: &Channel,
    topology: &Topology,
    agent: &AgentConfig,
    host: &HostName,
) -> Result<String, DeclareError> {
    topology::declare_exchange(channel, topology).await?;
    if let Some(dlx) = &agent.dead_letter_exchange {
        declare_dead_letter(channel, dlx).await?;
    }
    let queue = topology.queue(host);
    declare_queue(channel, &queue, topology::host_queue_arguments(agent)).await?;
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
