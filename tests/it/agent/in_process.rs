//! The agent through its library API, in this process.

use std::time::Duration;

use herald::broker::QueueType;
use herald::model::EventName;

use super::support::*;
use crate::support::within;

fn wait_path(name: &str, tag: Option<&str>, timeout: u32) -> String {
    let tag = tag.map(|t| format!("&tag={t}")).unwrap_or_default();
    // A non-canonical uuid form: the agent canonicalises it.
    format!(
        "/events/wait?server_uuid={}&name={name}{tag}&timeout={timeout}",
        UUID.to_uppercase()
    )
}

/// Waiters before and after, duplicates dropped, for one queue type.
async fn round_trip(queue_type: QueueType) {
    let names = Names::new(queue_type);
    let mut agent = InProcessAgent::ready(&names).await;
    assert_eq!(get(agent.addr, "/healthz").await.0, 200);
    let conn = connect().await;

    let (addr, path) = (
        agent.addr,
        wait_path("network-vif-plugged", Some("port-1"), 25),
    );
    let early = tokio::spawn(async move { get(addr, &path).await });
    wait_until("the waiter waits", || async {
        get(addr, "/events/recent").await.1["waiters"] == 1
    })
    .await;
    let first = message(
        &names.host,
        vec![event(EventName::NetworkVifPlugged, Some("port-1"))],
    );
    publish(&conn, &names, &first).await;
    publish(&conn, &names, &first).await; // a redelivery by another name: same message_id
    let second = one_event(&names, EventName::NetworkChanged);
    publish(&conn, &names, &second).await;

    assert_eq!(agent.next().await.meta.message_id, first.message_id);
    assert_eq!(
        agent.next().await.meta.message_id,
        second.message_id,
        "the duplicate was dropped"
    );
    let (status, body) = early.await.expect("the waiter ran");
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message_id"], first.message_id.as_str());
    assert_eq!(body["tag"], "port-1");

    let (status, body) = get(agent.addr, &wait_path("network-changed", None, 5)).await;
    assert_eq!(
        (status, body["message_id"].as_str()),
        (200, Some(second.message_id.as_str())),
        "late waiter"
    );
    let (status, body) = get(agent.addr, &wait_path("network-changed", Some("x"), 0)).await;
    assert_eq!(status, 408, "a tag must match exactly: {body}");
    assert_eq!(body["computeFault"]["code"], 408);
    let (status, _) = get(agent.addr, "/events/wait?name=network-changed").await;
    assert_eq!(status, 400);
    let (_, recent) = get(agent.addr, "/events/recent").await;
    assert_eq!(
        recent["events"].as_array().map(Vec::len),
        Some(2),
        "{recent}"
    );

    agent.assert_nothing_pending(&conn, &names).await;
    agent.stop().await.expect("a clean stop");
    assert_eq!(ready_count(&conn, &names.queue()).await, 0);
    let _ = conn.close(200, "bye".into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn classic_queue_round_trip_with_waiters_and_dedup() {
    round_trip(QueueType::Classic).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quorum_queue_round_trip_with_waiters_and_dedup() {
    round_trip(QueueType::Quorum).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_message_lands_in_the_dead_letter_queue() {
    let mut names = Names::new(QueueType::Classic).with_dlx();
    names.config.queue.message_ttl = Some(Duration::from_millis(100));
    let conn = names.declare().await; // no agent consumes: the message can only expire
    publish(&conn, &names, &one_event(&names, EventName::NetworkChanged)).await;
    let dlq = names.dead_letter_queue().expect("a DLX is set");
    wait_until("the message is dead-lettered", || async {
        ready_count(&conn, &dlq).await == 1
    })
    .await;
    assert_eq!(ready_count(&conn, &names.queue()).await, 0);
    let _ = conn.close(200, "bye".into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_messages_are_dead_lettered_once() {
    let names = Names::new(QueueType::Classic).with_dlx();
    let mut agent = InProcessAgent::ready(&names).await;
    let conn = connect().await;
    publish_raw(&conn, &names, b"not json").await;
    let mut future_version = serde_json::to_value(message(&names.host, vec![])).expect("json");
    future_version["version"] = 99.into();
    publish_raw(&conn, &names, future_version.to_string().as_bytes()).await;
    let good = message(
        &names.host,
        vec![event(EventName::PowerUpdate, Some("POWER_ON"))],
    );
    publish(&conn, &names, &good).await;

    assert_eq!(
        agent.next().await.meta.message_id,
        good.message_id,
        "the poison was not handed on"
    );
    let dlq = names.dead_letter_queue().expect("a DLX is set");
    wait_until("both poison messages are dead-lettered", || async {
        ready_count(&conn, &dlq).await == 2
    })
    .await;
    agent.assert_nothing_pending(&conn, &names).await;
    agent.stop().await.expect("a clean stop");
    assert_eq!(
        ready_count(&conn, &names.queue()).await,
        0,
        "nothing was requeued"
    );
    assert_eq!(ready_count(&conn, &dlq).await, 2);
    let _ = conn.close(200, "bye".into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_connection_close_is_survived_without_loss() {
    let names = Names::new(QueueType::Classic);
    let mut agent = InProcessAgent::ready(&names).await;
    let conn = connect().await;
    let before = one_event(&names, EventName::NetworkChanged);
    publish(&conn, &names, &before).await;
    assert_eq!(agent.next().await.meta.message_id, before.message_id);

    let name = herald::agent::connection_name(&names.host);
    let old_pid = connection_pid(&name)
        .await
        .expect("the agent's named connection is listed");
    close_connection(&old_pid).await;
    let during: Vec<_> = (0..5)
        .map(|_| one_event(&names, EventName::NetworkVifDeleted))
        .collect();
    for m in &during {
        publish(&conn, &names, m).await;
    }
    for m in &during {
        assert_eq!(
            agent.next().await.meta.message_id,
            m.message_id,
            "in order, none lost"
        );
    }
    let new_pid = connection_pid(&name)
        .await
        .expect("the agent reconnected under the same name");
    assert_ne!(new_pid, old_pid);
    agent.stop().await.expect("a clean stop");
    let _ = conn.close(200, "bye".into()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_with_other_arguments_is_a_clear_error() {
    let names = Names::new(QueueType::Classic);
    let _conn = names.twin(QueueType::Quorum).declare().await; // the same queue, as quorum
    let agent = InProcessAgent::start(&names).await;
    let error = within(DEADLINE, "the agent gives up at once", agent.task)
        .await
        .expect("no panic")
        .expect_err("a mismatch is an error");
    let text = error.to_string();
    assert!(text.contains(&names.queue()), "names the queue: {text}");
    assert!(text.contains("x-queue-type"), "names the argument: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_waiter_api_is_up_while_the_broker_is_unreachable() {
    let mut names = Names::new(QueueType::Classic);
    names.config.amqp.url = "amqp://guest:guest@127.0.0.1:1/%2f".into(); // nothing listens on port 1
    let agent = InProcessAgent::start(&names).await;
    wait_until("the API answers", || async {
        get(agent.addr, "/healthz").await.0 == 200
    })
    .await;
    assert_eq!(get(agent.addr, "/readyz").await.0, 503);
    assert_eq!(
        get(agent.addr, &wait_path("network-changed", None, 0))
            .await
            .0,
        408
    );
    agent
        .stop()
        .await
        .expect("shutdown while reconnecting is clean");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_queue_is_declared_again_and_consumed() {
    use lapin::options::QueueDeleteOptions;

    let names = Names::new(QueueType::Classic);
    let mut agent = InProcessAgent::ready(&names).await;
    let conn = connect().await;
    let channel = conn.create_channel().await.expect("a channel");
    channel
        .queue_delete(names.queue().as_str().into(), QueueDeleteOptions::default())
        .await
        .expect("delete the host queue under the agent");
    // The broker cancels the consumer; the agent must declare the queue and
    // bind it again. Until the binding is back, a mandatory publish comes
    // back unroutable (and is dropped), so publish until it is routed.
    let after = one_event(&names, EventName::NetworkChanged);
    let body = after.encode();
    wait_until("the agent bound its queue again", || {
        try_publish(&conn, &names, &body)
    })
    .await;
    assert_eq!(agent.next().await.meta.message_id, after.message_id);
    agent.stop().await.expect("a clean stop");
    let _ = conn.close(200, "bye".into()).await;
}
