//! Token validation against the real Keystone: roles decide (403), bad and
//! revoked tokens are 401 (after the cache entry expires, or at once without
//! a cache), herald's own wrong password and an unreachable Keystone are 503.

use std::time::Duration;

use http::StatusCode;
use serde_json::json;

use super::fixture::{Fixture, herald, probe, probe_until, probe_with};
use crate::support::parts::{self, require};
use crate::support::{TestApp, new_uuid};
use herald::api::auth_config::AuthMode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystone_roles_decide_and_bad_tokens_are_401() {
    let keystone = require!(parts::keystone());
    let mut f = Fixture::new(&keystone).await;
    let app = herald(&mut f, Duration::from_secs(300), None).await;
    app.wait_ready().await;
    let admin_token = f.user_token(&["admin"]).await;
    let member_token = f.user_token(&["member"]).await;

    let ok = probe_with(&app, &admin_token).await;
    assert_eq!(ok.status, StatusCode::NOT_FOUND, "{:?}", ok.body);
    let member = probe_with(&app, &member_token).await;
    assert_eq!(member.status, StatusCode::FORBIDDEN, "{:?}", member.body);
    let garbage = probe_with(&app, "garbage").await;
    assert_eq!(
        garbage.status,
        StatusCode::UNAUTHORIZED,
        "{:?}",
        garbage.body
    );
    assert_eq!(
        garbage.headers[http::header::WWW_AUTHENTICATE],
        "Keystone uri=\"http://keystone.example/v3\""
    );
    let events = app
        .post_events(
            &json!({"events": [{"name": "network-changed", "server_uuid": new_uuid()}]}),
            &[("x-auth-token", &admin_token)],
        )
        .await;
    assert_eq!(events.status, StatusCode::MULTI_STATUS, "{:?}", events.body);
    assert_eq!(events.codes(), [404]);

    // Cached: a revoked token stays accepted until its entry expires (as keystonemiddleware).
    f.revoke(&admin_token).await;
    let cached = probe_with(&app, &admin_token).await;
    assert_eq!(cached.status, StatusCode::NOT_FOUND);
    app.stop().await;
    f.cleanup().await;
}

/// A token accepted (404 from behind auth), revoked, then refused (401)
/// by serve with a token cache of `cache`: at once, or once it expires.
async fn revoked_token_is_refused_within(cache: Duration, limit: Duration) {
    let keystone = require!(parts::keystone());
    let mut f = Fixture::new(&keystone).await;
    let app = herald(&mut f, cache, None).await;
    let token = f.user_token(&["admin"]).await;
    let before = probe_with(&app, &token).await;
    assert_eq!(before.status, StatusCode::NOT_FOUND, "{:?}", before.body);
    f.revoke(&token).await;
    let (accepted, refused) = (StatusCode::NOT_FOUND, StatusCode::UNAUTHORIZED);
    probe_until(&app, &token, (accepted, refused), limit).await;
    app.stop().await;
    f.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystone_revoked_token_is_401_at_once_without_cache() {
    // No wait at all: the first request after the revocation is refused.
    revoked_token_is_refused_within(Duration::ZERO, Duration::ZERO).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystone_short_cache_forgets_a_revoked_token() {
    revoked_token_is_refused_within(Duration::from_millis(500), Duration::from_secs(20)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystone_wrong_own_password_is_not_ready_and_503() {
    let keystone = require!(parts::keystone());
    let mut f = Fixture::new(&keystone).await;
    let app = herald(&mut f, Duration::from_secs(300), Some("wrong-password")).await;
    let ready = app.get("/readyz").await;
    assert_eq!(
        ready.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        ready.body
    );
    assert_eq!(ready.body["keystone"], "unavailable");
    let token = f.user_token(&["admin"]).await;
    let r = probe_with(&app, &token).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
    assert!(r.body.get("serviceUnavailable").is_some(), "{:?}", r.body);
    app.stop().await;
    f.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystone_unreachable_is_503() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let app = TestApp::spawn_with(move |c| {
        c.auth.mode = AuthMode::Keystone;
        c.keystone.auth_url = format!("http://127.0.0.1:{port}/v3");
        c.keystone.username = "herald".into();
        c.keystone.password = "x".into();
    })
    .await;
    let r = probe(&app, &[("x-auth-token", "some-token")]).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{:?}", r.body);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_tries_the_keystone_credentials() {
    let keystone = require!(parts::keystone());
    let mut f = Fixture::new(&keystone).await;
    let (user, password) = f.user(&["service"]).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let url = &keystone.url;
    let run = |password: &str, offline: bool| {
        let path = dir.path().join("herald.toml");
        let text = format!(
            "[auth]\nmode = \"keystone\"\nauth_url = {url:?}\nusername = {user:?}\n\
             password = {password:?}\nproject_name = {project:?}\n\
             [directory]\nurl = \":memory:\"\n",
            project = f.project
        );
        std::fs::write(&path, text).expect("write config");
        let mut args = vec!["check-config", "--config", path.to_str().expect("utf-8")];
        if offline {
            args.push("--offline");
        }
        std::process::Command::new(env!("CARGO_BIN_EXE_herald"))
            .args(&args)
            .output()
            .expect("herald runs")
    };
    let good = run(&password, false);
    assert!(
        good.status.success(),
        "{}",
        String::from_utf8_lossy(&good.stderr)
    );
    let bad = run("wrong-password", false);
    assert!(
        !bad.status.success(),
        "a wrong password passed check-config"
    );
    let reason = String::from_utf8_lossy(&bad.stderr);
    assert!(reason.contains("auth.password"), "names the key: {reason}");
    let printed = String::from_utf8_lossy(&bad.stdout);
    assert!(
        !reason.contains("wrong-password") && !printed.contains("wrong-password"),
        "never prints the password: {reason}\n{printed}"
    );
    let offline = run("wrong-password", true);
    assert!(offline.status.success(), "--offline asks nobody");
    f.cleanup().await;
}
