//! Nova's own API unit tests (nova-reference §9.1), ported: the same
//! fixture and bodies, run at 2.1, 2.51, 2.76 and 2.82 like Nova's classes,
//! against a real serve, directory and broker.

use http::StatusCode;
use serde_json::{Value, json};

use crate::support::{TestApp, drain};

const I1: &str = "00000000-0000-0000-0000-000000000001";
const I2: &str = "00000000-0000-0000-0000-000000000002";
const I3: &str = "00000000-0000-0000-0000-000000000003";
const I4: &str = "00000000-0000-0000-0000-000000000004";
const MISSING: &str = "00000000-0000-0000-0000-000000000005";
const VERSIONS: [&str; 4] = ["2.1", "2.51", "2.76", "2.82"];

/// The fixture: …1 and …2 on host1, …3 on host2, …4 without a host.
async fn fixture() -> (TestApp, String, String) {
    let mut app = TestApp::spawn().await;
    app.wait_ready().await;
    app.put_server(I1, Some("host1"), None).await;
    app.put_server(I2, Some("host1"), None).await;
    app.put_server(I3, Some("host2"), None).await;
    app.put_server(I4, None, None).await;
    let q1 = app.bind_host("host1").await;
    let q2 = app.bind_host("host2").await;
    (app, q1, q2)
}

fn event_1() -> Value {
    json!({"name": "network-vif-plugged", "tag": "foo", "server_uuid": I1, "status": "completed"})
}

fn event_2() -> Value {
    json!({"name": "network-changed", "server_uuid": I2})
}

fn version(v: &str) -> [(&'static str, String); 1] {
    [("x-openstack-nova-api-version", v.to_owned())]
}

async fn post(app: &TestApp, body: &Value, v: &str) -> crate::support::Reply {
    let headers = version(v);
    let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    app.post_events(body, &h).await
}

/// Names of the events that reached `queue`, over all its messages.
async fn delivered(queue: &str, messages: usize) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for m in drain(queue, messages).await {
        let body: Value = serde_json::from_slice(&m.data).expect("json body");
        for e in body["events"].as_array().expect("events") {
            out.push((
                e["name"].as_str().unwrap().to_owned(),
                e["server_uuid"].as_str().unwrap().to_owned(),
            ));
        }
    }
    out
}

#[tokio::test]
async fn test_create() {
    let (app, q1, _) = fixture().await;
    for v in VERSIONS {
        let reply = post(&app, &json!({"events": [event_1(), event_2()]}), v).await;
        assert_eq!(reply.status, StatusCode::OK, "{v}: {:?}", reply.body);
        let mut expected_2 = event_2();
        expected_2["status"] = json!("completed");
        expected_2["code"] = json!(200);
        let mut expected_1 = event_1();
        expected_1["code"] = json!(200);
        assert_eq!(
            reply.body,
            json!({"events": [expected_1, expected_2]}),
            "{v}"
        );
        let got = delivered(&q1, 1).await;
        assert_eq!(
            got,
            vec![
                ("network-vif-plugged".into(), I1.into()),
                ("network-changed".into(), I2.into())
            ],
            "{v}"
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn test_create_one_bad_instance() {
    let (app, q1, _) = fixture().await;
    for v in VERSIONS {
        let mut e2 = event_2();
        e2["server_uuid"] = json!(MISSING);
        let reply = post(&app, &json!({"events": [event_1(), e2]}), v).await;
        assert_eq!(reply.status, StatusCode::MULTI_STATUS, "{v}");
        assert_eq!(reply.body["events"][0]["code"], 200);
        assert_eq!(reply.body["events"][1]["code"], 404);
        assert_eq!(reply.body["events"][1]["status"], "failed");
        assert_eq!(
            delivered(&q1, 1).await,
            vec![("network-vif-plugged".into(), I1.into())]
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn test_create_event_instance_has_no_host() {
    let (app, q1, _) = fixture().await;
    for v in VERSIONS {
        let mut e1 = event_1();
        e1["server_uuid"] = json!(I4);
        let reply = post(&app, &json!({"events": [e1, event_2()]}), v).await;
        assert_eq!(reply.status, StatusCode::MULTI_STATUS, "{v}");
        assert_eq!(reply.body["events"][0]["code"], 422);
        assert_eq!(reply.body["events"][0]["status"], "failed");
        assert_eq!(reply.body["events"][1]["code"], 200);
        assert_eq!(
            delivered(&q1, 1).await,
            vec![("network-changed".into(), I2.into())]
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn test_create_no_good_instances_answers_207_not_404() {
    let (app, q1, q2) = fixture().await;
    for v in VERSIONS {
        let mut e1 = event_1();
        e1["server_uuid"] = json!(MISSING);
        let mut e2 = event_2();
        e2["server_uuid"] = json!(I4);
        let reply = post(&app, &json!({"events": [e1, e2]}), v).await;
        assert_eq!(
            reply.status,
            StatusCode::MULTI_STATUS,
            "{v} (bug 1855752: never 404)"
        );
        assert_eq!(reply.body["events"][0]["code"], 404);
        assert_eq!(reply.body["events"][1]["code"], 422);
    }
    // Nothing was dispatched: herald answers only after confirms, so any
    // message would already be queued.
    for q in [&q1, &q2] {
        assert!(crate::support::drain(q, 0).await.is_empty());
    }
    app.stop().await;
}

#[tokio::test]
async fn schema_failures_are_400() {
    let (app, q1, _) = fixture().await;
    for v in VERSIONS {
        let mut bad_status = event_2();
        bad_status["status"] = json!("foo");
        let mut gorp = event_1();
        gorp["foobar"] = json!("bad stuff");
        let mut unknown = event_1();
        unknown["name"] = json!("unknown_event");
        let bodies = [
            (
                "test_create_bad_status",
                json!({"events": [event_1(), bad_status]}),
            ),
            (
                "test_create_extra_gorp",
                json!({"events": [gorp, event_2()]}),
            ),
            ("test_create_bad_events", json!({"events": "foo"})),
            ("test_create_bad_body", json!({"foo": "bar"})),
            ("test_create_unknown_events", json!({"events": unknown})),
        ];
        for (case, body) in bodies {
            let reply = post(&app, &body, v).await;
            assert_eq!(
                reply.status,
                StatusCode::BAD_REQUEST,
                "{case} at {v}: {:?}",
                reply.body
            );
            assert_eq!(reply.body["badRequest"]["code"], 400, "{case}");
        }
    }
    assert!(
        crate::support::drain(&q1, 0).await.is_empty(),
        "a refused batch dispatches nothing"
    );
    app.stop().await;
}

#[tokio::test]
async fn test_create_with_missing_tag_v251() {
    let (app, q1, _) = fixture().await;
    let mut e2 = event_2();
    e2["name"] = json!("volume-extended");
    let reply = post(&app, &json!({"events": [event_1(), e2]}), "2.51").await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    assert_eq!(reply.body["events"][0]["code"], 200);
    assert_eq!(reply.body["events"][0]["status"], "completed");
    assert_eq!(reply.body["events"][1]["code"], 400);
    assert_eq!(reply.body["events"][1]["status"], "failed");
    assert_eq!(
        delivered(&q1, 1).await,
        vec![("network-vif-plugged".into(), I1.into())]
    );
    app.stop().await;
}

#[tokio::test]
async fn test_create_with_missing_tag_v276() {
    let (app, q1, _) = fixture().await;
    let body = |tag1: &str| {
        json!({"events": [
            {"name": "power-update", "tag": tag1, "server_uuid": I1},
            {"name": "power-update", "server_uuid": I2}
        ]})
    };
    // Nova answers 200 for tag "foo" and then silently drops the event;
    // the contract makes that a per-event 400 instead.
    let reply = post(&app, &body("foo"), "2.76").await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    assert_eq!(reply.body["events"][0]["code"], 400);
    assert_eq!(reply.body["events"][1]["code"], 400);
    assert!(crate::support::drain(&q1, 0).await.is_empty());
    let reply = post(&app, &body("POWER_ON"), "2.76").await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    assert_eq!(reply.body["events"][0]["code"], 200);
    assert_eq!(reply.body["events"][0]["status"], "completed");
    assert_eq!(reply.body["events"][1]["code"], 400);
    assert_eq!(
        delivered(&q1, 1).await,
        vec![("power-update".into(), I1.into())]
    );
    app.stop().await;
}

#[tokio::test]
async fn test_create_event_auth_pre_2_76_fails() {
    let (app, _, _) = fixture().await;
    let body = json!({"events": [
        {"name": "power-update", "tag": "POWER_ON", "server_uuid": I1},
        {"name": "power-update", "tag": "POWER_OFF", "server_uuid": I2}
    ]});
    let reply = post(&app, &body, "2.75").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let message = reply.body["badRequest"]["message"].as_str().unwrap();
    assert!(
        message.contains("Invalid input for field/attribute events[0].name"),
        "{message}"
    );
    app.stop().await;
}

#[tokio::test]
async fn test_accelerator_request_bound_event_v282() {
    let (app, q1, _) = fixture().await;
    let body = json!({"events": [
        {"name": "accelerator-request-bound", "tag": "foo", "server_uuid": I1},
        {"name": "accelerator-request-bound", "server_uuid": I2}
    ]});
    let reply = post(&app, &body, "2.82").await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    assert_eq!(reply.body["events"][0]["code"], 200);
    assert_eq!(reply.body["events"][0]["status"], "completed");
    assert_eq!(reply.body["events"][1]["code"], 400);
    assert_eq!(reply.body["events"][1]["status"], "failed");
    assert_eq!(
        delivered(&q1, 1).await,
        vec![("accelerator-request-bound".into(), I1.into())]
    );
    app.stop().await;
}

#[tokio::test]
async fn api_sample_and_host2() {
    let (app, _, q2) = fixture().await;
    // Nova's api sample (doc/api_samples/.../event-create-resp.json).
    let sample = json!({"events": [{"code": 200, "name": "network-changed",
        "server_uuid": "ff1df7b2-6772-45fd-9326-c0a3b05591c2", "status": "completed", "tag": "foo"}]});
    let mut request = sample["events"][0].clone();
    request.as_object_mut().unwrap().remove("code");
    request["server_uuid"] = json!(I3);
    let reply = post(&app, &json!({"events": [request.clone()]}), "2.1").await;
    assert_eq!(reply.status, StatusCode::OK);
    let mut expected = request;
    expected["code"] = json!(200);
    expected["status"] = json!("completed");
    assert_eq!(reply.body["events"][0], expected);
    assert_eq!(delivered(&q2, 1).await.len(), 1);
    app.stop().await;
}
