//! The machine's RabbitMQ as the tests use it: a connection, a host's queue
//! declared and bound as an agent would, draining a queue with a deadline,
//! a queue's depth, rabbitmqctl, and [`BrokerCleanup`], the one clean-up of
//! what a test declared there.

use std::cell::RefCell;
use std::time::Duration;

use herald::broker::Topology;
use herald::model::HostName;
use lapin::options::{
    BasicGetOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ConnectionProperties};

use super::{BROKER, poll_for};

/// A connection to the machine's broker.
pub async fn broker() -> Connection {
    Connection::connect(BROKER, ConnectionProperties::default())
        .await
        .expect("the test broker at 127.0.0.1:5672 answers (scripts/test.sh starts it)")
}

/// Declares `host`'s queue on `conn` (`durable`, with `arguments`) and binds
/// it to the topology's exchange, which must exist (serve declares it once
/// connected). Returns the queue's name.
pub async fn bind_queue(
    conn: &Connection,
    topology: &Topology,
    host: &str,
    durable: bool,
    arguments: FieldTable,
) -> String {
    let host = HostName::parse(host).expect("a valid host name");
    let queue = topology.queue(&host);
    let channel = conn.create_channel().await.expect("a channel");
    // Not exclusive, not auto-delete: serve publishes from another
    // connection, and the test deletes the queue itself.
    let options = QueueDeclareOptions {
        durable,
        auto_delete: false,
        ..Default::default()
    };
    channel
        .queue_declare(queue.as_str().into(), options, arguments)
        .await
        .expect("the queue declares");
    channel
        .queue_bind(
            queue.as_str().into(),
            topology.exchange().into(),
            topology.routing_key(&host).as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("the queue binds (the exchange exists once serve connected)");
    let _ = channel.close(200, "bound".into()).await;
    queue
}

/// Takes every message now in `queue` on the machine's broker (basic.get
/// until empty), waiting up to a deadline for at least `at_least` of them.
pub async fn drain(queue: &str, at_least: usize) -> Vec<lapin::message::Delivery> {
    let conn = broker().await;
    let got = drain_on(&conn, queue, at_least).await;
    let _ = conn.close(200, "drained".into()).await;
    got
}

/// [`drain`] on `conn` (a broker of the test's own, say).
pub async fn drain_on(
    conn: &Connection,
    queue: &str,
    at_least: usize,
) -> Vec<lapin::message::Delivery> {
    let channel = conn.create_channel().await.expect("a channel");
    let got = RefCell::new(Vec::new());
    let what = format!("{at_least} messages are in {queue}");
    poll_for(&what, Duration::from_secs(10), || async {
        while let Some(message) = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
        {
            got.borrow_mut().push(message.delivery);
        }
        (got.borrow().len() >= at_least).then_some(())
    })
    .await;
    let _ = channel.close(200, "drained".into()).await;
    got.into_inner()
}

/// `queue` as the broker has it now (a passive declare: its ready messages
/// and consumers), `None` when there is no such queue.
pub async fn queue_now(conn: &Connection, queue: &str) -> Option<lapin::Queue> {
    // A missing queue closes the channel: ask on a fresh one each time.
    let channel = conn.create_channel().await.ok()?;
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let found = channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .ok()?;
    let _ = channel.close(200, "probed".into()).await;
    Some(found)
}

/// Ready messages in `queue`, `None` when there is no such queue.
pub async fn queue_depth(conn: &Connection, queue: &str) -> Option<u32> {
    queue_now(conn, queue).await.map(|q| q.message_count())
}

/// `rabbitmqctl -q args…` against the machine's broker (listings, and our
/// own connections only); its stdout.
pub async fn rabbitmqctl(args: &[&str]) -> String {
    let out = tokio::process::Command::new("rabbitmqctl")
        .arg("-q")
        .args(args)
        .output()
        .await
        .expect("rabbitmqctl runs");
    assert!(out.status.success(), "rabbitmqctl {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Queues and exchanges a test declared on the machine's broker, deleted by
/// [`clean`](Self::clean) or, when the test panicked first, on drop.
#[derive(Debug, Default)]
pub struct BrokerCleanup {
    queues: Vec<String>,
    exchanges: Vec<String>,
}

impl BrokerCleanup {
    /// Deletes `exchange` (and whatever [`queue`](Self::queue) adds) at the end.
    pub fn exchange(exchange: &str) -> Self {
        Self {
            queues: Vec::new(),
            exchanges: vec![exchange.to_owned()],
        }
    }

    /// Deletes `queue` too.
    pub fn queue(&mut self, queue: &str) {
        self.queues.push(queue.to_owned());
    }

    /// Deletes another exchange too.
    pub fn also_exchange(&mut self, exchange: &str) {
        self.exchanges.push(exchange.to_owned());
    }

    /// Deletes every queue, then every exchange; a broker that is down has
    /// nothing of the test's left to delete.
    pub async fn clean(&mut self) {
        let (queues, exchanges) = (
            std::mem::take(&mut self.queues),
            std::mem::take(&mut self.exchanges),
        );
        let Ok(conn) = Connection::connect(BROKER, ConnectionProperties::default()).await else {
            return;
        };
        for queue in queues {
            if let Ok(channel) = conn.create_channel().await {
                let _ = channel
                    .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                    .await;
            }
        }
        for exchange in exchanges {
            if let Ok(channel) = conn.create_channel().await {
                let _ = channel
                    .exchange_delete(exchange.as_str().into(), ExchangeDeleteOptions::default())
                    .await;
            }
        }
        let _ = conn.close(200, "test cleanup".into()).await;
    }
}

impl Drop for BrokerCleanup {
    fn drop(&mut self) {
        if self.queues.is_empty() && self.exchanges.is_empty() {
            return;
        }
        let mut left = std::mem::take(self);
        // Drop cannot await, and may run inside a runtime that is unwinding:
        // clean up on a thread with a runtime of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the clean-up");
            runtime.block_on(left.clean());
        })
        .join();
    }
}
