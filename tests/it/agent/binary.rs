//! The built `herald agent` binary, where process behaviour matters: stdout
//! lines, SIGTERM with messages in flight, SIGKILL before the ack.

use std::collections::HashSet;

use herald::broker::QueueType;
use herald::model::EventName;

use super::support::*;
use crate::support::HeraldChild;
use crate::support::child::next_line;

/// Starts the built agent on `names` (prefetch 64), its stdout unread.
fn spawn_agent(names: &Names) -> HeraldChild {
    let mut config = names.config.clone();
    config.agent.prefetch = 64;
    HeraldChild::agent(&config, names.host.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_lines_then_sigterm_settles_what_it_holds_and_exits_0() {
    const N: usize = 200;
    let names = Names::new(QueueType::Classic);
    let conn = names.declare().await;
    let mut first = message(
        &names.host,
        vec![event(EventName::NetworkVifPlugged, Some("port-1"))],
    );
    first.global_request_id = Some("req-global".into());
    publish(&conn, &names, &first).await;
    for _ in 1..N {
        publish(&conn, &names, &one_event(&names, EventName::NetworkChanged)).await;
    }
    let mut child = spawn_agent(&names);
    let mut lines = child.lines();

    let line = next_line(&mut lines).await;
    assert_eq!(line["name"], "network-vif-plugged");
    assert_eq!(line["server_uuid"], UUID);
    assert_eq!(line["status"], "completed");
    assert_eq!(line["tag"], "port-1");
    assert_eq!(line["message_id"], first.message_id.as_str());
    assert_eq!(line["request_id"], first.request_id.as_str());
    assert_eq!(line["global_request_id"], "req-global");
    assert!(
        line["received_at"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{line}"
    );

    // While it holds up to `prefetch` unacked messages.
    assert_eq!(child.stop().await.code(), Some(0));
    let mut printed: HashSet<String> = HashSet::from([first.message_id.clone()]);
    while let Some(line) = lines.recv().await {
        assert!(
            line.get("tag").is_none(),
            "no tag key without a tag: {line}"
        );
        assert!(
            printed.insert(line["message_id"].as_str().expect("an id").to_owned()),
            "printed once"
        );
    }
    let left = ready_count(&conn, &names.queue()).await as usize;
    // Printed messages were acked (else they would be back in the queue); none was lost.
    assert_eq!(
        printed.len() + left,
        N,
        "printed {} + left {left}",
        printed.len()
    );
    let _ = conn.close(200, "bye".into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_held_by_a_killed_agent_goes_to_the_next_one() {
    const MESSAGES: usize = 8;
    let names = Names::new(QueueType::Classic);
    let conn = names.declare().await;
    // ~50 KB of stdout per message: the first agent's unread pipe (64 KB)
    // fills during the second message, so it blocks before acking the rest.
    let tag = "t".repeat(255);
    let sent: Vec<_> = (0..MESSAGES)
        .map(|_| {
            message(
                &names.host,
                (0..100)
                    .map(|_| event(EventName::NetworkChanged, Some(&tag)))
                    .collect(),
            )
        })
        .collect();
    for m in &sent {
        publish(&conn, &names, m).await;
    }
    let mut doomed = spawn_agent(&names);
    let queue = names.queue();
    wait_until("the first agent holds every message", || async {
        ready_count(&conn, &queue).await == 0
    })
    .await;
    doomed.signal("-KILL").await;
    assert_eq!(doomed.wait().await.code(), None, "killed by a signal");
    let handed_on_before: HashSet<String> = doomed
        .stdout_to_end()
        .await
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["message_id"].as_str().map(str::to_owned))
        .collect();

    let mut next = spawn_agent(&names);
    let mut lines = next.lines();
    let mut handed_on_after = HashSet::new();
    let last = &sent[MESSAGES - 1].message_id;
    while !handed_on_after.contains(last) {
        handed_on_after.insert(
            next_line(&mut lines).await["message_id"]
                .as_str()
                .expect("an id")
                .to_owned(),
        );
    }
    for m in &sent {
        assert!(
            handed_on_before.contains(&m.message_id) || handed_on_after.contains(&m.message_id),
            "message {} was lost",
            m.message_id
        );
    }
    assert!(
        !handed_on_before.contains(last),
        "the first agent could not have written the last message"
    );
    assert_eq!(next.stop().await.code(), Some(0));
    let _ = conn.close(200, "bye".into()).await;
}
