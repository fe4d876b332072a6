//! `herald load` through a kill -9 and restart of the broker node it and
//! serve use: the run keeps counting, prints a full report with nothing
//! answered 200 lost, and names the outage it saw.

use std::time::Duration;

use clap::Parser;
use http::Method;
use tokio_util::sync::CancellationToken;

use herald::load::LoadArgs;

use super::driver::serve_on;
use crate::broker_node::OwnNode;
use crate::support::{ADMIN_TOKEN, TestApp, poll_until};

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    load: LoadArgs,
}

/// serve's `herald_events_total` sum, from /metrics.
async fn events_answered(app: &TestApp) -> f64 {
    let text = app.request(Method::GET, "/metrics?text", None, &[]).await;
    let text = text.body.as_str().unwrap_or_default().to_owned();
    text.lines()
        .filter(|l| l.starts_with("herald_events_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_reports_through_a_broker_kill_and_restart_with_nothing_lost() {
    let mut own = OwnNode::start().await;
    let app = serve_on(own.node.url().into(), |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("herald.toml");
    std::fs::write(&config, toml::to_string(&app.config).unwrap()).unwrap();
    let (base, config) = (app.url(""), config.display().to_string());
    let flags = [
        "load",
        "--url",
        &base,
        "--token",
        ADMIN_TOKEN,
        "--config",
        &config,
        "--servers",
        "20",
        "--hosts",
        "2",
        "--duration",
        "25s",
        "--concurrency",
        "4",
        "--drain-timeout",
        "30s",
        "--cleanup",
    ];
    let args = Cli::try_parse_from(flags).unwrap().load;
    let run = tokio::spawn(crate::support::run_load(args, CancellationToken::new()));

    poll_until("load is sending", Duration::from_secs(30), || async {
        events_answered(&app).await >= 200.0
    })
    .await;
    own.node.kill().await;
    own.node.restart().await;
    let report = run.await.unwrap().expect("the run completes and reports");
    eprintln!("failover: herald load across kill -9 + restart:\n{report}");
    let broker = report.broker.as_ref().expect("load consumed the queues");
    assert_eq!(broker.lost, 0, "{report}");
    assert!(broker.reconnects >= 1, "the consumers came back: {report}");
    assert!(
        report.windows.first_503_to_next_200_ms.is_some(),
        "the outage shows in the report: {report}"
    );
    assert!(report.problems.is_empty(), "{report}");
    report.verdict().expect("nothing answered 200 was lost");
    app.stop().await;
}
