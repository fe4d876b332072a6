//! TLS to a RabbitMQ node of the test's own that asks for client
//! certificates (`verify_peer`, `fail_if_no_peer_cert`), with certificates
//! made by the test: with the CA and a client certificate serve, agent and
//! `herald load` reach it and events arrive; without the client
//! certificate, with an unknown CA and at an address the certificate does
//! not name, herald never connects and says why in one line.

use std::path::Path;
use std::time::Duration;

use http::StatusCode;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use herald::broker::AmqpTlsConfig;

use super::serve_child::ServeChild;
use crate::broker_node::{NodeTls, OwnNode};
use crate::failover::driver::{bind_queue, tags_in};
use crate::support::certs::TestPki;
use crate::support::child::next_line;
use crate::support::{HeraldChild, TestApp, get, load_at, load_config_file, new_uuid, poll_until};

/// A small closed-loop `herald load` run that cleans up after itself.
const SMALL_RUN: [&str; 9] = [
    "--servers",
    "20",
    "--hosts",
    "2",
    "--requests",
    "20",
    "--concurrency",
    "4",
    "--cleanup",
];

/// The node's side: the CA that signs client certificates, its own pair.
fn node_files(pki: &TestPki) -> NodeTls {
    NodeTls {
        ca: pki.path("ca.pem"),
        cert: pki.path("server.pem"),
        key: pki.path("server.key"),
    }
}

/// herald's side: trust `ca`, and present the client certificate if asked.
fn client_tls(pki: &TestPki, ca: &str, client_cert: bool) -> AmqpTlsConfig {
    AmqpTlsConfig {
        enabled: false,
        ca_file: Some(pki.path(ca)),
        cert_file: client_cert.then(|| pki.path("client.pem")),
        key_file: client_cert.then(|| pki.path("client.key")),
        verify_hostname: true,
    }
}

/// `[amqp.tls]` as TOML lines.
fn tls_toml(tls: &AmqpTlsConfig) -> String {
    format!("[amqp.tls]\n{}", toml::to_string(tls).unwrap())
}

/// Runs `herald check-config` on `url` and `tls`: did it pass, and its stderr.
fn check_config(url: &str, tls: &AmqpTlsConfig) -> (bool, String) {
    crate::support::child::check_config(&format!(
        "[auth]\nmode = \"noauth\"\n[directory]\nurl = \":memory:\"\n\
         [amqp]\nurl = \"{url}\"\nconnect_timeout = \"20s\"\n{}",
        tls_toml(tls)
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_agent_and_load_reach_a_mutual_tls_node() {
    let pki = TestPki::new();
    let own = OwnNode::start_tls(&node_files(&pki)).await;
    let url = own.node.amqps_url("localhost");
    let app = TestApp::spawn_with(|c| {
        c.amqp.url = url.as_str().into();
        c.amqp.tls = client_tls(&pki, "ca.pem", true);
        c.amqp.connect_timeout = Duration::from_secs(20);
    })
    .await;
    // A first attempt that reached the node while its TLS listener was still
    // starting waits out its 20 s connect timeout before the next: the
    // deadline covers that and a second attempt (seen once on a busy box).
    app.wait_until_within(
        Duration::from_secs(60),
        |r| r.status == StatusCode::OK,
        "/readyz",
    )
    .await;
    let ready = app.request(http::Method::GET, "/readyz", None, &[]).await;
    let port = own.node.tls_ports.unwrap().named;
    assert_eq!(ready.body["broker_node"], format!("localhost:{port}"));

    // serve: an event is confirmed by the TLS node and sits in the host's queue.
    let plain = own.node.connect().await;
    let server = new_uuid();
    app.put_server(&server, Some("tls-host"), None).await;
    let queue = bind_queue(&plain, &app, "tls-host", false).await;
    let event = json!({"events": [{"name": "network-vif-plugged", "server_uuid": server, "tag": "over-tls"}]});
    let reply = app.post_events(&event, &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    assert_eq!(tags_in(&plain, &queue, 1).await.get("over-tls"), Some(&1));

    // agent: declares its queue and consumes over TLS.
    let dir = tempfile::tempdir().unwrap();
    let agent_server = new_uuid();
    app.put_server(&agent_server, Some("tls-agent"), None).await;
    let mut agent = HeraldChild::agent(&app.config, "tls-agent");
    let mut lines = agent.lines();
    let event = json!({"events": [{"name": "network-vif-plugged", "server_uuid": agent_server, "tag": "to-agent"}]});
    // 503 until the agent has declared and bound its queue.
    poll_until(
        "an event for the agent answers 200",
        Duration::from_secs(60),
        || async { app.post_events(&event, &[]).await.status == StatusCode::OK },
    )
    .await;
    let line = next_line(&mut lines).await;
    assert_eq!(line["server_uuid"], agent_server.as_str());
    agent.kill().await;

    // herald load: declares, consumes and counts over TLS.
    let config = load_config_file(&app, &dir);
    let report =
        crate::support::run_load(load_at(&app, &config, &SMALL_RUN), CancellationToken::new())
            .await
            .expect("the load run completes");
    let broker_side = report.broker.as_ref().expect("load consumed the queues");
    assert!(report.accepted > 0, "{report}");
    assert_eq!(broker_side.delivered, report.accepted, "{report}");
    report.verdict().expect("the run passes");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_node_refuses_never_connects_and_the_reason_is_logged() {
    let pki = TestPki::new();
    let own = OwnNode::start_tls(&node_files(&pki)).await;
    let dir = tempfile::tempdir().unwrap();
    let good = client_tls(&pki, "ca.pem", true);
    let named = own.node.amqps_url("localhost");
    let unnamed = own.node.amqps_url("127.0.0.2");

    // The control: the full setting passes, at the name the certificate
    // carries, and check-config shows the settings in effect (paths only).
    let port = own.node.tls_ports.unwrap();
    let (ok, err) = check_config(&named, &good);
    assert!(ok, "{err}");
    let ca = pki.path("ca.pem").display().to_string();
    for shown in [
        format!("amqp.tls: TLS to 1 of 1 nodes (localhost:{})", port.named),
        format!("trusting {ca}"),
        format!("client certificate {}", pki.path("client.pem").display()),
        format!(
            "broker node localhost:{}: TLS handshake and login OK",
            port.named
        ),
    ] {
        assert!(err.contains(&shown), "{shown} not in {err}");
    }
    assert!(!err.contains("BEGIN"), "paths, not contents: {err}");
    // Every node is checked, not only the first that answers.
    let both = format!("{named},guest:guest@127.0.0.2:{}", port.unnamed);
    let (ok, err) = check_config(&both, &good);
    assert!(!ok, "the second node's certificate does not name it: {err}");
    assert!(
        err.contains(&format!(
            "localhost:{}: TLS handshake and login OK",
            port.named
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("127.0.0.2:{}", port.unnamed)),
        "{err}"
    );
    // Each refusal fails with one line naming the node and rustls's reason.
    let cases = [
        (
            "no client certificate",
            &named,
            client_tls(&pki, "ca.pem", false),
            "asks for a client certificate",
            port.named,
        ),
        (
            "an unknown CA",
            &named,
            client_tls(&pki, "rogue-ca.pem", true),
            "UnknownIssuer",
            port.named,
        ),
        (
            "an address the certificate does not name",
            &unnamed,
            good.clone(),
            "not valid for name",
            port.unnamed,
        ),
    ];
    for (what, url, tls, reason, port) in cases {
        let (ok, err) = check_config(url, &tls);
        eprintln!(
            "tls: {what}: {}",
            err.trim_end().lines().last().unwrap_or_default()
        );
        assert!(!ok, "{what}: check-config passed");
        assert!(err.contains(reason), "{what}: {reason} not in {err}");
        assert!(
            err.contains(&format!(":{port}")),
            "{what}: the node is named: {err}"
        );
        assert!(err.contains("TLS"), "{what}: {err}");
        let last = err.trim_end().lines().last().unwrap_or_default();
        assert!(
            last.contains(reason) && last.contains("TLS"),
            "{what}: one line: {err}"
        );
    }
    // verify_hostname = false accepts the unnamed address (the chain still counts).
    let lax = AmqpTlsConfig {
        verify_hostname: false,
        ..good.clone()
    };
    let (ok, err) = check_config(&unnamed, &lax);
    assert!(ok, "{err}");
    let lax_rogue = AmqpTlsConfig {
        verify_hostname: false,
        ..client_tls(&pki, "rogue-ca.pem", true)
    };
    let (ok, err) = check_config(&unnamed, &lax_rogue);
    assert!(!ok && err.contains("UnknownIssuer"), "{err}");

    // serve without its client certificate: never ready, the reason logged
    // once in full while it keeps failing.
    let serve = ServeChild::start(&serve_toml(
        dir.path(),
        &named,
        &client_tls(&pki, "ca.pem", false),
    ))
    .await;
    poll_until(
        "serve failed three rounds",
        Duration::from_secs(60),
        || async { serve.metric("herald_broker_connect_failures_total").await >= 3 },
    )
    .await;
    let (status, ready) = get(serve.addr, "/readyz").await;
    assert_eq!(status, 503, "{ready}");
    assert_eq!(ready["broker"], "disconnected");
    let log = serve.stop().await;
    let warned: Vec<_> = log
        .iter()
        .filter(|l| l.contains("WARN") && l.contains("no broker node answered"))
        .collect();
    assert_eq!(
        warned.len(),
        1,
        "one full line, not one per attempt: {log:#?}"
    );
    eprintln!("tls: serve logged: {}", warned[0]);
    assert!(
        warned[0].contains("asks for a client certificate"),
        "{}",
        warned[0]
    );
    assert!(
        warned[0].contains(&format!("localhost:{}", port.named)),
        "{}",
        warned[0]
    );
}

fn serve_toml(dir: &Path, url: &str, tls: &AmqpTlsConfig) -> String {
    format!(
        "[http]\nlisten = \"127.0.0.1:0\"\n[auth]\nmode = \"noauth\"\n\
         [directory]\nurl = {:?}\n\
         [amqp]\nurl = \"{url}\"\nexchange = \"herald-tls-{}\"\n\
         reconnect_min_backoff = \"50ms\"\nreconnect_max_backoff = \"200ms\"\n{}\
         [log]\nlevel = \"info\"\nformat = \"text\"\n",
        dir.join("serve.sqlite3").display().to_string(),
        &crate::support::unique_name()[12..],
        tls_toml(tls),
    )
}
