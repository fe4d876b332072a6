//! The machine's RabbitMQ as the tests use it: a connection, the clean-up of
//! what a test declared, and draining a queue with a deadline.

use std::time::Duration;

use lapin::options::{BasicGetOptions, ExchangeDeleteOptions, QueueDeleteOptions};
use lapin::{Connection, ConnectionProperties};

use super::BROKER;

pub async fn broker() -> Connection {
    Connection::connect(BROKER, ConnectionProperties::default())
        .await
        .expect("the test broker at 127.0.0.1:5672 answers (scripts/test.sh starts it)")
}

pub(super) async fn cleanup(exchange: &str, queues: &[String]) {
    let Ok(conn) = Connection::connect(BROKER, ConnectionProperties::default()).await else {
        return;
    };
    if let Ok(channel) = conn.create_channel().await {
        for q in queues {
            let _ = channel
                .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
        let _ = channel
            .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
            .await;
    }
    let _ = conn.close(200, "test cleanup".into()).await;
}

/// Takes every message now in `queue` (basic.get until empty), waiting up to
/// a deadline for at least `at_least` of them.
pub async fn drain(queue: &str, at_least: usize) -> Vec<lapin::message::Delivery> {
    let conn = broker().await;
    let channel = conn.create_channel().await.expect("channel");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    loop {
        match channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .expect("basic.get")
        {
            Some(message) => got.push(message.delivery),
            None if got.len() >= at_least => break,
            None => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "only {} of {at_least} messages in {queue}",
                    got.len()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
    let _ = conn.close(200, "drained".into()).await;
    got
}
