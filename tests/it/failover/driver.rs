//! A steady stream of one-event requests to serve, each event tagged
//! uniquely, recording every answer with its time; and the check that every
//! event answered 200 arrived exactly once in the host's queue.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use lapin::Connection;
use lapin::options::{BasicConsumeOptions, QueueDeleteOptions};
use lapin::types::{AMQPValue, FieldTable};
use serde_json::json;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::broker_node::BrokerNode;
use crate::support::{ANSWER_DEADLINE, TestApp, poll_for, within};

/// One answered event: its tag, per-event code, and when the answer came.
#[derive(Debug, Clone)]
pub struct Answer {
    pub tag: String,
    pub code: u64,
    pub at: Instant,
}

/// Requests sent one after another until stopped.
pub struct Driver {
    stop: CancellationToken,
    answers: Arc<Mutex<Vec<Answer>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Driver {
    /// Posts one event for `server` at a time, `concurrency` requests at once.
    pub fn start(app: &Arc<TestApp>, server: &str, concurrency: usize) -> Self {
        let stop = CancellationToken::new();
        let answers: Arc<Mutex<Vec<Answer>>> = Arc::default();
        let mut workers = tokio::task::JoinSet::new();
        for worker in 0..concurrency {
            let (app, server, stop, answers) = (
                app.clone(),
                server.to_owned(),
                stop.clone(),
                answers.clone(),
            );
            workers.spawn(async move {
                let mut n = 0u64;
                while !stop.is_cancelled() {
                    n += 1;
                    let tag = format!("w{worker}-{n}");
                    let body = json!({"events": [{
                        "name": "network-vif-plugged", "server_uuid": server, "tag": tag
                    }]});
                    // Bounded by ANSWER_DEADLINE: a hang in serve fails the worker.
                    let reply = app.post_events(&body, &[]).await;
                    let code = reply.body["events"][0]["code"].as_u64().unwrap_or(0);
                    answers.lock().unwrap().push(Answer {
                        tag,
                        code,
                        at: Instant::now(),
                    });
                    if code != 200 {
                        // Pacing, not synchronisation: 503s come at once while a
                        // node is away, and a tight loop would starve its restart.
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            });
        }
        let task = tokio::spawn(async move {
            while let Some(worker) = workers.join_next().await {
                worker.expect("a driver worker");
            }
        });
        Self {
            stop,
            answers,
            task,
        }
    }

    /// How many answers with `code` came so far.
    pub fn count(&self, code: u64) -> usize {
        let answers = self.answers.lock().unwrap();
        answers.iter().filter(|a| a.code == code).count()
    }

    /// Waits until `n` more answers with `code` than now have come.
    pub async fn wait_for_more(&self, code: u64, n: usize, what: &str) -> Instant {
        let target = self.count(code) + n;
        let what = format!("{n} more answers with code {code} came ({what})");
        poll_for(&what, Duration::from_secs(60), || {
            let came = self.count(code) >= target;
            std::future::ready(came.then(Instant::now))
        })
        .await
    }

    /// When the first answer with `code` at or after `since` came.
    pub fn first_since(&self, code: u64, since: Instant) -> Option<Instant> {
        let answers = self.answers.lock().unwrap();
        answers
            .iter()
            .filter(|a| a.code == code && a.at >= since)
            .map(|a| a.at)
            .min()
    }

    /// Answers with `code` between `from` and `to`.
    pub fn count_between(&self, code: u64, from: Instant, to: Instant) -> usize {
        let answers = self.answers.lock().unwrap();
        answers
            .iter()
            .filter(|a| a.code == code && a.at >= from && a.at <= to)
            .count()
    }

    /// Stops sending and returns every answer.
    pub async fn stop(self) -> Vec<Answer> {
        self.stop.cancel();
        let last = "the driver's last requests are answered";
        within(ANSWER_DEADLINE, last, self.task).await.unwrap();
        std::mem::take(&mut *self.answers.lock().unwrap())
    }
}

/// serve on `urls` with the reconnect backoff a deployment gets by default
/// (the tests' own config makes it shorter), adjusted by `adjust`, ready.
pub async fn serve_on(
    urls: herald::broker::nodes::BrokerUrls,
    adjust: impl FnOnce(&mut herald::config::Config),
) -> TestApp {
    let defaults = herald::config::Config::default().amqp;
    TestApp::ready_with(|c| {
        c.amqp.url = urls;
        c.amqp.reconnect_min_backoff = defaults.reconnect_min_backoff;
        c.amqp.reconnect_max_backoff = defaults.reconnect_max_backoff;
        adjust(c);
    })
    .await
}

/// serve on `node` ([`serve_on`], `adjust`ed) with a fresh server placed on
/// `host` and `host`'s queue bound there: (serve, server, queue).
pub async fn serve_with_host(
    node: &BrokerNode,
    host: &str,
    adjust: impl FnOnce(&mut herald::config::Config),
) -> (Arc<TestApp>, String, String) {
    let app = serve_on(node.url().into(), adjust).await;
    let server = crate::support::new_uuid();
    app.put_server(&server, Some(host), None).await;
    let queue = bind_queue(&node.connect().await, &app, host, false).await;
    (Arc::new(app), server, queue)
}

/// Declares the host's queue on `conn`, durable (quorum when asked), and
/// binds it.
pub async fn bind_queue(conn: &Connection, app: &TestApp, host: &str, quorum: bool) -> String {
    let mut arguments = FieldTable::default();
    if quorum {
        arguments.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
    }
    crate::support::bind_queue(conn, &app.topology, host, true, arguments).await
}

/// Consumes `queue` until it stays empty, returning how often each event
/// tag arrived.
pub async fn tags_in(conn: &Connection, queue: &str, at_least: usize) -> HashMap<String, usize> {
    let channel = conn.create_channel().await.unwrap();
    channel
        .basic_qos(1000, lapin::options::BasicQosOptions::default())
        .await
        .unwrap();
    let mut consumer = channel
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions {
                no_ack: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
        .unwrap();
    let mut tags: HashMap<String, usize> = HashMap::new();
    let mut events = 0usize;
    loop {
        // Quiet for a second once everything expected is in: the queue is drained.
        let wait = if events >= at_least { 1 } else { 30 };
        let next = tokio::time::timeout(Duration::from_secs(wait), consumer.next()).await;
        let Ok(Some(Ok(delivery))) = next else {
            assert!(
                events >= at_least,
                "only {events} of at least {at_least} events arrived in {queue}"
            );
            break;
        };
        let message = herald::wire::decode(&delivery.data).unwrap();
        for event in message.events {
            events += 1;
            *tags.entry(event.tag.unwrap_or_default()).or_default() += 1;
        }
    }
    channel
        .queue_delete(queue.into(), QueueDeleteOptions::default())
        .await
        .ok();
    tags
}

/// Every event answered 200 arrived exactly once; returns how many events
/// answered 503 arrived anyway.
pub fn check_delivery(answers: &[Answer], tags: &HashMap<String, usize>, scenario: &str) -> usize {
    let mut maybe = 0;
    for a in answers {
        let seen = tags.get(&a.tag).copied().unwrap_or(0);
        match a.code {
            200 => assert_eq!(seen, 1, "{scenario}: event {} answered 200", a.tag),
            _ if seen > 0 => maybe += 1,
            _ => {}
        }
    }
    maybe
}

/// Milliseconds from `from` to `to`, for the figures.
pub fn ms(from: Instant, to: Instant) -> u128 {
    to.saturating_duration_since(from).as_millis()
}

/// Signed milliseconds from `from` to `to`: the test sees a restarted node
/// up only at its next poll, so serve can be back before the test knows.
pub fn signed_ms(from: Instant, to: Instant) -> i128 {
    if to >= from {
        ms(from, to) as i128
    } else {
        -(ms(to, from) as i128)
    }
}
