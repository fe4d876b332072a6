//! Consuming the host queues for a run: one consumer per queue on load's own
//! connection, explicit acks, and a count of the events that arrived with
//! their end-to-end latency from the message's `sent_at`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::StreamExt;
use hdrhistogram::Histogram;
use lapin::Channel;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions};
use lapin::types::FieldTable;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::LoadError;
use super::report::{self, BrokerReport, Percentiles};
use super::verify::{broker, name};
use crate::broker::Topology;
use crate::model::HostName;

/// The running consumers and what they counted.
pub struct Consumers {
    stop: CancellationToken,
    tasks: JoinSet<Histogram<u64>>,
    /// Events delivered so far.
    pub delivered: watch::Receiver<u64>,
    counts: Arc<Counts>,
}

#[derive(Default)]
struct Counts {
    messages: AtomicU64,
    undecodable: AtomicU64,
}

impl Consumers {
    /// Consumes the queue of every host in `hosts`, `prefetch` unacked deliveries each.
    pub async fn start(
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

    /// Stops consuming and summarises what arrived.
    pub async fn stop(mut self, accepted: u64) -> BrokerReport {
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
        match crate::wire::decode(&delivery.data) {
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
