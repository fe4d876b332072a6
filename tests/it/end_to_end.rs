//! The whole loop: an event POSTed to `serve` goes through the broker to the
//! host's `agent`, which hands it on and answers local waiters, whether they
//! started waiting before the event arrived or after.

use futures_util::FutureExt;
use http::StatusCode;
use serde_json::json;

use crate::agent::support::{InProcessAgent, Names, get, wait_until};
use crate::support::{TestApp, new_uuid};

#[tokio::test]
async fn an_event_goes_from_serve_through_the_broker_to_the_agent_and_its_waiters() {
    let app = TestApp::ready().await;
    let host = format!("e2e-{}", &new_uuid()[..8]);
    let names = Names::for_host(app.config.clone(), &host);
    let mut agent = InProcessAgent::ready(&names).await;

    let server = new_uuid();
    app.put_server(&server, Some(&host), None).await;
    let wait_path =
        format!("/events/wait?server_uuid={server}&name=network-vif-plugged&tag=port-1&timeout=30");
    let early = tokio::spawn({
        let path = wait_path.clone();
        let addr = agent.addr;
        async move { get(addr, &path).await }
    });
    let addr = agent.addr;
    wait_until("the early waiter is registered", || {
        get(addr, "/events/recent").map(|(_, body)| body["waiters"].as_u64() == Some(1))
    })
    .await;

    let reply = app
        .post_events(
            &json!({"events": [{"name": "network-vif-plugged", "server_uuid": server.to_uppercase(), "tag": "port-1"}]}),
            &[],
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    let request_id = reply.request_id();

    let (status, event) = early.await.unwrap();
    assert_eq!(status, 200, "{event}");
    assert_eq!(
        event["server_uuid"], server,
        "canonical form on the agent side"
    );
    assert_eq!(event["name"], "network-vif-plugged");
    assert_eq!(event["tag"], "port-1");
    assert_eq!(event["status"], "completed");
    assert_eq!(event["request_id"], request_id);
    assert!(event["message_id"].is_string() && event["received_at"].is_string());

    let (status, late) = get(agent.addr, &wait_path).await;
    assert_eq!(
        status, 200,
        "a waiter that asks after the event still gets it"
    );
    assert_eq!(late, event);

    let handed_on = agent.next().await;
    assert_eq!(handed_on.events.len(), 1);
    agent.stop().await.expect("agent stops cleanly");
    app.stop().await;
}
