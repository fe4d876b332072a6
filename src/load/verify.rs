//! The broker side of a run: declares the host queues (unless agents own
//! them), has [`super::consume`] count what arrives on them, and removes the
//! queues it created, and only those, at the end.

use std::time::Duration;

use lapin::options::{QueueDeclareOptions, QueueDeleteOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};

use super::LoadError;
use super::consume::Consumers;
use super::report::BrokerReport;
use crate::broker::{self, Topology};
use crate::config::{AgentConfig, AmqpConfig};
use crate::model::HostName;

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

/// The broker connection and what load set up on it.
pub struct BrokerSide {
    connection: Connection,
    /// Queues this run created (pre-existing ones are left alone at the end).
    created: Vec<String>,
    consumers: Option<Consumers>,
}

pub(super) fn broker(context: impl Into<String>) -> impl FnOnce(lapin::Error) -> LoadError {
    let context = context.into();
    move |source| LoadError::Broker { context, source }
}

pub(super) fn name(text: &str) -> Result<lapin::types::ShortString, LoadError> {
    broker::short(text).map_err(|source| LoadError::Name {
        name: text.to_owned(),
        source,
    })
}

impl BrokerSide {
    /// Connects and sets up the host queues of `hosts` for `role`.
    pub async fn start(
        amqp: &AmqpConfig,
        agent: &AgentConfig,
        hosts: &[HostName],
        role: BrokerRole,
    ) -> Result<Self, LoadError> {
        let connection = broker::connect::connect(amqp, "herald-load").await?.conn;
        let mut side = Self {
            connection,
            created: Vec::new(),
            consumers: None,
        };
        if let Err(error) = side.set_up(amqp, agent, hosts, role).await {
            // Leave nothing behind: delete what was declared before the failure.
            if let Err(cleanup) = side.finish(0).await {
                tracing::warn!(error = %cleanup, "cannot delete the queues declared so far");
            }
            return Err(error);
        }
        Ok(side)
    }

    async fn set_up(
        &mut self,
        amqp: &AmqpConfig,
        agent: &AgentConfig,
        hosts: &[HostName],
        role: BrokerRole,
    ) -> Result<(), LoadError> {
        if role == BrokerRole::Agents {
            return Ok(());
        }
        let topology = Topology::new(amqp);
        let channel = self.channel().await?;
        broker::declare_exchange(&channel, &topology).await?;
        for host in hosts {
            self.declare_queue(&channel, &topology, agent, host).await?;
        }
        if let BrokerRole::Consume { prefetch } = role {
            self.consumers = Some(Consumers::start(&channel, &topology, hosts, prefetch).await?);
        }
        Ok(())
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
        agent: &AgentConfig,
        host: &HostName,
    ) -> Result<(), LoadError> {
        let queue = topology.queue(host);
        if self.queue_exists(&queue).await? {
            tracing::warn!(%queue, "host queue exists already; other consumers may take events from it");
        } else {
            self.created.push(queue.clone());
        }
        // Exactly what an agent declares, so one starting later does not clash.
        broker::declare_topology(channel, topology, &agent.queue_settings(), host).await?;
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

    /// Events delivered so far (0 when not consuming).
    pub fn delivered(&self) -> u64 {
        self.consumers.as_ref().map_or(0, |c| *c.delivered.borrow())
    }

    /// Whether this run verifies delivery.
    pub fn consuming(&self) -> bool {
        self.consumers.is_some()
    }

    /// Waits until `accepted` events have arrived or `timeout` passed; returns the count.
    pub async fn drain(&mut self, accepted: u64, timeout: Duration) -> u64 {
        let Some(c) = self.consumers.as_mut() else {
            return 0;
        };
        let _ = tokio::time::timeout(timeout, c.delivered.wait_for(|d| *d >= accepted)).await;
        *c.delivered.borrow()
    }

    /// Stops consuming, deletes the queues this run created, closes the connection.
    pub async fn finish(mut self, accepted: u64) -> Result<Option<BrokerReport>, LoadError> {
        let report = match self.consumers.take() {
            Some(c) => Some(c.stop(accepted).await),
            None => None,
        };
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
        self.connection
            .close(200, "load run finished".into())
            .await
            .ok();
        Ok(report)
    }
}
