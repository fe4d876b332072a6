//! The request edges of the events route: auth (401/403), microversion
//! negotiation and headers (400/406), methods (405), bodies (413/415/400),
//! version discovery, and input that must never cause a 500. The raw-socket
//! connection edges live in `http_wire`.

use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{READER_TOKEN, SERVICE_TOKEN, TestApp, new_uuid};
pub(crate) fn one_event() -> serde_json::Value {
    json!({"events": [{"name": "network-changed", "server_uuid": new_uuid()}]})
}

fn assert_version_headers(reply: &crate::support::Reply, version: &str) {
    assert_eq!(
        reply.headers["openstack-api-version"],
        format!("compute {version}").as_str()
    );
    assert_eq!(reply.headers["x-openstack-nova-api-version"], version);
    let vary: Vec<_> = reply
        .headers
        .get_all("vary")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let vary = vary.join(", ");
    assert!(
        vary.contains("OpenStack-API-Version") && vary.contains("X-OpenStack-Nova-API-Version"),
        "{vary}"
    );
}

#[tokio::test]
async fn tokens_and_roles() {
    let app = TestApp::spawn().await;
    let missing = app.post_events(&one_event(), &[("x-auth-token", "")]).await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(missing.body["unauthorized"]["code"], 401);
    let unknown = app
        .post_events(&one_event(), &[("x-auth-token", "who-knows")])
        .await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let reader = app
        .post_events(&one_event(), &[("x-auth-token", READER_TOKEN)])
        .await;
    assert_eq!(reader.status, StatusCode::FORBIDDEN);
    assert_eq!(reader.body["forbidden"]["code"], 403);
    let service = app
        .post_events(&one_event(), &[("x-auth-token", SERVICE_TOKEN)])
        .await;
    assert_eq!(
        service.status,
        StatusCode::MULTI_STATUS,
        "a service-only token may post"
    );
    // Auth comes before the microversion and the body.
    let order = app
        .post_events(
            &json!({"nope": 1}),
            &[
                ("x-auth-token", "who-knows"),
                ("openstack-api-version", "compute 9.9"),
            ],
        )
        .await;
    assert_eq!(order.status, StatusCode::UNAUTHORIZED);
    let order = app
        .post_events(
            &json!({"nope": 1}),
            &[
                ("x-auth-token", READER_TOKEN),
                ("openstack-api-version", "compute 9.9"),
            ],
        )
        .await;
    assert_eq!(order.status, StatusCode::FORBIDDEN);
    // The directory routes are protected the same way.
    let dir = app
        .request(
            Method::GET,
            "/directory/servers",
            None,
            &[("x-auth-token", "nope")],
        )
        .await;
    assert_eq!(dir.status, StatusCode::UNAUTHORIZED);
    let dir = app
        .request(
            Method::GET,
            "/directory/servers",
            None,
            &[("x-auth-token", READER_TOKEN)],
        )
        .await;
    assert_eq!(dir.status, StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test]
async fn noauth_accepts_everyone() {
    let app =
        TestApp::spawn_with(|c| c.auth.mode = herald::api::auth_config::AuthMode::Noauth).await;
    let reply = app
        .post_events(&one_event(), &[("x-auth-token", "anything")])
        .await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    app.stop().await;
}

#[tokio::test]
async fn microversions() {
    let app = TestApp::spawn().await;
    let plain = app.post_events(&one_event(), &[]).await;
    assert_version_headers(&plain, "2.1");
    let latest = app
        .post_events(&one_event(), &[("openstack-api-version", "compute latest")])
        .await;
    assert_version_headers(&latest, "2.104");
    let listed = app
        .post_events(
            &one_event(),
            &[(
                "openstack-api-version",
                "volume 3.7, compute 2.80, image 2.1",
            )],
        )
        .await;
    assert_version_headers(&listed, "2.80");
    let too_new = app
        .post_events(&one_event(), &[("openstack-api-version", "compute 2.105")])
        .await;
    assert_eq!(too_new.status, StatusCode::NOT_ACCEPTABLE);
    assert_eq!(too_new.body["computeFault"]["code"], 406);
    assert_version_headers(&too_new, "2.1");
    let malformed = app
        .post_events(&one_event(), &[("x-openstack-nova-api-version", "2.x")])
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_version_headers(&malformed, "2.1");
    // Microversion comes before the body.
    let order = app
        .post_events(
            &json!({"nope": 1}),
            &[("openstack-api-version", "compute 3.0")],
        )
        .await;
    assert_eq!(order.status, StatusCode::NOT_ACCEPTABLE);
    // Refused bodies carry the headers too.
    let bad = app
        .post_events(
            &json!({"nope": 1}),
            &[("openstack-api-version", "compute 2.93")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_version_headers(&bad, "2.93");
    app.stop().await;
}

#[tokio::test]
async fn routes_and_methods() {
    let app = TestApp::spawn().await;
    for path in [
        "/os-server-external-events",
        "/v2.1/os-server-external-events",
        "/v2.1/0123abcd/os-server-external-events",
    ] {
        let reply = app
            .request(Method::POST, path, Some(&one_event()), &[])
            .await;
        assert_eq!(reply.status, StatusCode::MULTI_STATUS, "{path}");
        let get = app.request(Method::GET, path, None, &[]).await;
        assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(get.headers["allow"], "POST");
        assert_eq!(get.body["badMethod"]["code"], 405);
    }
    let unknown = app.request(Method::GET, "/servers", None, &[]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.body["itemNotFound"]["code"], 404);
    for path in ["/", "/v2.1", "/v2.1/"] {
        let reply = app
            .request(Method::GET, path, None, &[("x-auth-token", "")])
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{path} needs no token");
        let doc = if path == "/" {
            &reply.body["versions"][0]
        } else {
            &reply.body["version"]
        };
        assert_eq!(doc["id"], "v2.1");
        assert_eq!(doc["status"], "CURRENT");
        assert_eq!(doc["version"], "2.104");
        assert_eq!(doc["min_version"], "2.1");
        assert!(doc["updated"].is_string());
        assert_eq!(doc["links"][0]["rel"], "self");
    }
    let ids = app.request(Method::GET, "/nope", None, &[]).await;
    assert!(
        ids.headers["x-openstack-request-id"]
            .to_str()
            .unwrap()
            .starts_with("req-")
    );
    app.stop().await;
}

#[tokio::test]
async fn body_faults() {
    let app = TestApp::spawn_with(|c| c.http.max_body_bytes = 1024).await;
    let big = json!({"events": [{"name": "network-changed", "server_uuid": new_uuid(), "tag": "x".repeat(2000)}]});
    let reply = app.post_events(&big, &[]).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.body["overLimit"]["code"], 413);
    let xml = app
        .post_events(&one_event(), &[("content-type", "application/xml")])
        .await;
    assert_eq!(xml.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(xml.body["badMediaType"]["code"], 415);
    let nova_type = app
        .post_events(
            &one_event(),
            &[("content-type", "application/vnd.openstack.compute+json")],
        )
        .await;
    assert_eq!(nova_type.status, StatusCode::MULTI_STATUS);
    // 413 comes before 415.
    let both = app
        .post_events(&big, &[("content-type", "text/plain")])
        .await;
    assert_eq!(both.status, StatusCode::PAYLOAD_TOO_LARGE);
    for raw in ["", "{", "nul", "{\"events\": [}"] {
        let reply = raw_post(&app, raw.as_bytes(), "application/json").await;
        assert!(reply.starts_with("HTTP/1.1 400"), "{raw:?}: {reply}");
        assert!(reply.contains("badRequest"), "{reply}");
    }
    let reply = raw_post(&app, b"\xff\xfe{}", "").await;
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    app.stop().await;
}

#[tokio::test]
async fn hostile_input_never_causes_a_500() {
    let app = TestApp::spawn().await;
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let bodies: Vec<String> = vec![
        deep,
        "{\"events\": [{\"name\": \"network-changed\", \"server_uuid\": 1e999}]}".into(),
        format!(
            "{{\"events\": [{{\"name\": \"network-changed\", \"server_uuid\": \"{}\", \"tag\": 123456789012345678901234567890}}]}}",
            new_uuid()
        ),
        "{\"events\": [null]}".into(),
        "{\"events\": [[]]}".into(),
        "{\"events\": null}".into(),
        "\"events\"".into(),
        "{\"events\": [{\"name\": \"\u{0000}\", \"server_uuid\": \"\"}]}".into(),
        "{\"events\": [{\"name\": \"network-changed\", \"server_uuid\": \"{{}}\"}]}".into(),
    ];
    for body in bodies {
        let reply = raw_post(&app, body.as_bytes(), "application/json").await;
        assert!(
            reply.starts_with("HTTP/1.1 400"),
            "{}: {reply}",
            &body[..body.len().min(60)]
        );
    }
    // The server still works afterwards.
    let reply = app.post_events(&one_event(), &[]).await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_and_events() {
    let app = TestApp::spawn().await;
    let reply = app.post_events(&one_event(), &[]).await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS);
    let metrics = app.request(Method::GET, "/metrics", None, &[]).await;
    let text = match metrics.body {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    };
    for needle in [
        "herald_events_total{code=\"404\"} 1",
        "herald_http_requests_total{route=\"events\",status=\"207\"} 1",
        "herald_broker_connected",
        "herald_publish_confirm_seconds",
        "herald_http_requests_in_flight",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    app.stop().await;
}

async fn raw_post(app: &TestApp, body: &[u8], content_type: &str) -> String {
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    let mut head = format!(
        "POST /os-server-external-events HTTP/1.1\r\nhost: x\r\nx-auth-token: admin-secret\r\nconnection: close\r\ncontent-length: {}\r\n",
        body.len()
    );
    if !content_type.is_empty() {
        head.push_str(&format!("content-type: {content_type}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out))
        .await
        .expect("answer in time")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn numbers_past_u32() {
    let app = TestApp::spawn().await;
    let reply = app
        .post_events(
            &one_event(),
            &[("openstack-api-version", "compute 2.4294967296")],
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_ACCEPTABLE, "{:?}", reply.body);
    assert_eq!(reply.body["computeFault"]["code"], 406);
    // `?limit=` past u32 is a full page of 1000: checked where a directory
    // holds more than that (directory_api::parallel_bulk_writes_take_turns…).
    app.stop().await;
}
