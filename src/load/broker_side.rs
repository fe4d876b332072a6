//! Set-up and tear-down of a run on the broker: declares the host queues
//! (unless agents own them), has [`super::consume`] count what arrives on
//! them, and removes the queues it created, and only those, at the end. A
//! broker gone at the end is a problem the report names, not a lost report.
//!
//! The host queues are herald's (`<queue_prefix>.<host>` on `amqp.exchange`,
//! declared as agents declare them) or, for Nova's wire, nova-compute's:
//! `compute.<host>` and `compute-alt.<host>` bound with those routing keys
//! on Nova's exchange, all declared as oslo.messaging declares them (topic
//! exchange and queues neither durable nor auto-deleted), as nova-compute
//! would; nova-api and herald in Nova mode each pick one of the two topics.

use std::time::Duration;

use lapin::options::{
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ExchangeKind};

use super::LoadError;
use super::broker_error::{broker, name};
use super::consume::Consumers;
use super::envelope::Reader;
use super::ledger::{self, Answered};
use super::report::BrokerReport;
use crate::broker::{self, AmqpConfig, QueueSettings, Topology};
use crate::model::HostName;
use crate::support::error_chain::error_chain;

/// What load does on the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerRole {
    /// Agents own the host queues: only check that the broker answers.
    Agents,
    /// Declare the host queues so events are routable; do not consume.
    Declare,
    /// Declare and consume the host queues, and verify delivery.
    Consume { prefetch: u16 },
}

/// Whose host queues carry the run's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Queues {
    /// herald's, on `amqp.exchange`.
    Herald,
    /// nova-compute's compute topics, on Nova's exchange `exchange`.
    Nova { exchange: String },
}

/// The topics nova-compute consumes (`<topic>.<host>`), both of them.
pub const NOVA_TOPICS: [&str; 2] = ["compute", "compute-alt"];

impl Queues {
    /// How their bodies are read.
    pub fn reader(&self) -> Reader {
        match self {
            Self::Herald => Reader::Herald,
            Self::Nova { .. } => Reader::Nova,
        }
    }
}

/// The broker connection and what load set up on it.
pub struct BrokerSide {
    amqp: AmqpConfig,
    connection: Connection,
    /// Queues this run created (pre-existing ones are left alone at the end).
    created: Vec<String>,
    consumers: Option<Consumers>,
}

impl BrokerSide {
    /// Connects and sets up the host queues of `hosts` for `role`.
    pub async fn start(
        amqp: &AmqpConfig,
        queue: &QueueSettings,
        queues: &Queues,
        hosts: &[HostName],
        role: BrokerRole,
    ) -> Result<Self, LoadError> {
        let connection = broker::connect::connect(amqp, "herald-load").await?.conn;
        let mut side = Self {
            amqp: amqp.clone(),
            connection,
            created: Vec::new(),
            consumers: None,
        };
        if let Err(error) = side.set_up(amqp, queue, queues, hosts, role).await {
            // Leave nothing behind: delete what was declared before the failure.
            if let Err(cleanup) = side.delete_created().await {
                tracing::warn!(error = %error_chain(&cleanup), "cannot delete the queues declared so far");
            }
            return Err(error);
        }
        Ok(side)
    }

    async fn set_up(
        &mut self,
        amqp: &AmqpConfig,
        queue: &QueueSettings,
        queues: &Queues,
        hosts: &[HostName],
        role: BrokerRole,
    ) -> Result<(), LoadError> {
        if role == BrokerRole::Agents {
            return Ok(());
        }
        let channel = self.channel().await?;
        let mut names = Vec::new();
        match queues {
            Queues::Herald => {
                let topology = Topology::new(amqp);
                broker::declare_exchange(&channel, &topology).await?;
                for host in hosts {
                    self.declare_queue(&channel, &topology, queue, host).await?;
                    names.push(topology.queue(host));
                }
            }
            Queues::Nova { exchange } => {
                declare_oslo_exchange(&channel, exchange).await?;
                for host in hosts {
                    for topic in NOVA_TOPICS {
                        let name = format!("{topic}.{host}");
                        self.declare_compute_queue(&channel, exchange, &name)
                            .await?;
                        names.push(name);
                    }
                }
            }
        }
        if let BrokerRole::Consume { prefetch } = role {
            let consumers = Consumers::start(amqp, names, prefetch, queues.reader()).await?;
            self.consumers = Some(consumers);
        }
        Ok(())
    }

    /// A compute topic's queue, bound with its own name as the routing key.
    async fn declare_compute_queue(
        &mut self,
        channel: &Channel,
        exchange: &str,
        queue: &str,
    ) -> Result<(), LoadError> {
        if self.queue_exists(queue).await? {
            tracing::warn!(
                queue,
                "compute queue exists already; a nova-compute may take events from it"
            );
        } else {
            self.created.push(queue.to_owned());
        }
        channel
            .queue_declare(name(queue)?, oslo_queue(), FieldTable::default())
            .await
            .map_err(broker(format!("declaring queue {queue}")))?;
        channel
            .queue_bind(
                name(queue)?,
                name(exchange)?,
                name(queue)?,
                QueueBindOptions { nowait: false },
                FieldTable::default(),
            )
            .await
            .map_err(broker(format!("binding queue {queue} to {exchange}")))
    }

    async fn channel(&self) -> Result<Channel, LoadError> {
        self.connection
            .create_channel()
            .await
            .map_err(broker("opening a channel"))
    }

    async fn declare_queue(
        &mut self,
        channel: &Channel,
        topology: &Topology,
        queue: &QueueSettings,
        host: &HostName,
    ) -> Result<(), LoadError> {
        let name = topology.queue(host);
        if self.queue_exists(&name).await? {
            tracing::warn!(queue = %name, "host queue exists already; other consumers may take events from it");
        } else {
            self.created.push(name.clone());
        }
        // Exactly what an agent declares, so one starting later does not clash.
        broker::declare_topology(channel, topology, queue, host).await?;
        Ok(())
    }

    /// A passive declare on a throwaway channel: the broker closes it when the queue is missing.
    async fn queue_exists(&self, queue: &str) -> Result<bool, LoadError> {
        let probe = self.channel().await?;
        let options = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let exists = probe
            .queue_declare(name(queue)?, options, FieldTable::default())
            .await
            .is_ok();
        if exists {
            probe.close(200, "probed".into()).await.ok();
        }
        Ok(exists)
    }

    /// Whether this run verifies delivery.
    pub fn consuming(&self) -> bool {
        self.consumers.is_some()
    }

    /// Waits until every event answered 200 in `answers` has arrived or
    /// `timeout` passed; returns how many are still missing.
    pub async fn drain(&mut self, answers: &[Answered], batch: usize, timeout: Duration) -> u64 {
        let Some(c) = self.consumers.as_mut() else {
            return 0;
        };
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let missing = c.with_arrivals(|a| ledger::missing(answers, batch, a));
            if missing == 0 {
                return 0;
            }
            // Only an arrival can change the answer: wait for the next one.
            let next = tokio::time::timeout_at(deadline, c.delivered.changed()).await;
            if !matches!(next, Ok(Ok(()))) {
                return missing;
            }
        }
    }

    /// Stops consuming, reads the answers against what arrived, deletes the
    /// queues this run created and closes the connection; what could not be
    /// done is in the problems returned beside the report.
    pub async fn finish(
        mut self,
        answers: &[Answered],
        batch: usize,
    ) -> (Option<BrokerReport>, Vec<String>) {
        let report = match self.consumers.take() {
            Some(c) => {
                let (mut report, arrivals) = c.stop().await;
                let fates = ledger::fates(answers, batch, &arrivals);
                report.lost = fates.lost;
                report.answered_503_delivered = fates.answered_503_delivered;
                Some(report)
            }
            None => None,
        };
        let mut problems = Vec::new();
        if let Err(first) = self.delete_created().await {
            // The connection may be gone with a broker that came back: once more on a new one.
            match broker::connect::connect(&self.amqp, "herald-load").await {
                Ok(connected) => {
                    self.connection = connected.conn;
                    if let Err(error) = self.delete_created().await {
                        problems.push(error_chain(&error));
                    }
                }
                Err(error) => problems.push(format!(
                    "{}; then {}",
                    error_chain(&first),
                    error_chain(&error)
                )),
            }
        }
        self.connection
            .close(200, "load run finished".into())
            .await
            .ok();
        (report, problems)
    }

    async fn delete_created(&self) -> Result<(), LoadError> {
        if self.created.is_empty() {
            return Ok(());
        }
        let channel = self.channel().await?;
        for queue in &self.created {
            let options = QueueDeleteOptions {
                if_unused: false,
                if_empty: false,
                nowait: false,
            };
            channel
                .queue_delete(name(queue)?, options)
                .await
                .map_err(broker(format!("deleting queue {queue}")))?;
        }
        Ok(())
    }
}

/// Nova's exchange as oslo.messaging declares it (so an oslo sender or a
/// nova-compute declaring it later does not clash): topic, not durable,
/// not auto-deleted.
async fn declare_oslo_exchange(channel: &Channel, exchange: &str) -> Result<(), LoadError> {
    let options = ExchangeDeclareOptions {
        passive: false,
        durable: false,
        auto_delete: false,
        internal: false,
        nowait: false,
    };
    channel
        .exchange_declare(
            name(exchange)?,
            ExchangeKind::Topic,
            options,
            FieldTable::default(),
        )
        .await
        .map_err(broker(format!("declaring exchange {exchange}")))
}

/// A compute topic's queue as oslo.messaging declares it by default
/// (`amqp_durable_queues` and `amqp_auto_delete` false).
fn oslo_queue() -> QueueDeclareOptions {
    QueueDeclareOptions {
        passive: false,
        durable: false,
        exclusive: false,
        auto_delete: false,
        nowait: false,
    }
}
