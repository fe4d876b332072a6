//! SIGHUP rereads the served certificate and key: a good new pair is
//! logged with its fingerprint, a bad one is logged with why, and the old
//! pair goes on serving.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use super::pair::fingerprint;
use super::resolver::ReloadingCert;
use crate::support::error_chain::error_chain;

/// Reloads `certs` on every SIGHUP until `shutdown`. Returns at once; the
/// watching runs in a task.
pub fn reload_on_sighup(certs: Arc<ReloadingCert>, shutdown: CancellationToken) {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangups = match signal(SignalKind::hangup()) {
        Ok(hangups) => hangups,
        Err(error) => {
            tracing::error!(%error, "cannot listen for SIGHUP: the certificate will not be reloaded");
            return;
        }
    };
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                received = hangups.recv() => if received.is_none() { return },
            }
            reload(&certs);
        }
    });
}

/// One reload, logged either way.
pub fn reload(certs: &ReloadingCert) {
    match certs.reload() {
        Ok(pair) => tracing::info!(
            cert_file = %certs.cert_file().display(),
            sha256 = %fingerprint(&pair),
            "http.tls: reloaded the certificate; new connections get it"
        ),
        Err(error) => tracing::error!(
            error = %error_chain(&error),
            "http.tls: reload failed; still serving the previous certificate"
        ),
    }
}
