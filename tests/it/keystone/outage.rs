//! A Keystone process the test owns, on the database and keys of the one
//! scripts/test.sh runs (so users and tokens are shared): stopped mid-run
//! it makes every unchecked request a 503, and back it makes them pass
//! again; configured with a short token lifetime it issues tokens that
//! expire during the test, so that an expired token (cached or not) is a
//! 401, unless a service token vouches for it.

use std::time::Duration;

use http::StatusCode;

use super::fixture::{Fixture, herald, herald_at, probe, probe_until, probe_with};
use super::own::OwnKeystone;
use crate::support::parts::{self, require};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystone_stopped_mid_run_is_503_then_200_when_back() {
    let shared = require!(parts::keystone());
    let mut f = Fixture::new(&shared).await;
    let mut keystone = OwnKeystone::start(&shared, None).await;
    // No cache: every request asks Keystone.
    let app = herald_at(&mut f, &keystone.url(), Duration::ZERO, None).await;
    app.wait_ready().await;
    let token = f.user_token(&["admin"]).await;
    assert_eq!(probe_with(&app, &token).await.status, StatusCode::NOT_FOUND);

    keystone.kill().await;
    keystone.wait_gone().await;
    let down = probe_with(&app, &token).await;
    assert_eq!(
        down.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{:?}",
        down.body
    );
    assert!(
        down.body.get("serviceUnavailable").is_some(),
        "{:?}",
        down.body
    );
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);

    keystone.restart().await;
    // Neither through nor 503 is a failure while Keystone comes back.
    let (unavailable, through) = (StatusCode::SERVICE_UNAVAILABLE, StatusCode::NOT_FOUND);
    probe_until(
        &app,
        &token,
        (unavailable, through),
        Duration::from_secs(30),
    )
    .await;
    app.wait_ready().await;
    app.stop().await;
    f.cleanup().await;
}

/// Issues a token from `keystone` (short-lived) for a user with `roles`.
async fn short_token(f: &mut Fixture, keystone: &OwnKeystone, roles: &[&str]) -> String {
    let (user, password) = f.user(roles).await;
    let project = f.project.clone();
    f.token_at(&keystone.url(), &user, &password, &project)
        .await
        .expect("a short-lived token")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystone_expired_tokens_are_401_unless_a_service_token_vouches() {
    let shared = require!(parts::keystone());
    let mut f = Fixture::new(&shared).await;
    // Long enough that issuing and first use fit in it on a loaded machine
    // (4 s did not, once, with CI and a benchmark sharing two cores).
    let keystone = OwnKeystone::start(&shared, Some(15)).await;
    // A long cache: an entry must still not outlive its token's expires_at.
    let app = herald(&mut f, Duration::from_secs(300), None).await;
    app.wait_ready().await;
    let user = short_token(&mut f, &keystone, &["admin"]).await;
    let service = f.user_token(&["service"]).await;
    let member = f.user_token(&["member"]).await;

    assert_eq!(
        probe_with(&app, &user).await.status,
        StatusCode::NOT_FOUND,
        "valid before it expires (and now cached)"
    );
    let (valid, expired) = (StatusCode::NOT_FOUND, StatusCode::UNAUTHORIZED);
    probe_until(&app, &user, (valid, expired), Duration::from_secs(60)).await;
    let expired = probe_with(&app, &user).await;
    assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
    assert!(expired.headers.contains_key(http::header::WWW_AUTHENTICATE));

    // A service token with the service role lets the expired user token
    // through, as keystonemiddleware does; one without that role does not.
    let vouched = [
        ("x-auth-token", user.as_str()),
        ("x-service-token", service.as_str()),
    ];
    assert_eq!(probe(&app, &vouched).await.status, StatusCode::NOT_FOUND);
    let not_a_service = [
        ("x-auth-token", user.as_str()),
        ("x-service-token", member.as_str()),
    ];
    assert_eq!(
        probe(&app, &not_a_service).await.status,
        StatusCode::UNAUTHORIZED
    );
    app.stop().await;
    drop(keystone);
    f.cleanup().await;
}
