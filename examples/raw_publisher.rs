//! The broker's own limit, for `bench/run.sh` to compare herald against: a
//! minimal lapin publisher with confirms, persistent and mandatory, sending
//! herald's v1 body (one event per message) round-robin to HOSTS host queues
//! declared exactly as an agent declares them, with IN_FLIGHT confirms
//! outstanding, for SECONDS. Prints one JSON line (events/s, confirm
//! latency percentiles), then deletes what it declared. Local broker only.
//! With RATE, an open loop instead: one message every 1/RATE s, whatever is
//! in flight (up to 10,000), for the confirm latency at a given rate.
//! With `--consume`, the queues are also consumed while publishing, the way
//! `herald load` consumes herald's (its own connection, one channel,
//! prefetch 256, every delivery acked), so the broker does the same work per
//! message on both sides; the run ends once every confirmed message came back
//! (or 30 s after the last publish), its events/s counted up to then, and
//! `consumed` says how many did.
//!
//! `raw_publisher [--consume] SECONDS HOSTS IN_FLIGHT [classic|quorum] [AMQP_URL] [RATE]`

#![allow(clippy::unwrap_used)] // a measuring tool: a failed unwrap is its error message

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use herald::broker::{QueueType, Topology};
use herald::config::Config;
use herald::model::{EventName, EventStatus, HostName, ServerId};
use herald::support::timestamp::now_rfc3339;
use herald::wire::{Message, WireEvent};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeleteOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let all: Vec<String> = std::env::args().collect();
    let consume = all.iter().any(|a| a == "--consume");
    let args: Vec<String> = all.into_iter().filter(|a| a != "--consume").collect();
    let arg = |i: usize, default: u64| args.get(i).map_or(Ok(default), |s| s.parse::<u64>());
    let seconds = arg(1, 10)?.clamp(1, 600);
    let hosts = arg(2, 10)?.clamp(1, 1000) as usize;
    let in_flight = arg(3, 64)?.clamp(1, 10_000) as usize;
    let quorum = args.get(4).is_some_and(|t| t == "quorum");
    let url = args
        .get(5)
        .cloned()
        .unwrap_or_else(|| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    let rate = match args.get(6) {
        Some(text) => Some(text.parse::<f64>()?.clamp(1.0, 1_000_000.0)),
        None => None,
    };
    let in_flight = if rate.is_some() { 10_000 } else { in_flight };

    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut config = Config::default();
    config.amqp.exchange = format!("bench-raw-{id}");
    config.amqp.queue_prefix = format!("bench-raw-{id}.q");
    if quorum {
        config.queue.queue_type = QueueType::Quorum;
    }
    let topology = Topology::new(&config.amqp);
    let hosts: Vec<HostName> = (0..hosts)
        .map(|i| HostName::parse(&format!("raw-{i}")).unwrap())
        .collect();
    let conn = Connection::connect(&url, ConnectionProperties::default()).await?;
    let channel = conn.create_channel().await?;
    for host in &hosts {
        herald::broker::declare_topology(&channel, &topology, &config.queue, host).await?;
    }
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let consumer = if consume {
        let queues: Vec<String> = hosts.iter().map(|h| topology.queue(h)).collect();
        Some(Consumers::start(&url, &queues).await?)
    } else {
        None
    };

    let mut confirm_us = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
    let started = Instant::now();
    let until = started + Duration::from_secs(seconds);
    let mut pending = FuturesUnordered::new();
    let (mut sent, mut acked) = (0u64, 0u64);
    // The instant message `n` is due in the open loop.
    let due = |n: u64| rate.map(|r| started + Duration::from_secs_f64(n as f64 / r));
    loop {
        while pending.len() < in_flight
            && Instant::now() < until
            && due(sent).is_none_or(|at| at <= Instant::now())
        {
            let host = &hosts[sent as usize % hosts.len()];
            let body = message(host).encode();
            let confirm = channel
                .basic_publish(
                    topology.exchange().into(),
                    topology.routing_key(host).as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        immediate: false,
                    },
                    &body,
                    BasicProperties::default()
                        .with_delivery_mode(2)
                        .with_content_type("application/json".into()),
                )
                .await?;
            let at = Instant::now();
            pending.push(async move { (confirm.await, at) });
            sent += 1;
        }
        let sending = Instant::now() < until;
        if !sending && pending.is_empty() {
            break;
        }
        let next_due = due(sent).filter(|_| sending);
        tokio::select! {
            Some((confirmed, at)) = pending.next(), if !pending.is_empty() => {
                anyhow::ensure!(confirmed?.is_ack(), "the broker refused a message");
                confirm_us.saturating_record(at.elapsed().as_micros() as u64);
                acked += 1;
            }
            () = tokio::time::sleep_until(next_due.unwrap_or(until).into()), if next_due.is_some() => {}
        }
    }
    let consumed = match &consumer {
        Some(c) => Some(c.wait_for(acked, Duration::from_secs(30)).await),
        None => None,
    };
    let secs = started.elapsed().as_secs_f64();
    let ms = |q: f64| confirm_us.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{}",
        serde_json::json!({
            "path": "raw", "hosts": hosts.len(), "in_flight": in_flight, "rate": rate,
            "queue_type": if quorum { "quorum" } else { "classic" },
            "consumed": consumed,
            "seconds": secs, "events": acked, "events_per_sec": acked as f64 / secs,
            "confirm_ms": {"p50": ms(0.5), "p90": ms(0.9), "p99": ms(0.99), "max": ms(1.0)},
        })
    );
    for host in &hosts {
        let _ = channel
            .queue_delete(
                topology.queue(host).as_str().into(),
                QueueDeleteOptions::default(),
            )
            .await;
    }
    let _ = channel
        .exchange_delete(topology.exchange().into(), ExchangeDeleteOptions::default())
        .await;
    let _ = conn.close(200, "bye".into()).await;
    if let Some(c) = consumer {
        c.stop().await;
    }
    Ok(())
}

/// Consumers of every host queue on one channel of their own connection,
/// acking each delivery, as `herald load`'s are.
struct Consumers {
    conn: Connection,
    count: tokio::sync::watch::Receiver<u64>,
    tasks: tokio::task::JoinSet<()>,
}

impl Consumers {
    async fn start(url: &str, queues: &[String]) -> anyhow::Result<Self> {
        let conn = Connection::connect(url, ConnectionProperties::default()).await?;
        let channel = conn.create_channel().await?;
        channel.basic_qos(256, BasicQosOptions::default()).await?;
        let (tx, count) = tokio::sync::watch::channel(0u64);
        let mut tasks = tokio::task::JoinSet::new();
        for queue in queues {
            let mut consumer = channel
                .basic_consume(
                    queue.as_str().into(),
                    "".into(),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            let tx = tx.clone();
            tasks.spawn(async move {
                while let Some(Ok(delivery)) = consumer.next().await {
                    if delivery
                        .acker
                        .ack(BasicAckOptions::default())
                        .await
                        .is_err()
                    {
                        break;
                    }
                    tx.send_modify(|n| *n += 1);
                }
            });
        }
        Ok(Self { conn, count, tasks })
    }

    /// Waits until `n` deliveries were acked (or `limit` passed); how many were.
    async fn wait_for(&self, n: u64, limit: Duration) -> u64 {
        let mut count = self.count.clone();
        let _ = tokio::time::timeout(limit, count.wait_for(|&c| c >= n)).await;
        *self.count.borrow()
    }

    async fn stop(mut self) {
        let _ = self.conn.close(200, "bye".into()).await;
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

/// herald's v1 body with one event, as serve sends it without coalescing.
fn message(host: &HostName) -> Message {
    Message {
        version: 1,
        message_id: uuid::Uuid::new_v4().to_string(),
        request_id: format!("req-{}", uuid::Uuid::new_v4()),
        global_request_id: None,
        host: host.clone(),
        sent_at: now_rfc3339(),
        events: vec![WireEvent {
            name: EventName::NetworkVifPlugged,
            server_uuid: ServerId::from_uuid(uuid::Uuid::new_v4()),
            status: EventStatus::Completed,
            tag: None,
        }],
    }
}
