//! `herald load --nova-servers` against herald in Nova mode on a real cloud:
//! servers made with nova's objects, herald casting on Nova's wire, load
//! consuming the compute topics as nova-compute would and reading oslo's
//! envelope. Every event answered 200 arrives, the 404s (servers Nova does
//! not know) do not, and the compute queues the run declared are gone after.

use std::time::Duration;

use clap::Parser;
use lapin::options::{ExchangeDeleteOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use herald::api::auth_config::TokenConfig;
use herald::broker::{NovaTopic, Wire};
use herald::directory::config::DirectoryBackend;
use herald::load::LoadArgs;

use super::cloud::{Db, NovaCloud};
use crate::support::{TestApp, broker, load_config_file, run_load};

const CALLER: &str = "load-caller";
const SERVERS: usize = 6;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    load: LoadArgs,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_counts_every_cast_of_nova_mode() {
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..10];
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
    // Not waited on: serve is ready once the exchange exists, which the
    // load run declares (as nova-compute would) before it waits for serve.
    let app = TestApp::spawn_with(|c| {
        c.directory.backend = DirectoryBackend::Nova;
        c.directory.url = cloud.api_url();
        c.directory.nova_database_url = cloud.nova_database_url();
        c.directory.query_timeout = Duration::from_secs(10);
        c.amqp.wire = Wire::Nova;
        c.amqp.nova_exchange = exchange.clone();
        c.amqp.nova_topic = NovaTopic::ComputeAlt;
        c.auth.tokens.push(TokenConfig {
            token: Some(CALLER.into()),
            roles: vec!["admin".into(), "service".into()],
            user_id: Some("bench".into()),
            project_id: Some("bench".into()),
            ..TokenConfig::default()
        });
    })
    .await;
    let config = load_config_file(&app, &dir);
    let url = app.url("");
    let args = Cli::try_parse_from([
        "load",
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
    ])
    .expect("valid flags")
    .load;

    let report = run_load(args, CancellationToken::new()).await;
    remove_exchange(&exchange).await;
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

    for h in &hosts {
        for topic in ["compute", "compute-alt"] {
            let queue = format!("{topic}.{h}");
            assert!(!queue_exists(&queue).await, "{queue} was left behind");
        }
    }
    app.stop().await;
}

async fn queue_exists(queue: &str) -> bool {
    let conn = broker().await;
    let channel = conn.create_channel().await.expect("channel");
    let passive = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let found = channel
        .queue_declare(queue.into(), passive, FieldTable::default())
        .await
        .is_ok();
    let _ = conn.close(200, "probed".into()).await;
    found
}

async fn remove_exchange(exchange: &str) {
    let conn = broker().await;
    let channel = conn.create_channel().await.expect("channel");
    channel
        .exchange_delete(exchange.into(), ExchangeDeleteOptions::default())
        .await
        .expect("the run's exchange is deleted");
    let _ = conn.close(200, "cleaned".into()).await;
}
