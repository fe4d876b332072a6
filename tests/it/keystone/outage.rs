//! A Keystone process the test owns, on the database and keys of the one
//! scripts/test.sh runs (so users and tokens are shared): stopped mid-run
//! it makes every unchecked request a 503, and back it makes them pass
//! again; configured with a short token lifetime it issues tokens that
//! expire during the test, so that an expired token (cached or not) is a
//! 401, unless a service token vouches for it.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use http::StatusCode;

use super::fixture::{Fixture, herald, herald_at, probe, probe_until, probe_with};
use crate::support::group::ProcessGroup;
use crate::support::http::HttpClient;
use crate::support::listening::listening;
use crate::support::parts::{self, Keystone, require};
use crate::support::{poll_for, poll_until};

/// A gunicorn serving Keystone from a config of the test's own.
struct OwnKeystone {
    dir: tempfile::TempDir,
    gunicorn: String,
    shared_dir: PathBuf,
    port: u16,
    /// gunicorn's process group; killed on drop.
    group: Option<ProcessGroup>,
}

impl OwnKeystone {
    /// Starts one on a port the OS picks, on `shared`'s database and keys;
    /// `token_lifetime` in seconds.
    async fn start(shared: &Keystone, token_lifetime: Option<u32>) -> Self {
        let (shared_dir, gunicorn) = (shared.dir.clone(), shared.gunicorn.clone());
        let dir = tempfile::tempdir().expect("temp dir");
        let conf = std::fs::read_to_string(shared_dir.join("etc/keystone.conf"))
            .expect("the shared keystone.conf");
        let log = dir.path().join("keystone.log");
        let mut own = String::new();
        for line in conf.lines() {
            if line.starts_with("log_file") {
                own.push_str(&format!("log_file = {}\n", log.display()));
                continue;
            }
            own.push_str(line);
            own.push('\n');
            if line == "[token]"
                && let Some(seconds) = token_lifetime
            {
                own.push_str(&format!("expiration = {seconds}\n"));
            }
        }
        std::fs::create_dir(dir.path().join("etc")).expect("etc dir");
        std::fs::write(dir.path().join("etc/keystone.conf"), own).expect("write keystone.conf");
        let mut keystone = Self {
            dir,
            gunicorn,
            shared_dir,
            port: 0,
            group: None,
        };
        keystone.spawn();
        keystone.port = keystone.bound_port().await;
        keystone.wait_answering().await;
        keystone
    }

    fn gunicorn_log(&self) -> PathBuf {
        self.dir.path().join("gunicorn.log")
    }

    /// Starts gunicorn, master and worker in a group of their own (a worker
    /// outlives a killed master for a while and keeps serving).
    fn spawn(&mut self) {
        let _ = std::fs::remove_file(self.gunicorn_log());
        let mut command = Command::new(&self.gunicorn);
        command
            .args(["--bind", &format!("127.0.0.1:{}", self.port)])
            .args(["--workers", "1", "--threads", "1"])
            .arg("--log-file")
            .arg(self.gunicorn_log())
            .arg("herald_keystone_wsgi:application")
            .env("OS_KEYSTONE_CONFIG_DIR", self.dir.path().join("etc"))
            .env("PYTHONPATH", &self.shared_dir);
        let out = self.dir.path().join("gunicorn.out");
        self.group = Some(ProcessGroup::spawn("the test's Keystone", command, &out));
    }

    /// The port gunicorn's master bound (its workers share the socket).
    async fn bound_port(&self) -> u16 {
        let pid = self.group.as_ref().expect("gunicorn runs").pid();
        let log = self.gunicorn_log();
        let what = format!("the test's Keystone listens (see {})", log.display());
        poll_for(&what, Duration::from_secs(30), || {
            std::future::ready(listening(pid).first().map(|addr| addr.port()))
        })
        .await
    }

    async fn wait_answering(&self) {
        let (url, http) = (format!("{}/", self.url()), HttpClient::default());
        let what = format!(
            "the test's Keystone answers; see {}",
            self.gunicorn_log().display()
        );
        poll_until(&what, Duration::from_secs(60), || async {
            let reply = http.try_get(&url, Duration::from_secs(5)).await;
            reply.is_some_and(|r| r.status.is_success())
        })
        .await;
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}/v3", self.port)
    }

    /// kill -9 of its process group, reaped.
    async fn kill(&mut self) {
        if let Some(mut group) = self.group.take() {
            group.kill().await;
        }
    }

    /// Waits until nothing accepts connections on its port any more.
    async fn wait_gone(&self) {
        let what = "the test's Keystone takes no connection after kill -9";
        poll_until(what, Duration::from_secs(10), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_err()
        })
        .await;
    }

    /// Starts it again on the same port.
    async fn restart(&mut self) {
        self.spawn();
        self.wait_answering().await;
    }
}

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
