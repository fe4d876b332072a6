//! The regression test of the silent downgrade: herald once opened an
//! `amqps://` URL as plain TCP (lapin had no TLS backend) and reported
//! "connected". Pointed at the machine's plain AMQP port, an `amqps://` URL
//! must fail its TLS handshake, every time, and serve must stay not ready.

use std::process::Command;
use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, new_uuid, poll_until};

/// TLS asked for, at the machine's plain (non-TLS) AMQP listener.
const AMQPS_AT_PLAIN_PORT: &str = "amqps://guest:guest@127.0.0.1:5672/%2f";

/// `herald_broker_connect_failures_total` from serve's /metrics (0 when absent).
async fn connect_failures(app: &TestApp) -> u64 {
    let reply = app.request(Method::GET, "/metrics", None, &[]).await;
    let text = reply.body.as_str().unwrap_or_default().to_owned();
    text.lines()
        .find_map(|l| l.strip_prefix("herald_broker_connect_failures_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_never_connects_to_a_plain_port_through_an_amqps_url() {
    let app = TestApp::spawn_with(|c| c.amqp.url = AMQPS_AT_PLAIN_PORT.into()).await;
    // Either serve connected (the defect) or it failed at least twice.
    poll_until(
        "serve connected or failed twice",
        Duration::from_secs(30),
        || async {
            let ready = app.request(Method::GET, "/readyz", None, &[]).await;
            ready.status == StatusCode::OK || connect_failures(&app).await >= 2
        },
    )
    .await;
    let ready = app.request(Method::GET, "/readyz", None, &[]).await;
    assert_eq!(
        ready.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "an amqps:// URL connected to a plain port: {:?}",
        ready.body
    );
    assert_eq!(ready.body["broker"], "disconnected");
    let server = new_uuid();
    app.put_server(&server, Some("h"), None).await;
    let body = json!({"events": [{"name": "network-vif-plugged", "server_uuid": server}]});
    let reply = app.post_events(&body, &[]).await;
    assert_eq!(reply.body["events"][0]["code"], 503, "{:?}", reply.body);
    app.stop().await;
}

#[test]
fn check_config_fails_on_an_amqps_url_at_a_plain_port() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("herald.toml");
    std::fs::write(
        &path,
        format!(
            "[auth]\nmode = \"noauth\"\n[directory]\nurl = \":memory:\"\n\
             [amqp]\nurl = \"{AMQPS_AT_PLAIN_PORT}\"\nconnect_timeout = \"10s\"\n"
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "check-config accepted amqps:// at a plain port: {stderr}"
    );
    assert!(
        stderr.contains("127.0.0.1:5672"),
        "names the node: {stderr}"
    );
    assert!(stderr.contains("TLS"), "says it is TLS: {stderr}");
    // The reason is one line: the last (check-config says what it checks first).
    let reason = stderr.trim_end().lines().last().unwrap_or_default();
    assert!(
        reason.contains("127.0.0.1:5672") && reason.contains("TLS"),
        "{stderr}"
    );
}
