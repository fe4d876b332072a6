//! `herald load` against a real `herald serve`: every event the API accepted
//! arrives on the host queues, and the run removes the queues and directory
//! entries it created.

use http::StatusCode;
use tokio_util::sync::CancellationToken;

use herald::model::HostName;

use crate::support::broker::queue_depth;
use crate::support::{TestApp, broker, load_at, load_config_file};

async fn run_and_check(extra: &[&str], hosts: u32) {
    let app = TestApp::ready().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let args = load_at(&app, &load_config_file(&app, &dir), extra);

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

    let conn = broker().await;
    for i in 0..hosts {
        let host = HostName::parse(&format!("load-{i}")).expect("valid host");
        let queue = app.topology.queue(&host);
        let left = queue_depth(&conn, &queue).await;
        assert!(left.is_none(), "{queue} was left behind");
    }
    let left = app.get("/directory/servers?host=load-0").await;
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
    let app = TestApp::ready().await;
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
    let args = load_at(&app, &load_config_file(&app, &dir), &extra);
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
