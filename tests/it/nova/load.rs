//! `herald load --nova-servers` against herald in Nova mode on a real cloud:
//! servers made with nova's objects, herald casting on Nova's wire, load
//! consuming the compute topics as nova-compute would and reading oslo's
//! envelope. Every event answered 200 arrives, the 404s (servers Nova does
//! not know) do not, and the compute queues the run declared are gone after.

use serde_json::json;
use tokio_util::sync::CancellationToken;

use herald::broker::{NovaTopic, Wire};

use super::cloud::{Db, NovaCloud, caller_token};
use crate::support::broker::queue_now;
use crate::support::{
    BrokerCleanup, TestApp, broker, load_args, load_config_file, run_load, unique_name,
};

const CALLER: &str = "load-caller";
const SERVERS: usize = 6;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_counts_every_cast_of_nova_mode() {
    let tag = &unique_name()[12..22];
    let hosts: Vec<String> = (0..3).map(|i| format!("ld{tag}-{i}")).collect();
    let host = |i: usize| hosts[i % hosts.len()].clone();
    let instances: Vec<_> = (0..SERVERS)
        .map(|i| {
            json!({"key": format!("s{i}"), "cell": "cell1", "host": host(i),
                        "project_id": "bench", "user_id": "bench"})
        })
        .collect();
    let Some(cloud) = NovaCloud::create(Db::Mariadb, 1, &json!({ "instances": instances })).await
    else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let servers = dir.path().join("servers.json");
    let listing: Vec<_> = (0..SERVERS)
        .map(|i| json!({"uuid": cloud.uuid(&format!("s{i}")), "host": host(i)}))
        .collect();
    std::fs::write(&servers, json!({ "servers": listing }).to_string()).expect("writable");
    let exchange = format!("nova-load-{tag}");
    let mut cleanup = BrokerCleanup::exchange(&exchange);
    // Not waited on: serve is ready once the exchange exists, which the
    // load run declares (as nova-compute would) before it waits for serve.
    let app = TestApp::spawn_with(|c| {
        cloud.directory_of(c);
        c.amqp.wire = Wire::Nova;
        c.amqp.nova_exchange = exchange.clone();
        c.amqp.nova_topic = NovaTopic::ComputeAlt;
        let roles = ["admin", "service"];
        (c.auth.tokens).push(caller_token(CALLER, &roles, "bench", "bench"));
    })
    .await;
    let config = load_config_file(&app, &dir);
    let url = app.url("");
    let args = load_args(&[
        "--url",
        &url,
        "--token",
        CALLER,
        "--config",
        &config.display().to_string(),
        "--nova-servers",
        &servers.display().to_string(),
        "--requests",
        "30",
        "--batch-size",
        "4",
        "--concurrency",
        "4",
        "--unknown-percent",
        "25",
        "--drain-timeout",
        "30s",
    ]);

    let report = run_load(args, CancellationToken::new()).await;
    cleanup.clean().await;
    let report = report.expect("the run completes");

    assert_eq!(report.transport_errors, 0, "{report}");
    let codes = &report.event_codes;
    assert!(codes.get(&200).is_some_and(|&n| n > 0), "{report}");
    assert!(
        codes.get(&404).is_some_and(|&n| n > 0),
        "servers Nova does not know: {report}"
    );
    let got = report
        .broker
        .as_ref()
        .expect("load consumed the compute queues");
    assert_eq!(
        got.delivered, report.accepted,
        "every 200 arrived: {report}"
    );
    assert!(
        got.delivered < report.events_sent,
        "the 404s were not cast, and nothing else was counted: {report}"
    );
    assert_eq!(
        (got.lost, got.undecodable, got.duplicates),
        (0, 0, 0),
        "{report}"
    );
    assert!(got.messages > 0 && got.messages <= 30 * 3, "{report}");
    report.verdict().expect("the run passes");

    let conn = broker().await;
    for h in &hosts {
        for topic in ["compute", "compute-alt"] {
            let queue = format!("{topic}.{h}");
            let left = queue_now(&conn, &queue).await;
            assert!(left.is_none(), "{queue} was left behind");
        }
    }
    app.stop().await;
}
