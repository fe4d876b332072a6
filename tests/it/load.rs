//! `herald load` against a real `herald serve`: every event the API accepted
//! arrives on the host queues, and the run removes the queues and directory
//! entries it created.

use std::path::Path;

use clap::Parser;
use http::{Method, StatusCode};
use lapin::options::QueueDeclareOptions;
use lapin::types::FieldTable;
use tokio_util::sync::CancellationToken;

use herald::load::LoadArgs;
use herald::model::HostName;

use crate::support::{ADMIN_TOKEN, TestApp, broker, load_config_file};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    load: LoadArgs,
}

fn load_args(app: &TestApp, config: &Path, extra: &[&str]) -> LoadArgs {
    let url = app.url("");
    let config = config.display().to_string();
    let base = [
        "load",
        "--url",
        &url,
        "--token",
        ADMIN_TOKEN,
        "--config",
        &config,
    ];
    Cli::try_parse_from(base.iter().chain(extra))
        .expect("valid flags")
        .load
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

async fn run_and_check(extra: &[&str], hosts: u32) {
    let app = TestApp::spawn().await;
    app.wait_ready().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let args = load_args(&app, &load_config_file(&app, &dir), extra);

    let report = crate::support::run_load(args, CancellationToken::new())
        .await
        .expect("the run completes");

    assert!(report.requests > 0);
    assert_eq!(report.transport_errors, 0, "{report}");
    assert_eq!(report.accepted, report.events_sent, "{report}");
    let broker_side = report.broker.as_ref().expect("load consumed the queues");
    assert_eq!(broker_side.delivered, report.accepted, "{report}");
    assert_eq!(broker_side.lost, 0);
    report.verdict().expect("the run passes");

    for i in 0..hosts {
        let host = HostName::parse(&format!("load-{i}")).expect("valid host");
        let queue = app.topology.queue(&host);
        assert!(!queue_exists(&queue).await, "{queue} was left behind");
    }
    let left = app
        .request(Method::GET, "/directory/servers?host=load-0", None, &[])
        .await;
    assert_eq!(left.status, StatusCode::OK);
    assert_eq!(
        left.body["servers"],
        serde_json::json!([]),
        "--cleanup removed the entries"
    );
    app.stop().await;
}

#[tokio::test]
async fn closed_loop_every_accepted_event_arrives() {
    let flags = [
        "--servers",
        "40",
        "--hosts",
        "4",
        "--requests",
        "20",
        "--concurrency",
        "4",
        "--cleanup",
    ];
    run_and_check(&flags, 4).await;
}

#[tokio::test]
async fn open_loop_every_accepted_event_arrives() {
    let flags = [
        "--servers",
        "30",
        "--hosts",
        "3",
        "--rate",
        "50",
        "--duration",
        "400ms",
        "--batch-size",
        "6",
        "--cleanup",
    ];
    run_and_check(&flags, 3).await;
}

#[tokio::test]
async fn a_mix_of_unknown_and_unassigned_servers_answers_404_and_422_and_loses_nothing() {
    let app = TestApp::spawn().await;
    app.wait_ready().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let extra = [
        "--servers",
        "20",
        "--hosts",
        "2",
        "--requests",
        "200",
        "--batch-size",
        "5",
        "--unknown-percent",
        "20",
        "--unassigned-percent",
        "10",
        "--cleanup",
    ];
    let args = load_args(&app, &load_config_file(&app, &dir), &extra);
    let report = crate::support::run_load(args, CancellationToken::new())
        .await
        .expect("the run completes");
    let code = |c: u16| report.event_codes.get(&c).copied().unwrap_or(0);
    // 1,000 events: about 200 unknown, 100 unassigned, the rest on hosts.
    assert!((120..280).contains(&code(404)), "{report}");
    assert!((50..160).contains(&code(422)), "{report}");
    assert_eq!(code(404) + code(422) + code(200), 1000, "{report}");
    let broker_side = report.broker.as_ref().expect("load consumed the queues");
    assert_eq!(broker_side.lost, 0, "{report}");
    assert_eq!(broker_side.delivered, report.accepted, "{report}");
    report.verdict().expect("the run passes");
    app.stop().await;
}
