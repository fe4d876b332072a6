//! Measures `herald agent` throughput: fills a fresh queue on the local broker
//! (127.0.0.1:5672 only) with N messages of E events, starts the agent binary,
//! counts its stdout lines until every event is out, reports messages/s,
//! events/s and peak RSS, then stops the agent and deletes what it declared.
//!
//! `cargo run --release --example agent_throughput -- target/release/herald [N] [E]`

#![allow(clippy::unwrap_used)] // a measuring tool: a failed unwrap is its error message

use std::time::Instant;

use futures_util::future::join_all;
use herald::broker::Topology;
use herald::config::Config;
use herald::model::{EventName, EventStatus, HostName, ServerId};
use herald::support::timestamp::now_rfc3339;
use herald::wire::{Message, WireEvent};
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeleteOptions, QueueDeleteOptions,
};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use tokio::io::AsyncReadExt;

const URL: &str = "amqp://guest:guest@127.0.0.1:5672/%2f";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let agent = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "target/release/herald".into());
    let messages: usize = args
        .get(2)
        .map_or(Ok(100_000), |s| s.parse())?
        .min(1_000_000);
    let events: usize = args.get(3).map_or(Ok(10), |s| s.parse())?.min(100);

    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut config = Config::default();
    config.amqp.url = URL.into();
    config.amqp.exchange = format!("bench-{id}");
    config.amqp.queue_prefix = format!("bench-{id}.q");
    let host = HostName::parse("bench")?;
    let topology = Topology::new(&config.amqp);
    let conn = Connection::connect(URL, ConnectionProperties::default()).await?;
    let channel = conn.create_channel().await?;
    herald::broker::declare_topology(&channel, &topology, &config.queue, &host).await?;
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await?;

    let result = measure(&channel, &config, &host, &agent, messages, events).await;
    let _ = channel
        .queue_delete(
            topology.queue(&host).as_str().into(),
            QueueDeleteOptions::default(),
        )
        .await;
    let _ = channel
        .exchange_delete(topology.exchange().into(), ExchangeDeleteOptions::default())
        .await;
    let _ = conn.close(200, "bye".into()).await;
    result
}

async fn measure(
    channel: &lapin::Channel,
    config: &Config,
    host: &HostName,
    agent: &str,
    messages: usize,
    events: usize,
) -> anyhow::Result<()> {
    let topology = Topology::new(&config.amqp);
    let started = Instant::now();
    for chunk in 0..messages.div_ceil(1000) {
        let mut confirms = Vec::new();
        for _ in 0..1000.min(messages - chunk * 1000) {
            let body = message(host, events).encode();
            let confirm = channel
                .basic_publish(
                    topology.exchange().into(),
                    topology.routing_key(host).as_str().into(),
                    BasicPublishOptions {
                        mandatory: true,
                        immediate: false,
                    },
                    &body,
                    BasicProperties::default().with_delivery_mode(2),
                )
                .await?;
            confirms.push(confirm);
        }
        for confirmed in join_all(confirms).await {
            anyhow::ensure!(confirmed?.is_ack(), "the broker refused a message");
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "filled {messages} messages x {events} events in {secs:.1}s ({:.0} msg/s)",
        messages as f64 / secs
    );

    let dir = tempfile::tempdir()?;
    let path = dir.path().join("herald.toml");
    let a = &config.amqp;
    std::fs::write(
        &path,
        format!(
            "[auth]\nmode = \"noauth\"\n[amqp]\nurl = \"{}\"\nexchange = \"{}\"\nqueue_prefix = \"{}\"\n[agent]\nwaiter_listen = \"127.0.0.1:0\"\n[log]\nlevel = \"warn\"\n",
            a.url.node_urls()[0],
            a.exchange,
            a.queue_prefix
        ),
    )?;
    let started = Instant::now();
    let mut child = tokio::process::Command::new(agent)
        .args(["agent", "--config"])
        .arg(&path)
        .args(["--host", host.as_str()])
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let pid = child
        .id()
        .ok_or_else(|| anyhow::anyhow!("the agent exited at once"))?;
    let mut stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("no stdout"))?;
    let (mut lines, want) = (0_usize, messages * events);
    let mut buf = vec![0_u8; 1 << 16];
    while lines < want {
        let n = stdout.read(&mut buf).await?;
        anyhow::ensure!(n > 0, "the agent closed stdout after {lines} lines");
        lines += buf[..n].iter().filter(|b| **b == b'\n').count();
    }
    let secs = started.elapsed().as_secs_f64();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rss: Vec<&str> = status
        .lines()
        .filter(|l| l.starts_with("VmHWM") || l.starts_with("VmRSS"))
        .collect();
    println!(
        "agent handed on {messages} messages / {want} events in {secs:.2}s: {:.0} msg/s, {:.0} events/s; {}",
        messages as f64 / secs,
        want as f64 / secs,
        rss.join(", ")
    );
    tokio::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .await?;
    tokio::spawn(async move { tokio::io::copy(&mut stdout, &mut tokio::io::sink()).await });
    let status = child.wait().await?;
    println!("agent exit status after SIGTERM: {status}");
    Ok(())
}

fn message(host: &HostName, events: usize) -> Message {
    let server = ServerId::from_uuid(uuid::Uuid::new_v4());
    let event = |i: usize| WireEvent {
        name: EventName::NetworkVifPlugged,
        server_uuid: server,
        status: EventStatus::Completed,
        tag: Some(format!("port-{i}")),
    };
    Message {
        version: 1,
        message_id: uuid::Uuid::new_v4().to_string(),
        request_id: format!("req-{}", uuid::Uuid::new_v4()),
        global_request_id: None,
        host: host.clone(),
        sent_at: now_rfc3339(),
        events: (0..events).map(event).collect(),
    }
}
