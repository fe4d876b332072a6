//! The broker side of a run: declares the host queues (unless agents own
//! them), consumes them on a connection of its own, counts the events that
//! arrive and how long they took from `sent_at`, and removes the queues it
//! created, and only those, at the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use hdrhistogram::Histogram;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions,
    ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, ConnectionProperties, ExchangeKind};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::LoadError;
use super::report::{self, BrokerReport, Percentiles};
use crate::config::{AgentConfig, AmqpConfig};
use crate::dispatch::topology::{self, Topology};
use crate::model::HostName;
use crate::wire::Message;

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

struct Consumers {
    stop: CancellationToken,
    tasks: JoinSet<Histogram<u64>>,
    delivered: watch::Receiver<u64>,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    messages: AtomicU64,
    undecodable: AtomicU64,
}

fn broker(context: impl Into<String>) -> impl FnOnce(lapin::Error) -> LoadError {
    let context = context.into();
    move |source| LoadError::Broker { context, source }
}

fn name(text: &str) -> Result<lapin::types::ShortString, LoadError> {
    topology::short(text).map_err(|source| LoadError::Name {
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
        let props = ConnectionProperties::default().with_connection_name("herald-load".into());
        let connection = Connection::connect(&amqp.url, props)
            .await
            .map_err(broker(format!(
                "connecting to {}",
                crate::config::mask_url_password(&amqp.url)
            )))?;
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
        declare_exchange(&channel, &topology).await?;
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
        // Durable with the agent's arguments: an agent declaring it later must not clash.
        let options = QueueDeclareOptions {
            passive: false,
            durable: true,
            exclusive: false,
            auto_delete: false,
            nowait: false,
        };
        let args = topology::host_queue_arguments(agent);
        channel
            .queue_declare(name(&queue)?, options, args)
            .await
            .map_err(broker(format!("declaring queue {queue}")))?;
        let key = topology.routing_key(host);
        channel
            .queue_bind(
                name(&queue)?,
                name(topology.exchange())?,
                name(&key)?,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .map_err(broker(format!("binding queue {queue}")))
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

async fn declare_exchange(channel: &Channel, topology: &Topology) -> Result<(), LoadError> {
    // The same declaration as the dispatcher's: durable topic, so either may come first.
    let options = ExchangeDeclareOptions {
        passive: false,
        durable: true,
        auto_delete: false,
        internal: false,
        nowait: false,
    };
    channel
        .exchange_declare(
            name(topology.exchange())?,
            ExchangeKind::Topic,
            options,
            FieldTable::default(),
        )
        .await
        .map_err(broker(format!(
            "declaring exchange {}",
            topology.exchange()
        )))
}

impl Consumers {
    async fn start(
        channel: &Channel,
        topology: &Topology,
        hosts: &[HostName],
        prefetch: u16,
    ) -> Result<Self, LoadError> {
        channel
            .basic_qos(prefetch, BasicQosOptions { global: false })
            .await
            .map_err(broker("setting prefetch"))?;
        let (tx, delivered) = watch::channel(0u64);
        let tx = Arc::new(tx);
        let counts = Arc::new(Counts::default());
        let stop = CancellationToken::new();
        let mut tasks = JoinSet::new();
        for host in hosts {
            let queue = topology.queue(host);
            // no_ack false: every delivery is acked (or rejected) explicitly.
            let options = BasicConsumeOptions {
                no_local: false,
                no_ack: false,
                exclusive: false,
                nowait: false,
            };
            let consumer = channel
                .basic_consume(name(&queue)?, "".into(), options, FieldTable::default())
                .await
                .map_err(broker(format!("consuming queue {queue}")))?;
            tasks.spawn(consume(consumer, stop.clone(), tx.clone(), counts.clone()));
        }
        Ok(Self {
            stop,
            tasks,
            delivered,
            counts,
        })
    }

    async fn stop(mut self, accepted: u64) -> BrokerReport {
        self.stop.cancel();
        let mut e2e = report::histogram();
        while let Some(joined) = self.tasks.join_next().await {
            match joined {
                Ok(h) => e2e
                    .add(&h)
                    .expect("histograms built by report::histogram() have equal bounds"),
                Err(error) => tracing::warn!(%error, "a consumer task failed"),
            }
        }
        let delivered = *self.delivered.borrow();
        BrokerReport {
            delivered,
            messages: self.counts.messages.load(Ordering::Relaxed),
            undecodable: self.counts.undecodable.load(Ordering::Relaxed),
            lost: accepted.saturating_sub(delivered),
            end_to_end_ms: Percentiles::of(&e2e),
        }
    }
}

async fn consume(
    mut consumer: lapin::Consumer,
    stop: CancellationToken,
    delivered: Arc<watch::Sender<u64>>,
    counts: Arc<Counts>,
) -> Histogram<u64> {
    let mut e2e = report::histogram();
    loop {
        let delivery = tokio::select! {
            () = stop.cancelled() => break,
            next = consumer.next() => match next {
                Some(Ok(d)) => d,
                Some(Err(error)) => { tracing::warn!(%error, "consumer failed"); break }
                None => break,
            },
        };
        let received = time::OffsetDateTime::now_utc();
        match Message::decode(&delivery.data) {
            Ok(message) => {
                counts.messages.fetch_add(1, Ordering::Relaxed);
                delivered.send_modify(|d| *d += message.events.len() as u64);
                if let Some(latency) = since(&message.sent_at, received) {
                    report::record(&mut e2e, latency);
                }
                if let Err(error) = delivery
                    .acker
                    .ack(BasicAckOptions { multiple: false })
                    .await
                {
                    tracing::warn!(%error, "ack failed");
                }
            }
            Err(error) => {
                counts.undecodable.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%error, "undecodable message rejected");
                // requeue false: a body we cannot read will not get better.
                delivery
                    .acker
                    .reject(BasicRejectOptions { requeue: false })
                    .await
                    .ok();
            }
        }
    }
    e2e
}

/// How long before `received` an RFC 3339 `sent_at` was; `None` if unreadable.
pub fn since(sent_at: &str, received: time::OffsetDateTime) -> Option<Duration> {
    let sent = time::OffsetDateTime::parse(sent_at, &time::format_description::well_known::Rfc3339)
        .ok()?;
    Some(Duration::try_from(received - sent).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_to_end_latency_reads_the_wire_timestamp() {
        let received = time::macros::datetime!(2026-11-27 10:00:00.250 UTC);
        assert_eq!(
            since("2026-11-27T10:00:00.000Z", received),
            Some(Duration::from_millis(250))
        );
        assert_eq!(
            since(&crate::wire::format_rfc3339(received), received),
            Some(Duration::ZERO)
        );
        // A sender clock slightly ahead is not a negative latency.
        assert_eq!(
            since("2026-11-27T10:00:01.000Z", received),
            Some(Duration::ZERO)
        );
        assert_eq!(since("yesterday", received), None);
    }
}
