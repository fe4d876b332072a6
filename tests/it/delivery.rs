//! What reaches the broker: body versions 1 and 2, one message per host per request, migration
//! fan-out, the AMQP properties and body of the contract, and per-event 503
//! when the broker cannot route a message.

use http::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, drain, new_uuid};

fn body_of(delivery: &lapin::message::Delivery) -> Value {
    serde_json::from_slice(&delivery.data).expect("message body is JSON")
}

/// Posts one event with a global request id to a fresh app and returns
/// the message it became, with the local request id and the server.
async fn one_delivered_message(
    coalesce: bool,
) -> (lapin::message::Delivery, String, String, String) {
    let mut app = TestApp::ready_with(|c| c.dispatch.coalesce = coalesce).await;
    let (server, queue) = app.place_on("compute-1").await;
    let sent_form = server.to_uppercase().replace('-', "");
    let global = "req-3df201cf-2451-44f2-8d25-a4ca826fc1f3";
    let reply = app
        .post_events(
            &json!({"events": [{"name": "network-vif-plugged", "server_uuid": sent_form, "status": "in-progress", "tag": "port-1"}]}),
            &[("x-openstack-request-id", global)],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body["events"][0]["server_uuid"], sent_form,
        "echoed as sent"
    );
    assert_eq!(
        reply.body["events"][0]["status"], "completed",
        "response status is herald's"
    );
    let request_id = reply.request_id();
    assert_eq!(reply.headers["x-compute-request-id"], request_id.as_str());
    assert_ne!(request_id, global, "the local id is always new");

    let mut messages = drain(&queue, 1).await;
    assert_eq!(messages.len(), 1);
    let m = messages.pop().unwrap();
    let p = &m.properties;
    assert_eq!(
        p.content_type().as_ref().unwrap().as_str(),
        "application/json"
    );
    assert_eq!(p.delivery_mode(), &Some(2));
    assert_eq!(
        p.kind().as_ref().unwrap().as_str(),
        "external_instance_event"
    );
    assert_eq!(p.app_id().as_ref().unwrap().as_str(), "herald");
    assert_eq!(
        p.correlation_id().as_ref().unwrap().as_str(),
        request_id,
        "one request's events: the correlation id is its id"
    );
    assert!(p.timestamp().is_some());
    let message_id = p.message_id().as_ref().unwrap().to_string();
    assert!(uuid::Uuid::parse_str(&message_id).is_ok());
    let body = body_of(&m);
    assert_eq!(body["message_id"], message_id);
    assert_eq!(body["host"], "compute-1");
    assert!(body["sent_at"].as_str().unwrap().ends_with('Z'));
    app.stop().await;
    (m, request_id, global.to_owned(), server)
}

#[tokio::test]
async fn body_version_2_carries_the_ids_on_each_event() {
    let (m, request_id, global, server) = one_delivered_message(true).await;
    let body = body_of(&m);
    assert_eq!(body["version"], 2);
    assert!(body.get("request_id").is_none(), "{body}");
    assert!(body.get("global_request_id").is_none(), "{body}");
    assert_eq!(
        body["events"],
        json!([{"name": "network-vif-plugged", "server_uuid": server, "status": "in-progress",
                "tag": "port-1", "request_id": request_id, "global_request_id": global}]),
        "canonical uuid, the caller's own status and the request's ids travel"
    );
}

#[tokio::test]
async fn with_coalescing_off_the_body_is_version_1() {
    let (m, request_id, global, server) = one_delivered_message(false).await;
    let body = body_of(&m);
    assert_eq!(body["version"], 1);
    assert_eq!(body["request_id"], request_id);
    assert_eq!(body["global_request_id"], global);
    assert_eq!(
        body["events"],
        json!([{"name": "network-vif-plugged", "server_uuid": server, "status": "in-progress", "tag": "port-1"}]),
        "canonical uuid and the caller's own status travel"
    );
}

#[tokio::test]
async fn without_a_global_id_the_field_is_absent() {
    let mut app = TestApp::ready().await;
    let (server, queue) = app.place_on("h").await;
    let reply = app
        .post_events(
            &json!({"events": [{"name": "network-changed", "server_uuid": server}]}),
            &[("x-openstack-request-id", "not-a-request-id")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let body = body_of(&drain(&queue, 1).await[0]);
    assert!(body.get("global_request_id").is_none(), "{body}");
    assert!(
        body["events"][0].get("global_request_id").is_none(),
        "{body}"
    );
    assert_eq!(body["events"][0]["status"], "completed", "default status");
    assert!(body["events"][0].get("tag").is_none());
    app.stop().await;
}

#[tokio::test]
async fn one_message_per_host_with_events_in_request_order() {
    let mut app = TestApp::ready().await;
    let hosts = ["h0", "h1", "h2"];
    let mut queues = Vec::new();
    for h in hosts {
        queues.push(app.bind_host(h).await);
    }
    let mut events = Vec::new();
    let mut expected: Vec<Vec<String>> = vec![Vec::new(); 3];
    for i in 0..10 {
        let server = new_uuid();
        app.put_server(&server, Some(hosts[i % 3]), None).await;
        let tag = format!("t{i}");
        expected[i % 3].push(tag.clone());
        events.push(json!({"name": "network-changed", "server_uuid": server, "tag": tag}));
    }
    // The same server twice is two events.
    events.push(events[0].clone());
    expected[0].push("t0".into());
    let reply = app.post_events(&json!({"events": events}), &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(reply.body["events"].as_array().unwrap().len(), 11);
    for (queue, want) in queues.iter().zip(expected) {
        let messages = drain(queue, 1).await;
        assert_eq!(messages.len(), 1, "one message per host per request");
        let tags: Vec<String> = body_of(&messages[0])["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["tag"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(tags, want);
    }
    app.stop().await;
}

#[tokio::test]
async fn migrating_servers_reach_source_and_destination() {
    let mut app = TestApp::ready().await;
    let server = new_uuid();
    app.put_server(&server, Some("src"), Some(("src", "dst")))
        .await;
    let q_src = app.bind_host("src").await;
    let q_dst = app.bind_host("dst").await;
    let reply = app.post_events(&json!({"events": [{"name": "network-vif-plugged", "server_uuid": server, "tag": "p"}]}), &[]).await;
    assert_eq!(reply.status, StatusCode::OK);
    for q in [&q_src, &q_dst] {
        let messages = drain(q, 1).await;
        assert_eq!(messages.len(), 1, "each host once");
        assert_eq!(body_of(&messages[0])["events"][0]["server_uuid"], server);
    }
    app.stop().await;
}

#[tokio::test]
async fn unroutable_host_is_a_per_event_503() {
    let mut app = TestApp::ready().await;
    let bound = new_uuid();
    let unbound = new_uuid();
    app.put_server(&bound, Some("bound"), None).await;
    app.put_server(&unbound, Some("nobody-listens"), None).await;
    let queue = app.bind_host("bound").await;
    let reply = app
        .post_events(
            &json!({"events": [
                {"name": "network-changed", "server_uuid": unbound},
                {"name": "network-changed", "server_uuid": bound}
            ]}),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    assert_eq!(reply.body["events"][0]["code"], 503);
    assert_eq!(reply.body["events"][0]["status"], "failed");
    assert_eq!(reply.body["events"][1]["code"], 200);
    assert_eq!(drain(&queue, 1).await.len(), 1);
    // A migration whose destination has no queue fails the event as a whole.
    let migrating = new_uuid();
    app.put_server(&migrating, Some("bound"), Some(("bound", "nobody-listens")))
        .await;
    let reply = app
        .post_events(
            &json!({"events": [{"name": "network-changed", "server_uuid": migrating}]}),
            &[],
        )
        .await;
    assert_eq!(reply.body["events"][0]["code"], 503);
    app.stop().await;
}

#[tokio::test]
async fn durable_topic_exchange_is_declared() {
    let app = TestApp::ready().await;
    // A passive declare would pass whatever the kind and durability; the
    // broker's own listing says what was really declared (read-only).
    let listing = tokio::process::Command::new("rabbitmqctl")
        .args(["-q", "list_exchanges", "name", "type", "durable"])
        .output()
        .await
        .expect("rabbitmqctl runs");
    assert!(listing.status.success(), "{listing:?}");
    let text = String::from_utf8_lossy(&listing.stdout);
    let row: Vec<&str> = text
        .lines()
        .map(|l| l.split('\t').collect::<Vec<_>>())
        .find(|cols| cols.first() == Some(&app.topology.exchange()))
        .unwrap_or_else(|| panic!("{} not listed:\n{text}", app.topology.exchange()));
    assert_eq!(row[1..], ["topic", "true"], "a durable topic exchange");
    app.stop().await;
}

#[tokio::test]
async fn a_nacked_message_is_a_per_event_503() {
    use lapin::types::{AMQPValue, FieldTable, LongString};
    let mut app = TestApp::ready().await;
    let server = new_uuid();
    app.put_server(&server, Some("full"), None).await;
    // A queue that refuses every message: the broker nacks the publish.
    let mut arguments = FieldTable::default();
    arguments.insert("x-max-length".into(), AMQPValue::LongInt(0));
    arguments.insert(
        "x-overflow".into(),
        AMQPValue::LongString(LongString::from("reject-publish")),
    );
    app.bind_host_with("full", arguments).await;
    let reply = app
        .post_events(
            &json!({"events": [{"name": "network-changed", "server_uuid": server}]}),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    assert_eq!(reply.body["events"][0]["code"], 503);
    assert_eq!(reply.body["events"][0]["status"], "failed");
    app.stop().await;
}
