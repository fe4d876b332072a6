//! `herald serve` as a child process for the HTTPS and forwarding tests:
//! the harness's [`HeraldChild`] on a config of its own with no broker and
//! JSON log lines (so a test can read a line's fields), serving HTTPS when
//! given a pair.

use std::net::SocketAddr;
use std::path::Path;

use herald::config::Config;
use herald::telemetry::LogFormat;

use super::certs::PairFiles;
use super::in_process::absent_broker;
use crate::support::{HeraldChild, unique_config};

/// serve with its SQLite file in `dir`, `adjust`ed; the child, once it
/// listens, and where.
pub async fn serve(dir: &Path, adjust: impl FnOnce(&mut Config)) -> (HeraldChild, SocketAddr) {
    let mut config = unique_config();
    config.amqp.url = absent_broker().as_str().into();
    config.directory.url = dir.join("directory.sqlite3").display().to_string();
    config.log.format = LogFormat::Json;
    adjust(&mut config);
    let mut child = HeraldChild::serve(&config);
    let addr = child.addr().await;
    (child, addr)
}

/// [`serve`] answering HTTPS with `pair`.
pub async fn serve_tls(dir: &Path, pair: &PairFiles) -> (HeraldChild, SocketAddr) {
    serve(dir, |c| {
        c.http.tls.cert_file = pair.cert.clone();
        c.http.tls.key_file = pair.key.clone();
    })
    .await
}
