//! `herald load` authenticating through Keystone (`--os-*` password flags)
//! against serve in keystone mode: every accepted event arrives.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::fixture::{Fixture, herald};
use crate::support::parts::{self, require};
use crate::support::{load_args, load_config_file, within};

/// Starting serve, a refused run, serve's stop (CI's slowest: a few s).
const STEP: Duration = Duration::from_secs(60);
/// The 20-request run, its drain included (10 s at most) and its token.
const RUN: Duration = Duration::from_secs(120);

/// `herald load` at `serve` with Keystone's `--os-*` password flags.
fn os_flags<'a>(serve: &'a str, f: &'a Fixture, user: &'a str, password: &'a str) -> Vec<&'a str> {
    let flags = [
        ["--url", serve],
        ["--os-auth-url", &f.url],
        ["--os-username", user],
        ["--os-password", password],
        ["--os-project-name", &f.project],
    ];
    flags.concat()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn herald_load_gets_its_token_from_keystone() {
    let keystone = require!(parts::keystone());
    // The fixture's and TestApp's requests each have a deadline of their own.
    let mut f = Fixture::new(&keystone).await;
    let app = within(
        STEP,
        "serve in keystone mode",
        herald(&mut f, Duration::from_secs(300), None),
    )
    .await;
    app.wait_ready().await;
    let (user, password) = f.user(&["admin"]).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let config = load_config_file(&app, &dir).display().to_string();
    let serve_url = app.url("");
    let run = [
        ["--config", &config],
        ["--servers", "20"],
        ["--hosts", "2"],
        ["--requests", "20"],
        ["--concurrency", "4"],
    ];
    let mut flags = os_flags(&serve_url, &f, &user, &password);
    flags.extend(run.concat());
    flags.push("--cleanup");
    let args = load_args(&flags);
    let load = |args, limit, what| {
        within(
            limit,
            what,
            crate::support::run_load(args, CancellationToken::new()),
        )
    };
    let report = load(args, RUN, "herald load's run")
        .await
        .expect("the run completes");
    assert_eq!(report.accepted, report.events_sent, "{report}");
    assert_eq!(report.broker.as_ref().expect("consumed").lost, 0);
    report.verdict().expect("the run passes");

    let refused = load_args(&os_flags(&serve_url, &f, &user, "wrong"));
    let error = load(refused, STEP, "herald load with a wrong password")
        .await
        .expect_err("a wrong password stops the run before it starts");
    assert!(
        error.to_string().contains("--os-auth-url"),
        "names the flag: {error}"
    );
    within(STEP, "serve's stop", app.stop()).await;
    f.cleanup().await;
}
