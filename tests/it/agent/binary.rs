//! The built `herald agent` binary, where process behaviour matters: stdout
//! lines, SIGTERM with messages in flight, SIGKILL before the ack.

use std::collections::HashSet;
use std::process::Stdio;

use herald::broker::QueueType;
use herald::model::EventName;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

use super::support::*;

/// Writes a config file for `names` and starts the agent with piped stdout.
fn spawn_agent(names: &Names, dir: &tempfile::TempDir) -> Child {
    let a = &names.config.amqp;
    let toml = format!(
        "[auth]\nmode = \"noauth\"\n\n[amqp]\nurl = \"{}\"\nexchange = \"{}\"\nqueue_prefix = \"{}\"\n\
         reconnect_min_backoff = \"50ms\"\nreconnect_max_backoff = \"500ms\"\n\n\
         [agent]\nprefetch = 64\nwaiter_listen = \"127.0.0.1:0\"\n",
        a.url.node_urls()[0],
        a.exchange,
        a.queue_prefix
    );
    let path = dir.path().join("herald.toml");
    std::fs::write(&path, toml).expect("the config file is written");
    Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["agent", "--config"])
        .arg(&path)
        .args(["--host", names.host.as_str()])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("the herald binary starts")
}

/// Forwards the child's stdout lines, parsed, to a channel.
fn read_lines(child: &mut Child) -> mpsc::UnboundedReceiver<serde_json::Value> {
    let stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let value = serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("stdout holds only JSON lines: {e}: {line}"));
            if tx.send(value).is_err() {
                return;
            }
        }
    });
    rx
}

async fn next_line(lines: &mut mpsc::UnboundedReceiver<serde_json::Value>) -> serde_json::Value {
    tokio::time::timeout(DEADLINE, lines.recv())
        .await
        .expect("a line in time")
        .expect("stdout open")
}

async fn signal(child: &Child, sig: &str) {
    let pid = child.id().expect("the child runs").to_string();
    let status = Command::new("kill")
        .args([sig, &pid])
        .status()
        .await
        .expect("kill runs");
    assert!(status.success());
}

async fn exit_code(child: &mut Child) -> Option<i32> {
    tokio::time::timeout(DEADLINE, child.wait())
        .await
        .expect("the agent exits in time")
        .expect("wait works")
        .code()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdout_lines_then_sigterm_settles_what_it_holds_and_exits_0() {
    const N: usize = 200;
    let names = Names::new(QueueType::Classic);
    names.declare().await;
    let conn = connect().await;
    let mut first = message(
        &names.host,
        vec![event(EventName::NetworkVifPlugged, Some("port-1"))],
    );
    first.global_request_id = Some("req-global".into());
    publish(&conn, &names, &first).await;
    for _ in 1..N {
        publish(
            &conn,
            &names,
            &message(&names.host, vec![event(EventName::NetworkChanged, None)]),
        )
        .await;
    }
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut child = spawn_agent(&names, &dir);
    let mut lines = read_lines(&mut child);

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

    signal(&child, "-TERM").await; // while it holds up to `prefetch` unacked messages
    assert_eq!(exit_code(&mut child).await, Some(0));
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
    names.declare().await;
    let conn = connect().await;
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
    let dir = tempfile::tempdir().expect("a temp dir");
    let mut doomed = spawn_agent(&names, &dir);
    let queue = names.queue();
    wait_until("the first agent holds every message", || async {
        ready_count(&conn, &queue).await == 0
    })
    .await;
    signal(&doomed, "-KILL").await;
    assert_eq!(exit_code(&mut doomed).await, None, "killed by a signal");
    let mut written = Vec::new();
    let mut stdout = doomed.stdout.take().expect("stdout is piped");
    stdout
        .read_to_end(&mut written)
        .await
        .expect("the pipe reads");
    let handed_on_before: HashSet<String> = String::from_utf8_lossy(&written)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|v| v["message_id"].as_str().map(str::to_owned))
        .collect();

    let mut next = spawn_agent(&names, &dir);
    let mut lines = read_lines(&mut next);
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
    signal(&next, "-TERM").await;
    assert_eq!(exit_code(&mut next).await, Some(0));
    let _ = conn.close(200, "bye".into()).await;
}
