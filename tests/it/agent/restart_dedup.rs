//! The agent's dedup journal (`agent.dedup_path`) across kill -9: a message
//! printed but whose ack never reached the broker comes back after the
//! restart and is not printed again; without the journal it is (the control
//! that shows the test can fail). The agent reaches the broker through a
//! proxy that holds its acks, so "printed, not acked" is certain, not timed.

use std::collections::HashSet;

use herald::broker::QueueType;
use herald::model::EventName;

use super::support::*;
use crate::proxy::Proxy;
use crate::support::HeraldChild;
use crate::support::child::{Lines, next_line};

/// Starts the agent for `names` through `url`, with the journal at `journal`
/// (empty: none), and its printed lines.
fn spawn_agent(names: &Names, url: &str, journal: &str) -> (HeraldChild, Lines) {
    let mut config = names.config.clone();
    config.amqp.url = url.into();
    config.agent.dedup_path = journal.into();
    let mut child = HeraldChild::agent(&config, names.host.as_str());
    let lines = child.lines();
    (child, lines)
}

/// Reads printed lines until `id`'s comes; returns every `message_id` read.
async fn printed_until(lines: &mut Lines, id: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    while !seen.contains(id) {
        let line = next_line(lines).await;
        seen.insert(line["message_id"].as_str().unwrap_or_default().to_owned());
    }
    seen
}

/// Prints a message with its ack held, kills the agent with -9, restarts it
/// and returns what the restarted agent printed up to a fresh message.
async fn reprinted_after_kill(with_journal: bool) -> (String, HashSet<String>) {
    let names = Names::new(QueueType::Classic);
    let conn = names.declare().await;
    let proxy = Proxy::start("127.0.0.1:5672".parse().unwrap()).await;
    let dir = tempfile::tempdir().unwrap();
    let journal = if with_journal {
        dir.path().join("dedup.jsonl").display().to_string()
    } else {
        String::new()
    };
    let (mut doomed, mut lines) = spawn_agent(&names, &proxy.amqp_url(), &journal);
    let warm_up = one_event(&names, EventName::NetworkChanged);
    publish(&conn, &names, &warm_up).await;
    printed_until(&mut lines, &warm_up.message_id).await;

    proxy.freeze_upstream();
    let held = one_event(&names, EventName::NetworkChanged);
    publish(&conn, &names, &held).await;
    printed_until(&mut lines, &held.message_id).await;
    if with_journal {
        wait_until("the journal holds the printed id", || async {
            std::fs::read_to_string(&journal).is_ok_and(|j| j.contains(&held.message_id))
        })
        .await;
    }
    doomed.kill().await;
    // The broker sees the connection go and requeues what was not acked.
    proxy.cut();
    proxy.thaw();
    let queue = names.queue();
    wait_until("the unacked message is back in the queue", || async {
        ready_count(&conn, &queue).await >= 1
    })
    .await;
    proxy.restore();

    let (mut next, mut lines) = spawn_agent(&names, &proxy.amqp_url(), &journal);
    let fresh = one_event(&names, EventName::NetworkChanged);
    publish(&conn, &names, &fresh).await;
    let printed = printed_until(&mut lines, &fresh.message_id).await;
    next.kill().await;
    let _ = conn.close(200, "bye".into()).await;
    (held.message_id, printed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_journal_a_printed_unacked_message_is_not_printed_again_after_kill_9() {
    let (held, printed) = reprinted_after_kill(true).await;
    assert!(
        !printed.contains(&held),
        "the restarted agent printed {held} again: {printed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_journal_the_same_message_is_printed_twice() {
    let (held, printed) = reprinted_after_kill(false).await;
    assert!(
        printed.contains(&held),
        "without a journal the redelivered {held} is printed again: {printed:?}"
    );
}
