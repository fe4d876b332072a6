//! Consuming the host queues for a run, through broker loss: a connection
//! of its own (the first node of `amqp.url` that answers), one consumer per
//! queue, explicit acks; when the connection goes, it connects again at once
//! and then with the reconnect backoff, and consumes every queue again. Each
//! message is read by the run's [`Reader`] (herald's wire or Nova's) and its
//! events recorded by number in the [`Arrivals`], with the end-to-end latency
//! from when the message says it was sent.

use std::convert::Infallible;
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use hdrhistogram::Histogram;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions};
use lapin::types::FieldTable;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::LoadError;
use super::broker_error::{broker, name};
use super::envelope::Reader;
use super::ledger::Arrivals;
use super::report::{self, BrokerReport, Percentiles};
use crate::broker::{AmqpConfig, Backoff, Ended, Reconnect};
use crate::support::error_chain::error_chain;
use crate::support::plain_lock;

/// What the consumers share: arrivals, latencies and counts.
#[derive(Default)]
struct Shared {
    arrivals: Mutex<Arrivals>,
    e2e: Mutex<Option<Histogram<u64>>>,
    messages: AtomicU64,
    undecodable: AtomicU64,
    reconnects: AtomicU64,
}

impl Shared {
    fn arrivals(&self) -> std::sync::MutexGuard<'_, Arrivals> {
        plain_lock::lock(&self.arrivals)
    }
}

/// The running consumers and what they counted.
pub struct Consumers {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    /// Distinct events arrived so far (changes on every arrival).
    pub delivered: watch::Receiver<u64>,
    shared: Arc<Shared>,
}

impl Consumers {
    /// Consumes `queues`, `prefetch` unacked deliveries each, reading them
    /// with `reader`, until stopped; fails only when the first connection
    /// cannot be made.
    pub async fn start(
        amqp: &AmqpConfig,
        queues: Vec<String>,
        prefetch: u16,
        reader: Reader,
    ) -> Result<Self, LoadError> {
        let shared = Arc::new(Shared::default());
        let (tx, delivered) = watch::channel(0u64);
        let stop = CancellationToken::new();
        let how = How { prefetch, reader };
        let first = Session::open(amqp, &queues, how, &stop, &shared, &tx).await?;
        let task = tokio::spawn(supervise(
            first,
            amqp.clone(),
            queues,
            how,
            stop.clone(),
            shared.clone(),
            tx,
        ));
        Ok(Self {
            stop,
            task,
            delivered,
            shared,
        })
    }

    /// Arrivals so far, read under the lock by `read`.
    pub fn with_arrivals<T>(&self, read: impl FnOnce(&Arrivals) -> T) -> T {
        read(&self.shared.arrivals())
    }

    /// Stops consuming and summarises what arrived; `lost` and
    /// `answered_503_delivered` come from the ledger and are left 0 here.
    pub async fn stop(self) -> (BrokerReport, Arrivals) {
        self.stop.cancel();
        if let Err(error) = self.task.await {
            tracing::warn!(error = %error_chain(&error), "the consumer task failed");
        }
        let e2e = plain_lock::lock(&self.shared.e2e)
            .take()
            .unwrap_or_else(report::histogram);
        let arrivals = std::mem::take(&mut *self.shared.arrivals());
        let report = BrokerReport {
            delivered: arrivals.distinct(),
            messages: self.shared.messages.load(Ordering::Relaxed),
            undecodable: self.shared.undecodable.load(Ordering::Relaxed),
            lost: 0,
            duplicates: arrivals.duplicates(),
            answered_503_delivered: 0,
            reconnects: self.shared.reconnects.load(Ordering::Relaxed),
            end_to_end_ms: Percentiles::of(&e2e),
        };
        (report, arrivals)
    }
}

/// How each queue is consumed: the prefetch, and how its bodies are read.
#[derive(Debug, Clone, Copy)]
struct How {
    prefetch: u16,
    reader: Reader,
}

/// One connection's consumers.
struct Session {
    connection: lapin::Connection,
    tasks: JoinSet<()>,
}

impl Session {
    async fn open(
        amqp: &AmqpConfig,
        queues: &[String],
        how: How,
        stop: &CancellationToken,
        shared: &Arc<Shared>,
        delivered: &watch::Sender<u64>,
    ) -> Result<Self, LoadError> {
        let connection = crate::broker::connect::connect(amqp, "herald-load-consumer")
            .await?
            .conn;
        let channel = connection
            .create_channel()
            .await
            .map_err(broker("opening a channel"))?;
        channel
            .basic_qos(how.prefetch, BasicQosOptions { global: false })
            .await
            .map_err(broker("setting prefetch"))?;
        let mut tasks = JoinSet::new();
        for queue in queues {
            // no_ack false: every delivery is acked (or rejected) explicitly.
            let consumer = channel
                .basic_consume(
                    name(queue)?,
                    "".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .map_err(broker(format!("consuming queue {queue}")))?;
            tasks.spawn(consume(
                consumer,
                how.reader,
                stop.clone(),
                shared.clone(),
                delivered.clone(),
            ));
        }
        Ok(Self { connection, tasks })
    }

    /// Runs until stopped (true) or until a consumer ends (false: the
    /// connection or channel is gone).
    async fn run(mut self, stop: &CancellationToken) -> bool {
        tokio::select! {
            () = stop.cancelled() => {}
            _ = self.tasks.join_next() => {}
        }
        let stopped = stop.is_cancelled();
        if stopped {
            while self.tasks.join_next().await.is_some() {}
            self.connection
                .close(200, "load run finished".into())
                .await
                .ok();
        } else {
            self.tasks.abort_all();
        }
        stopped
    }
}

/// Consumes through the broker's one reconnect loop, starting with `first`.
async fn supervise(
    first: Session,
    amqp: AmqpConfig,
    queues: Vec<String>,
    how: How,
    stop: CancellationToken,
    shared: Arc<Shared>,
    delivered: watch::Sender<u64>,
) {
    let backoff = Backoff::new(amqp.reconnect_min_backoff, amqp.reconnect_max_backoff);
    let mut reconnect = Reconnect::new("load's consumers", backoff);
    let mut session = Some(first);
    loop {
        let ended: Ended<_, Infallible> = match session.take() {
            Some(s) => {
                if s.run(&stop).await {
                    return;
                }
                tracing::warn!("load's consumers lost the broker; consuming again");
                shared.reconnects.fetch_add(1, Ordering::Relaxed);
                Ended::Lost
            }
            None => match Session::open(&amqp, &queues, how, &stop, &shared, &delivered).await {
                Ok(s) => {
                    session = Some(s);
                    continue;
                }
                Err(error) => Ended::Failed(error),
            },
        };
        if let ControlFlow::Break(_) = reconnect.after(ended, &stop).await {
            return;
        }
    }
}

async fn consume(
    mut consumer: lapin::Consumer,
    reader: Reader,
    stop: CancellationToken,
    shared: Arc<Shared>,
    delivered: watch::Sender<u64>,
) {
    let mut e2e = report::histogram();
    loop {
        let delivery = tokio::select! {
            () = stop.cancelled() => break,
            next = consumer.next() => match next {
                Some(Ok(d)) => d,
                Some(Err(error)) => { tracing::debug!(error = %error_chain(&error), "consumer ended"); break }
                None => break,
            },
        };
        let received = time::OffsetDateTime::now_utc();
        match reader.read(&delivery.data) {
            Ok(arrival) => {
                shared.messages.fetch_add(1, Ordering::Relaxed);
                let distinct = {
                    let mut arrivals = shared.arrivals();
                    arrivals.record_message(arrival.unique_id, &arrival.events);
                    arrivals.distinct()
                };
                delivered.send_replace(distinct);
                if let Some(sent) = arrival.sent_at {
                    report::record(&mut e2e, since(sent, received));
                }
                if let Err(error) = delivery
                    .acker
                    .ack(BasicAckOptions { multiple: false })
                    .await
                {
                    tracing::debug!(error = %error_chain(&error), "ack failed (the redelivery counts as a duplicate)");
                }
            }
            Err(error) => {
                shared.undecodable.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(error = %error_chain(&error), "undecodable message rejected");
                // requeue false: a body we cannot read will not get better.
                delivery
                    .acker
                    .reject(BasicRejectOptions { requeue: false })
                    .await
                    .ok();
            }
        }
    }
    let mut total = plain_lock::lock(&shared.e2e);
    match total.as_mut() {
        Some(t) => t
            .add(&e2e)
            .expect("histograms built by report::histogram() have equal bounds"),
        None => *total = Some(e2e),
    }
}

/// How long before `received` a message was sent (zero if the sender's
/// clock is ahead).
pub fn since(sent: time::OffsetDateTime, received: time::OffsetDateTime) -> Duration {
    Duration::try_from(received - sent).unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_to_end_latency_is_never_negative() {
        let received = time::macros::datetime!(2026-11-27 10:00:00.250 UTC);
        assert_eq!(
            since(time::macros::datetime!(2026-11-27 10:00:00 UTC), received),
            Duration::from_millis(250)
        );
        // A sender clock slightly ahead is not a negative latency.
        assert_eq!(
            since(time::macros::datetime!(2026-11-27 10:00:01 UTC), received),
            Duration::ZERO
        );
    }
}
