//! Nova's own API unit tests (nova-reference §9.1), ported: the same
//! fixture and bodies, run at 2.1, 2.51, 2.76 and 2.82 like Nova's classes,
//! against a real serve, directory and broker. Each test's doc names the
//! Nova test it ports.

use http::StatusCode;
use serde_json::{Value, json};

use crate::support::{Reply, TestApp, drain};

const I1: &str = "00000000-0000-0000-0000-000000000001";
const I2: &str = "00000000-0000-0000-0000-000000000002";
const I3: &str = "00000000-0000-0000-0000-000000000003";
const I4: &str = "00000000-0000-0000-0000-000000000004";
const MISSING: &str = "00000000-0000-0000-0000-000000000005";
const VERSIONS: [&str; 4] = ["2.1", "2.51", "2.76", "2.82"];

/// The fixture: …1 and …2 on host1, …3 on host2, …4 without a host.
async fn fixture() -> (TestApp, String, String) {
    let mut app = TestApp::ready().await;
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

/// `event` with `key` set to `value`.
fn with(mut event: Value, key: &str, value: &str) -> Value {
    event[key] = json!(value);
    event
}

/// Posts `events` at microversion `v`.
async fn post(app: &TestApp, events: Value, v: &str) -> Reply {
    let body = json!({ "events": events });
    app.post_events(&body, &[("x-openstack-nova-api-version", v)])
        .await
}

/// The answer carries `codes` in order, each event `completed` when 200
/// and `failed` otherwise, under 200 when all are 200 and 207 if not.
fn assert_outcomes(reply: &Reply, codes: &[u64], context: &str) {
    let all_200 = codes.iter().all(|c| *c == 200);
    let status = if all_200 {
        StatusCode::OK
    } else {
        StatusCode::MULTI_STATUS
    };
    assert_eq!(reply.status, status, "{context}: {:?}", reply.body);
    assert_eq!(reply.codes(), codes, "{context}");
    for (i, code) in codes.iter().enumerate() {
        let want = if *code == 200 { "completed" } else { "failed" };
        assert_eq!(reply.body["events"][i]["status"], want, "{context}: {i}");
    }
}

/// (name, server) of the events that reached `queue`, over all its messages.
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

/// One delivered event: (name, server).
fn one(name: &str, server: &str) -> Vec<(String, String)> {
    vec![(name.to_owned(), server.to_owned())]
}

/// Nova: `test_create`.
#[tokio::test]
async fn events_for_placed_servers_answer_200_as_sent_and_reach_their_host() {
    let (app, q1, _) = fixture().await;
    for v in VERSIONS {
        let reply = post(&app, json!([event_1(), event_2()]), v).await;
        assert_outcomes(&reply, &[200, 200], v);
        let mut expected = [event_1(), with(event_2(), "status", "completed")];
        for event in &mut expected {
            event["code"] = json!(200);
        }
        assert_eq!(reply.body, json!({ "events": expected }), "{v}");
        let mut both = one("network-vif-plugged", I1);
        both.extend(one("network-changed", I2));
        assert_eq!(delivered(&q1, 1).await, both, "{v}");
    }
    app.stop().await;
}

/// At microversion `v`, `events` answer `codes` and exactly `arrived`
/// reaches host1 (herald answers only after confirms: what was sent is
/// already queued).
async fn answers_at(
    (app, q1): (&TestApp, &str),
    v: &str,
    events: Value,
    codes: &[u64],
    arrived: &[(&str, &str)],
) {
    let reply = post(app, events, v).await;
    assert_outcomes(&reply, codes, v);
    let arrived: Vec<(String, String)> = arrived.iter().flat_map(|(n, s)| one(n, s)).collect();
    let messages = usize::from(!arrived.is_empty());
    assert_eq!(delivered(q1, messages).await, arrived, "{v}");
}

/// [`answers_at`] microversion `v`, on a fixture of its own.
async fn at_version(v: &str, events: Value, codes: &[u64], arrived: &[(&str, &str)]) {
    let (app, q1, _) = fixture().await;
    answers_at((&app, &q1), v, events, codes, arrived).await;
    app.stop().await;
}

/// [`answers_at`] each of [`VERSIONS`]; nothing reaches host2.
async fn at_every_version(events: Value, codes: &[u64], arrived: &[(&str, &str)]) {
    let (app, q1, q2) = fixture().await;
    for v in VERSIONS {
        answers_at((&app, &q1), v, events.clone(), codes, arrived).await;
    }
    assert!(drain(&q2, 0).await.is_empty());
    app.stop().await;
}

/// Nova: `test_create_one_bad_instance`.
#[tokio::test]
async fn an_unknown_server_is_404_and_the_other_event_still_arrives() {
    let events = json!([event_1(), with(event_2(), "server_uuid", MISSING)]);
    at_every_version(events, &[200, 404], &[("network-vif-plugged", I1)]).await;
}

/// Nova: `test_create_event_instance_has_no_host`.
#[tokio::test]
async fn a_server_without_a_host_is_422_and_the_other_event_still_arrives() {
    let events = json!([with(event_1(), "server_uuid", I4), event_2()]);
    at_every_version(events, &[422, 200], &[("network-changed", I2)]).await;
}

/// Nova: `test_create_no_good_instances` (bug 1855752: never a 404).
#[tokio::test]
async fn no_deliverable_event_answers_207_not_404_and_dispatches_nothing() {
    let events = json!([
        with(event_1(), "server_uuid", MISSING),
        with(event_2(), "server_uuid", I4)
    ]);
    at_every_version(events, &[404, 422], &[]).await;
}

/// Nova: `test_create_bad_status`, `_extra_gorp`, `_bad_events`,
/// `_bad_body`, `_unknown_events`.
#[tokio::test]
async fn schema_failures_are_400_and_dispatch_nothing() {
    let (app, q1, _) = fixture().await;
    for v in VERSIONS {
        let bodies = [
            (
                "test_create_bad_status",
                json!({"events": [event_1(), with(event_2(), "status", "foo")]}),
            ),
            (
                "test_create_extra_gorp",
                json!({"events": [with(event_1(), "foobar", "bad stuff"), event_2()]}),
            ),
            ("test_create_bad_events", json!({"events": "foo"})),
            ("test_create_bad_body", json!({"foo": "bar"})),
            (
                "test_create_unknown_events",
                json!({"events": with(event_1(), "name", "unknown_event")}),
            ),
        ];
        for (case, body) in bodies {
            let reply = app
                .post_events(&body, &[("x-openstack-nova-api-version", v)])
                .await;
            let context = format!("{case} at {v}: {:?}", reply.body);
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{context}");
            assert_eq!(reply.body["badRequest"]["code"], 400, "{context}");
        }
    }
    let nothing: Vec<(String, String)> = Vec::new();
    assert_eq!(
        delivered(&q1, 0).await,
        nothing,
        "a refused batch dispatches nothing"
    );
    app.stop().await;
}

/// Nova: `test_create_with_missing_tag` (2.51).
#[tokio::test]
async fn volume_extended_without_a_tag_is_a_per_event_400_at_2_51() {
    let events = json!([event_1(), with(event_2(), "name", "volume-extended")]);
    let arrived = [("network-vif-plugged", I1)];
    at_version("2.51", events, &[200, 400], &arrived).await;
}

/// Nova: `test_create_with_missing_tag` (2.76). Nova answers 200 for tag
/// "foo" and then silently drops the event; the contract makes that a
/// per-event 400 instead.
#[tokio::test]
async fn power_update_needs_a_power_state_tag_at_2_76() {
    let (app, q1, _) = fixture().await;
    let events = |tag1: &str| {
        json!([
            {"name": "power-update", "tag": tag1, "server_uuid": I1},
            {"name": "power-update", "server_uuid": I2}
        ])
    };
    let on = (&app, q1.as_str());
    answers_at(on, "2.76", events("foo"), &[400, 400], &[]).await;
    let arrived = [("power-update", I1)];
    answers_at(on, "2.76", events("POWER_ON"), &[200, 400], &arrived).await;
    app.stop().await;
}

/// Nova: `test_create_event_auth_pre_2_76_fails`.
#[tokio::test]
async fn power_update_before_2_76_is_a_400_naming_the_field() {
    let (app, _, _) = fixture().await;
    let events = json!([
        {"name": "power-update", "tag": "POWER_ON", "server_uuid": I1},
        {"name": "power-update", "tag": "POWER_OFF", "server_uuid": I2}
    ]);
    let reply = post(&app, events, "2.75").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let message = reply.body["badRequest"]["message"].as_str().unwrap();
    assert!(
        message.contains("Invalid input for field/attribute events[0].name"),
        "{message}"
    );
    app.stop().await;
}

/// Nova: `test_accelerator_request_bound_event` (2.82).
#[tokio::test]
async fn accelerator_request_bound_needs_a_tag_at_2_82() {
    let events = json!([
        {"name": "accelerator-request-bound", "tag": "foo", "server_uuid": I1},
        {"name": "accelerator-request-bound", "server_uuid": I2}
    ]);
    let arrived = [("accelerator-request-bound", I1)];
    at_version("2.82", events, &[200, 400], &arrived).await;
}

/// Nova's api sample (doc/api_samples/.../event-create-resp.json), sent
/// for the server on host2.
#[tokio::test]
async fn nova_api_sample_is_answered_as_nova_answers_it() {
    let (app, _, q2) = fixture().await;
    let sample = json!({"events": [{"code": 200, "name": "network-changed",
        "server_uuid": "ff1df7b2-6772-45fd-9326-c0a3b05591c2", "status": "completed", "tag": "foo"}]});
    let mut request = sample["events"][0].clone();
    request.as_object_mut().unwrap().remove("code");
    let request = with(request, "server_uuid", I3);
    let reply = post(&app, json!([request.clone()]), "2.1").await;
    assert_eq!(reply.status, StatusCode::OK);
    let mut expected = request;
    expected["code"] = json!(200);
    expected["status"] = json!("completed");
    assert_eq!(reply.body["events"][0], expected);
    assert_eq!(delivered(&q2, 1).await.len(), 1);
    app.stop().await;
}
