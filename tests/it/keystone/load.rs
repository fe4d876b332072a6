//! `herald load` authenticating through Keystone (`--os-*` password flags)
//! against serve in keystone mode: every accepted event arrives.

use std::time::Duration;

use clap::Parser;
use tokio_util::sync::CancellationToken;

use super::fixture::{Fixture, herald, keystone_url};
use crate::support::within;
use herald::load::LoadArgs;

/// Starting serve, a refused run, serve's stop (CI's slowest: a few s).
const STEP: Duration = Duration::from_secs(60);
/// The 20-request run, its drain included (10 s at most) and its token.
const RUN: Duration = Duration::from_secs(120);

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    load: LoadArgs,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn herald_load_gets_its_token_from_keystone() {
    let Some((url, admin)) = keystone_url() else {
        return;
    };
    // The fixture's and TestApp's requests each have a deadline of their own.
    let mut f = Fixture::new(&url, &admin).await;
    let app = within(
        STEP,
        "serve in keystone mode",
        herald(&mut f, Duration::from_secs(300), None),
    )
    .await;
    app.wait_ready().await;
    let (user, password) = f.user(&["admin"]).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = crate::support::load_config_file(&app, &dir)
        .display()
        .to_string();
    let serve_url = app.url("");
    let args = Cli::try_parse_from([
        "load",
        "--url",
        &serve_url,
        "--config",
        &config,
        "--os-auth-url",
        &f.url,
        "--os-username",
        &user,
        "--os-password",
        &password,
        "--os-project-name",
        &f.project,
        "--servers",
        "20",
        "--hosts",
        "2",
        "--requests",
        "20",
        "--concurrency",
        "4",
        "--cleanup",
    ])
    .expect("valid flags")
    .load;
    let report = within(
        RUN,
        "herald load's run",
        crate::support::run_load(args, CancellationToken::new()),
    )
    .await
    .expect("the run completes");
    assert_eq!(report.accepted, report.events_sent, "{report}");
    assert_eq!(report.broker.as_ref().expect("consumed").lost, 0);
    report.verdict().expect("the run passes");

    let refused = Cli::try_parse_from([
        "load",
        "--url",
        &serve_url,
        "--os-auth-url",
        &f.url,
        "--os-username",
        &user,
        "--os-password",
        "wrong",
        "--os-project-name",
        &f.project,
    ])
    .expect("valid flags")
    .load;
    let error = within(
        STEP,
        "herald load with a wrong password",
        crate::support::run_load(refused, CancellationToken::new()),
    )
    .await
    .expect_err("a wrong password stops the run before it starts");
    assert!(
        error.to_string().contains("--os-auth-url"),
        "names the flag: {error}"
    );
    within(STEP, "serve's stop", app.stop()).await;
    f.cleanup().await;
}
