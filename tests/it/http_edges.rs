//! The request edges of the events route: auth (401/403), microversion
//! negotiation and headers (400/406), methods (405), bodies (413/415/400),
//! version discovery, and input that must never cause a 500. The raw-socket
//! connection edges live in `http_wire`.

use http::{Method, StatusCode};
use serde_json::json;

use crate::support::raw;
use crate::support::{READER_TOKEN, SERVICE_TOKEN, TestApp, new_uuid};
pub(crate) fn one_event() -> serde_json::Value {
    json!({"events": [{"name": "network-changed", "server_uuid": new_uuid()}]})
}

/// One event for a server nobody knows, sent with `headers`: 207 (its 404)
/// once auth let it through.
async fn assert_one_event_is_207(app: &TestApp, headers: &[(&str, &str)]) {
    let reply = app.post_events(&one_event(), headers).await;
    assert_eq!(reply.status, StatusCode::MULTI_STATUS, "{:?}", reply.body);
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
async fn missing_or_unknown_tokens_are_401_and_roles_decide_403_before_version_and_body() {
    let app = TestApp::spawn().await;
    let cases = [
        ("", 401, "unauthorized"),
        ("who-knows", 401, "unauthorized"),
        (READER_TOKEN, 403, "forbidden"),
        (SERVICE_TOKEN, 207, "a service-only token may post"),
    ];
    for (token, status, fault) in cases {
        let auth = [("x-auth-token", token)];
        let reply = app.post_events(&one_event(), &auth).await;
        assert_eq!(reply.status.as_u16(), status, "{token:?}: {fault}");
        if status == 207 {
            continue;
        }
        assert_eq!(reply.body[fault]["code"], status, "{:?}", reply.body);
        // Auth comes before the microversion and the body.
        let version = ("openstack-api-version", "compute 9.9");
        let bad = app
            .post_events(&json!({"nope": 1}), &[auth[0], version])
            .await;
        assert_eq!(bad.status.as_u16(), status, "{token:?} before all else");
        // The directory routes are protected the same way.
        let dir = app
            .request(Method::GET, "/directory/servers", None, &auth)
            .await;
        assert_eq!(dir.status.as_u16(), status, "{token:?} on the directory");
    }
    app.stop().await;
}

#[tokio::test]
async fn noauth_accepts_everyone() {
    let app =
        TestApp::spawn_with(|c| c.auth.mode = herald::api::auth_config::AuthMode::Noauth).await;
    assert_one_event_is_207(&app, &[("x-auth-token", "anything")]).await;
    app.stop().await;
}

#[tokio::test]
async fn microversions_are_negotiated_echoed_and_refused_with_406_or_400() {
    let app = TestApp::spawn().await;
    let plain = app.post_events(&one_event(), &[]).await;
    assert_version_headers(&plain, "2.1");
    const STANDARD: &str = "openstack-api-version";
    let nope = json!({"nope": 1});
    // (header, value, body, status, the version the answer's headers name)
    let cases = [
        (STANDARD, "compute latest", one_event(), 207, Some("2.104")),
        (
            STANDARD,
            "volume 3.7, compute 2.80, image 2.1",
            one_event(),
            207,
            Some("2.80"),
        ),
        (STANDARD, "compute 2.105", one_event(), 406, Some("2.1")),
        (
            "x-openstack-nova-api-version",
            "2.x",
            one_event(),
            400,
            Some("2.1"),
        ),
        // The microversion comes before the body...
        (STANDARD, "compute 3.0", nope.clone(), 406, None),
        // ...and refused bodies carry the headers too.
        (STANDARD, "compute 2.93", nope, 400, Some("2.93")),
    ];
    for (header, value, body, status, version) in cases {
        let reply = app.post_events(&body, &[(header, value)]).await;
        assert_eq!(reply.status.as_u16(), status, "{value}: {:?}", reply.body);
        if status == 406 {
            assert_eq!(reply.body["computeFault"]["code"], 406, "{value}");
        }
        if let Some(version) = version {
            assert_version_headers(&reply, version);
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn every_events_path_takes_only_post_and_version_documents_need_no_token() {
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
        let get = app.get(path).await;
        assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED, "{path}");
        assert_eq!(get.headers["allow"], "POST");
        assert_eq!(get.body["badMethod"]["code"], 405);
    }
    let unknown = app.get("/servers").await;
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
    let ids = app.get("/nope").await;
    assert!(
        ids.headers["x-openstack-request-id"]
            .to_str()
            .unwrap()
            .starts_with("req-")
    );
    app.stop().await;
}

#[tokio::test]
async fn oversize_foreign_and_malformed_bodies_are_413_415_and_400() {
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
    assert_one_event_is_207(&app, &[]).await;
    app.stop().await;
}

#[tokio::test]
async fn metrics_count_requests_and_events() {
    let app = TestApp::spawn().await;
    assert_one_event_is_207(&app, &[]).await;
    let metrics = app.get("/metrics").await;
    let text = metrics.text();
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
    let mut headers = vec![format!("content-length: {}", body.len())];
    headers.push("connection: close".into());
    if !content_type.is_empty() {
        headers.push(format!("content-type: {content_type}"));
    }
    let request = [raw::head(raw::EVENTS, &headers).as_bytes(), body].concat();
    raw::read_to_close(&mut raw::send(app.addr, &request).await).await
}

#[tokio::test]
async fn a_microversion_past_u32_is_406_not_a_wrapped_number() {
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
