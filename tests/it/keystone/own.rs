//! A Keystone process a test owns: gunicorn serving Keystone from a config
//! of the test's own, on the database and keys of the one scripts/test.sh
//! runs (so users and tokens are shared), as a process group of its own
//! (master and worker: a worker outlives a killed master for a while and
//! keeps serving). Optionally with a short token lifetime, and optionally
//! behind TLS (gunicorn's `--certfile/--keyfile`, reached as
//! `https://localhost:P/v3`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use http_body_util::Empty;

use crate::support::group::ProcessGroup;
use crate::support::listening::listening;
use crate::support::parts::Keystone;
use crate::support::{poll_for, poll_until};

/// A gunicorn serving Keystone from a config of the test's own.
pub struct OwnKeystone {
    dir: tempfile::TempDir,
    gunicorn: String,
    shared_dir: PathBuf,
    /// The server certificate and key gunicorn serves TLS with.
    tls: Option<(PathBuf, PathBuf)>,
    /// A CA that signed it, for the test's own readiness probe.
    ca: Option<PathBuf>,
    port: u16,
    /// gunicorn's process group; killed on drop.
    group: Option<ProcessGroup>,
}

impl OwnKeystone {
    /// Starts one on `shared`'s database and keys, on a port the OS picks;
    /// `token_lifetime` in seconds.
    pub async fn start(shared: &Keystone, token_lifetime: Option<u32>) -> Self {
        Self::launch(shared, token_lifetime, None, None).await
    }

    /// Starts one serving https with `cert` and `key` (signed by `ca`).
    pub async fn start_tls(shared: &Keystone, cert: &Path, key: &Path, ca: &Path) -> Self {
        let tls = Some((cert.to_owned(), key.to_owned()));
        Self::launch(shared, None, tls, Some(ca.to_owned())).await
    }

    async fn launch(
        shared: &Keystone,
        token_lifetime: Option<u32>,
        tls: Option<(PathBuf, PathBuf)>,
        ca: Option<PathBuf>,
    ) -> Self {
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
            tls,
            ca,
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

    fn spawn(&mut self) {
        let _ = std::fs::remove_file(self.gunicorn_log());
        let mut command = Command::new(&self.gunicorn);
        command
            .args(["--bind", &format!("127.0.0.1:{}", self.port)])
            .args(["--workers", "1", "--threads", "1"])
            .arg("--log-file")
            .arg(self.gunicorn_log());
        if let Some((cert, key)) = &self.tls {
            command
                .arg("--certfile")
                .arg(cert)
                .arg("--keyfile")
                .arg(key);
        }
        command
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

    /// Polls `GET /v3/` (over TLS with the test's CA) until Keystone answers.
    async fn wait_answering(&self) {
        let url: http::Uri = format!("{}/", self.url()).parse().expect("uri");
        let client = probe_client(self.ca.as_deref());
        let what = format!(
            "the test's Keystone answers; see {}",
            self.gunicorn_log().display()
        );
        poll_until(&what, Duration::from_secs(60), || async {
            let request = http::Request::get(url.clone())
                .body(Empty::<bytes::Bytes>::new())
                .expect("request");
            let attempt = tokio::time::timeout(Duration::from_secs(5), client.request(request));
            matches!(attempt.await, Ok(Ok(r)) if r.status().is_success())
        })
        .await;
    }

    /// `http://127.0.0.1:P/v3`, or `https://localhost:P/v3` behind TLS.
    pub fn url(&self) -> String {
        match self.tls {
            Some(_) => format!("https://localhost:{}/v3", self.port),
            None => format!("http://127.0.0.1:{}/v3", self.port),
        }
    }

    /// kill -9 of its process group, reaped.
    pub async fn kill(&mut self) {
        if let Some(mut group) = self.group.take() {
            group.kill().await;
        }
    }

    /// Waits until nothing accepts connections on its port any more.
    pub async fn wait_gone(&self) {
        let what = "the test's Keystone takes no connection after kill -9";
        poll_until(what, Duration::from_secs(10), || async {
            tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_err()
        })
        .await;
    }

    /// Starts it again on the same port.
    pub async fn restart(&mut self) {
        self.spawn();
        self.wait_answering().await;
    }
}

type ProbeClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Empty<bytes::Bytes>,
>;

/// An http(s) client for the readiness probe, trusting `ca` when given.
fn probe_client(ca: Option<&Path>) -> ProbeClient {
    let tls = herald::tls::ClientTls {
        ca_file: ca.map(Path::to_owned),
        identity: None,
        verify: herald::tls::Verify::Full,
    };
    let config = std::sync::Arc::unwrap_or_clone(tls.client_config().expect("the test's CA"));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_or_http()
        .enable_http1()
        .build();
    hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(https)
}
