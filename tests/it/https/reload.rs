//! SIGHUP to a `herald serve` child: a good new pair is served to new
//! connections; a broken one is refused with a log line saying why, and the
//! pair before it goes on serving.

use std::time::Duration;

use http::StatusCode;

use super::certs::{PairFiles, TestCa};
use super::child::ServeChild;
use super::client;
use crate::support::poll_until;

#[tokio::test]
async fn sighup_serves_a_new_pair_and_keeps_the_old_when_the_new_is_broken() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new();
    let first = ca.leaf("herald-first");
    let pair = PairFiles::in_dir(dir.path());
    pair.write_leaf(&first);
    let serve = ServeChild::start(dir.path(), &pair).await;
    let tls = client::connector(&ca.der());
    let seen = client::get(&tls, serve.addr, "/healthz").await.unwrap();
    assert_eq!(seen.status, StatusCode::OK);
    assert_eq!(seen.cert, first.der);

    // A good new pair: new connections see it once the signal is handled.
    let second = ca.leaf("herald-second");
    let before = serve.log_len();
    pair.write_leaf(&second);
    serve.hangup().await;
    poll_until(
        "new connections get the new certificate",
        Duration::from_secs(20),
        || async {
            client::get(&tls, serve.addr, "/healthz")
                .await
                .is_ok_and(|seen| seen.cert == second.der)
        },
    )
    .await;
    let reloaded = serve.wait_for_log(before, "reloaded the certificate").await;
    assert!(
        reloaded["fields"]["sha256"]
            .as_str()
            .is_some_and(|s| s.len() == 95),
        "{reloaded}"
    );

    // Broken pairs: a key of another certificate, then a certificate file
    // that is not PEM. Each is logged with its reason; the second pair stays.
    let third = ca.leaf("herald-third");
    let broken = [
        (
            second.cert_pem.as_str(),
            third.key_pem.as_str(),
            "cannot serve the certificate",
        ),
        (
            "this is not a certificate",
            second.key_pem.as_str(),
            "holds no PEM certificate",
        ),
    ];
    for (cert_pem, key_pem, why) in broken {
        let before = serve.log_len();
        pair.write(cert_pem, key_pem);
        serve.hangup().await;
        let failed = serve.wait_for_log(before, "reload failed").await;
        let error = failed["fields"]["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(error.contains(why), "{why}: {failed}");
        let seen = client::get(&tls, serve.addr, "/healthz").await.unwrap();
        assert_eq!(seen.status, StatusCode::OK, "{why}: still serving");
        assert_eq!(seen.cert, second.der, "{why}: the previous pair stays");
    }
    serve.stop().await;
}
