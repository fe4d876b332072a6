//! Coalescing per host (`amqp.coalesce = true`): events of concurrent
//! requests for one host travel in one version 2 message while an earlier
//! message for that host awaits its confirm, each request still answered
//! exactly; a request whose client went away before its events went out is
//! not published. A frozen broker proxy holds the first confirm back, so
//! what queues behind it is known before anything is let through.

use std::collections::BTreeSet;
use std::time::Duration;

use http::StatusCode;
use serde_json::Value;
use tokio::net::TcpStream;

use crate::proxy::Proxy;
use crate::support::raw;
use crate::support::{Reply, TestApp, drain, event_for};

async fn frozen_app(confirm_timeout: Duration) -> (TestApp, Proxy, String, String) {
    frozen_app_with(confirm_timeout, true).await
}

async fn frozen_app_with(
    confirm_timeout: Duration,
    coalesce: bool,
) -> (TestApp, Proxy, String, String) {
    let proxy = Proxy::start("127.0.0.1:5672".parse().unwrap()).await;
    let url = proxy.amqp_url();
    let mut app = TestApp::ready_with(|c| {
        c.amqp.url = url.into();
        c.dispatch.coalesce = coalesce;
        c.dispatch.confirm_timeout = confirm_timeout;
    })
    .await;
    let (server, queue) = app.place_on("h").await;
    // Opening a channel takes a round trip the frozen proxy would hold: one
    // request first leaves a ready channel in the pool.
    let warm = app.post_events(&event_for(&server), &[]).await;
    assert_eq!(warm.status, StatusCode::OK, "{:?}", warm.body);
    assert_eq!(drain(&queue, 1).await.len(), 1);
    (app, proxy, server, queue)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_for_one_host_share_a_message() {
    let (app, proxy, server, queue) = frozen_app(Duration::from_secs(20)).await;
    let body = event_for(&server);

    proxy.freeze();
    let (first, queued) = tokio::join!(app.post_events(&body, &[]), async {
        app.wait_metric("herald_messages_unconfirmed 1").await;
        let (b, c, d, ()) = tokio::join!(
            app.post_events(&body, &[]),
            app.post_events(&body, &[]),
            app.post_events(&body, &[]),
            async {
                app.wait_metric("herald_lane_queued_events 3").await;
                proxy.thaw();
            }
        );
        [b, c, d]
    });
    for reply in std::iter::once(&first).chain(&queued) {
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    }

    let messages = drain(&queue, 2).await;
    assert_eq!(
        messages.len(),
        2,
        "the first alone, then the three together"
    );
    let first_body: Value = serde_json::from_slice(&messages[0].data).unwrap();
    assert_eq!(first_body["version"], 2);
    assert_eq!(first_body["events"][0]["request_id"], first.request_id());
    assert_eq!(
        messages[0]
            .properties
            .correlation_id()
            .as_ref()
            .map(|c| c.to_string()),
        Some(first.request_id()),
        "one request's message names it"
    );

    let shared: Value = serde_json::from_slice(&messages[1].data).unwrap();
    assert_eq!(shared["version"], 2);
    let carried: BTreeSet<String> = shared["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["request_id"].as_str().expect("an id").to_owned())
        .collect();
    let answered: BTreeSet<String> = queued.iter().map(Reply::request_id).collect();
    assert_eq!(carried, answered, "each event carries its own request's id");
    assert!(
        messages[1].properties.correlation_id().is_none(),
        "several requests: no correlation id"
    );
    app.stop().await;
}

/// Sends one events request on a raw connection and returns it unanswered.
async fn send_raw(app: &TestApp, body: &Value) -> TcpStream {
    let text = body.to_string();
    let length = format!("content-length: {}", text.len());
    let head = raw::head(raw::EVENTS, &["content-type: application/json", &length]);
    raw::send(app.addr, (head + &text).as_bytes()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_coalescing_a_client_gone_mid_confirm_strands_nothing() {
    let (app, proxy, server, queue) = frozen_app_with(Duration::from_secs(20), false).await;
    let body = event_for(&server);

    proxy.freeze();
    let stream = send_raw(&app, &body).await;
    app.wait_metric("herald_messages_unconfirmed 1").await;
    drop(stream);
    // The handler is gone with its confirm wait: both gauges count it out.
    app.wait_metric("herald_messages_unconfirmed 0").await;
    app.wait_metric("herald_http_requests_in_flight 1").await;
    proxy.thaw();

    let next = app.post_events(&body, &[]).await;
    assert_eq!(next.status, StatusCode::OK, "{:?}", next.body);
    let delivered = drain(&queue, 1).await;
    assert!(
        delivered.iter().any(|m| m
            .properties
            .correlation_id()
            .as_ref()
            .map(|c| c.to_string())
            == Some(next.request_id())),
        "the next request's own message arrived"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_abandoned_before_it_went_out_is_not_published() {
    let (app, proxy, server, queue) = frozen_app(Duration::from_secs(20)).await;
    let body = event_for(&server);

    proxy.freeze();
    let (first, ()) = tokio::join!(app.post_events(&body, &[]), async {
        app.wait_metric("herald_messages_unconfirmed 1").await;
        // A raw client that sends its request and hangs up while it waits
        // in the lane behind the first one.
        let stream = send_raw(&app, &body).await;
        app.wait_metric("herald_lane_queued_events 1").await;
        drop(stream);
        // Its handler is gone (the first request and /metrics remain) ...
        app.wait_metric("herald_http_requests_in_flight 2").await;
        proxy.thaw();
    });
    assert_eq!(first.status, StatusCode::OK, "{:?}", first.body);
    // ... and the lane is empty again: the abandoned events were dropped.
    app.wait_metric("herald_lane_queued_events 0").await;
    let last = app.post_events(&body, &[]).await;
    assert_eq!(last.status, StatusCode::OK, "{:?}", last.body);

    let messages = drain(&queue, 2).await;
    let carried: Vec<String> = messages
        .iter()
        .flat_map(|m| {
            let body: Value = serde_json::from_slice(&m.data).unwrap();
            body["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["request_id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        carried,
        vec![first.request_id(), last.request_id()],
        "only the requests that waited for their answer were published"
    );
    app.wait_metric("herald_messages_unconfirmed 0").await;
    app.stop().await;
}
