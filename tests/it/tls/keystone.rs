//! keystone mode against a Keystone behind TLS (a gunicorn of the test's
//! own with `--certfile/--keyfile`, on the database of the one
//! scripts/test.sh runs): with `auth.cafile` tokens validate; without it
//! every checked request is a whole-request 503 and the log names the
//! certificate problem; `auth.insecure` works, warned and shown in /readyz.

use std::path::Path;
use std::time::Duration;

use http::{Method, StatusCode};

use super::serve_child::ServeChild;
use crate::keystone::fixture::{Fixture, herald_with, probe_path};
use crate::keystone::own::OwnKeystone;
use crate::support::certs::TestPki;
use crate::support::child::check_config;
use crate::support::parts::{self, require};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keystone_over_https_validates_with_its_ca_and_is_503_without() {
    let shared = require!(parts::keystone());
    let pki = TestPki::new();
    let mut f = Fixture::new(&shared).await;
    let (cert, key, ca) = (
        pki.path("server.pem"),
        pki.path("server.key"),
        pki.path("ca.pem"),
    );
    let keystone = OwnKeystone::start_tls(&shared, &cert, &key, &ca).await;
    let token = f.user_token(&["admin"]).await;

    // With the CA: tokens validate over https.
    let app = herald_with(&mut f, &keystone.url(), Duration::ZERO, None, |c| {
        c.keystone.cafile = Some(ca.clone());
    })
    .await;
    app.wait_ready().await;
    let ready = app.request(Method::GET, "/readyz", None, &[]).await;
    assert_eq!(ready.body["keystone"], "ok");
    assert_eq!(ready.body["keystone_transport"], "https, verified");
    let auth = [("x-auth-token", token.as_str())];
    let known = app.request(Method::GET, &probe_path(), None, &auth).await;
    assert_eq!(known.status, StatusCode::NOT_FOUND, "{:?}", known.body);
    let bogus = [("x-auth-token", "not-a-token")];
    let unknown = app.request(Method::GET, &probe_path(), None, &bogus).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    app.stop().await;

    // Without it: the system's roots do not know the test's CA.
    let dir = tempfile::tempdir().unwrap();
    let serve = serve_for(&mut f, &keystone.url(), "", dir.path()).await;
    let (status, body) = serve.get(&probe_path(), Some(&token)).await;
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("serviceUnavailable"), "{body}");
    let (status, ready) = serve.get("/readyz", None).await;
    assert_eq!(status, 503, "{ready}");
    let log = serve.stop().await;
    let named = log.iter().find(|l| l.contains("UnknownIssuer"));
    let line = named.unwrap_or_else(|| panic!("no line names the certificate problem: {log:#?}"));
    eprintln!("tls: keystone without cafile logged: {line}");
    assert!(line.contains("TLS with Keystone failed"), "{line}");

    // insecure = true: no check at all, warned at start and shown in /readyz.
    let serve = serve_for(&mut f, &keystone.url(), "insecure = true\n", dir.path()).await;
    let (status, body) = serve.get(&probe_path(), Some(&token)).await;
    assert_eq!(status, 404, "{body}");
    let (_, ready) = serve.get("/readyz", None).await;
    assert!(
        ready.contains("NOT verified (auth.insecure = true)"),
        "{ready}"
    );
    let log = serve.stop().await;
    assert!(
        log.iter()
            .any(|l| l.contains("WARN") && l.contains("auth.insecure = true")),
        "{log:#?}"
    );

    // check-config: the settings in effect (paths), and a token issued over
    // https with the CA; without it, the certificate problem in one line.
    let broker = crate::support::BROKER;
    let with_ca = format!("cafile = {:?}\n", ca.display().to_string());
    let config = keystone_toml(&mut f, &keystone.url(), &with_ca, broker, dir.path()).await;
    let (ok, err) = check_config(&config);
    assert!(ok, "{err}");
    let shown = format!("over https, certificate checked against {}", ca.display());
    assert!(err.contains(&shown), "{shown} not in {err}");
    assert!(err.contains("Keystone issued herald a token"), "{err}");
    let config = keystone_toml(&mut f, &keystone.url(), "", broker, dir.path()).await;
    let (ok, err) = check_config(&config);
    assert!(!ok, "{err}");
    let reason = err.trim_end().lines().last().unwrap_or_default();
    assert!(reason.contains("UnknownIssuer"), "{err}");
    drop(keystone);
    f.cleanup().await;
}

/// `herald serve` (a process, its log read) in keystone mode at `url`,
/// as a fresh service user, with `auth_extra` lines in `[auth]`. Its broker
/// is not there: these checks need none, and so declare nothing.
async fn serve_for(f: &mut Fixture, url: &str, auth_extra: &str, dir: &Path) -> ServeChild {
    let broker = "amqp://guest:guest@127.0.0.1:1/%2f";
    let config = keystone_toml(f, url, auth_extra, broker, dir).await;
    ServeChild::start(&config).await
}

/// A keystone-mode config at `url` for a fresh service user.
async fn keystone_toml(
    f: &mut Fixture,
    url: &str,
    auth_extra: &str,
    broker: &str,
    dir: &Path,
) -> String {
    let (user, password) = f.user(&["service"]).await;
    format!(
        "[http]\nlisten = \"127.0.0.1:0\"\n\
         [auth]\nmode = \"keystone\"\nauth_url = \"{url}\"\nusername = \"{user}\"\n\
         password = \"{password}\"\nproject_name = \"{}\"\ntoken_cache_time = \"0s\"\n\
         request_timeout = \"30s\"\n{auth_extra}\
         [amqp]\nurl = \"{broker}\"\n\
         [directory]\nurl = {:?}\n[log]\nlevel = \"info\"\nformat = \"text\"\n",
        f.project,
        dir.join(format!("{}.sqlite3", crate::support::unique_name()))
            .display()
            .to_string(),
    )
}
