//! `herald load` through a kill -9 and restart of the broker node it and
//! serve use: the run keeps counting, prints a full report with nothing
//! answered 200 lost, and names the outage it saw. The run is stopped once
//! serve answers 200 again, however long the node took to restart (10 to
//! 25 s on a busy two-core machine: a fixed 25 s run could end before).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::driver::serve_on;
use crate::broker_node::OwnNode;
use crate::support::names::write_config;
use crate::support::{load_at, poll_until, run_load};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_reports_through_a_broker_kill_and_restart_with_nothing_lost() {
    let mut own = OwnNode::start().await;
    let app = serve_on(own.node.url().into(), |_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    // serve's config as it runs, 2 s connect timeout included: load's
    // consumers give up a connect that hangs on the restarting node as
    // soon as serve does.
    let config = write_config(&app.config, dir.path());
    let flags = [
        ["--servers", "20"],
        ["--hosts", "2"],
        ["--duration", "120s"],
        ["--concurrency", "4"],
        ["--drain-timeout", "30s"],
    ];
    let args = load_at(
        &app,
        &config,
        &[&flags.concat()[..], &["--cleanup"]].concat(),
    );
    let stop = CancellationToken::new();
    let run = tokio::spawn(run_load(args, stop.clone()));
    let answered = |code| format!("herald_events_total{{code=\"{code}\"}}");

    poll_until("load is sending", Duration::from_secs(30), || async {
        app.metric_sum(&answered(200)).await >= 200.0
    })
    .await;
    own.node.kill().await;
    own.node.restart().await;
    let before = app.metric_sum(&answered(200)).await;
    poll_until(
        "serve answers 200 again",
        Duration::from_secs(60),
        || async { app.metric_sum(&answered(200)).await >= before + 200.0 },
    )
    .await;
    stop.cancel();
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
