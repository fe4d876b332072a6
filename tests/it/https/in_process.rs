//! `herald serve` over HTTPS in the test process: requests with the CA
//! answer, a client that trusts another CA and a plain-HTTP client are
//! refused cleanly, a silent client is closed at the handshake timeout, and
//! a handshake in progress holds a connection slot but not the shutdown.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use http::StatusCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_util::sync::CancellationToken;

use super::certs::{Leaf, PairFiles, TestCa};
use super::client;
use crate::support::{poll_until, test_config, within};
use herald::config::Config;

/// A URL of a broker that is not there: these tests are about the HTTP
/// edge, and serve starts (and serves /healthz) without its broker.
pub fn absent_broker() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .port();
    format!("amqp://guest:guest@127.0.0.1:{port}/%2f")
}

pub struct HttpsServe {
    pub addr: SocketAddr,
    pub leaf: Leaf,
    pub tls: TlsConnector,
    shutdown: CancellationToken,
    server: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl HttpsServe {
    pub async fn start(adjust: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ca = TestCa::new();
        let leaf = ca.leaf("herald-one");
        let pair = PairFiles::in_dir(dir.path());
        pair.write_leaf(&leaf);
        let mut config = test_config(&dir);
        config.amqp.url = absent_broker().as_str().into();
        config.http.tls.cert_file = pair.cert.clone();
        config.http.tls.key_file = pair.key.clone();
        adjust(&mut config);
        let listener = TcpListener::bind(config.http.listen).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let server = tokio::spawn({
            let shutdown = shutdown.clone();
            async move {
                herald::serve::run(config, listener, shutdown)
                    .await
                    .unwrap()
            }
        });
        let tls = client::connector(&ca.der());
        let serve = Self {
            addr,
            leaf,
            tls,
            shutdown,
            server,
            _dir: dir,
        };
        poll_until(
            "serve answers over HTTPS",
            Duration::from_secs(15),
            || async {
                client::get(&serve.tls, serve.addr, "/healthz")
                    .await
                    .is_ok()
            },
        )
        .await;
        serve
    }

    /// Cancels serve and waits for it to end; how long that took.
    pub async fn stop(self) -> Duration {
        let started = Instant::now();
        self.shutdown.cancel();
        within(Duration::from_secs(30), "serve stopping", self.server)
            .await
            .unwrap();
        started.elapsed()
    }
}

/// Reads until the peer closes; `None` if it sent nothing but closed,
/// `Some(bytes)` otherwise. Panics if the socket stays open past `limit`.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Vec<u8> {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(limit, stream.read_to_end(&mut seen)).await;
    assert!(
        read.is_ok(),
        "the connection was still open after {limit:?}"
    );
    seen
}

/// The `http_connections_open` gauge of a /metrics text.
fn open_connections(metrics: &str) -> Option<u64> {
    metrics
        .lines()
        .find(|line| line.starts_with("herald_http_connections_open "))
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn a_request_over_tls_with_the_ca_answers() {
    let serve = HttpsServe::start(|_| {}).await;
    let seen = client::get(&serve.tls, serve.addr, "/healthz")
        .await
        .unwrap();
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    assert_eq!(
        seen.cert, serve.leaf.der,
        "the configured certificate is served"
    );

    // Control: a client that trusts another CA does not get through.
    let stranger = client::connector(&TestCa::new().der());
    let refused = client::get(&stranger, serve.addr, "/healthz")
        .await
        .expect_err("a certificate from an unknown CA is refused");
    assert!(
        format!("{refused:#}").contains("UnknownIssuer"),
        "{refused:#}"
    );
    serve.stop().await;
}

#[tokio::test]
async fn plain_http_to_the_tls_port_fails_cleanly() {
    let serve = HttpsServe::start(|_| {}).await;
    let mut plain = TcpStream::connect(serve.addr).await.unwrap();
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        serve.addr
    );
    plain.write_all(request.as_bytes()).await.unwrap();
    let answer = read_until_closed(&mut plain, Duration::from_secs(10)).await;
    assert!(
        !answer.starts_with(b"HTTP/"),
        "no plain HTTP answer on the TLS port: {}",
        String::from_utf8_lossy(&answer)
    );
    // The listener goes on serving TLS clients.
    let seen = client::get(&serve.tls, serve.addr, "/healthz")
        .await
        .unwrap();
    assert_eq!(seen.status, StatusCode::OK);
    serve.stop().await;
}

#[tokio::test]
async fn the_handshake_timeout_closes_a_silent_connection() {
    let timeout = Duration::from_millis(300);
    let serve = HttpsServe::start(|c| c.http.tls.handshake_timeout = timeout).await;
    let mut silent = TcpStream::connect(serve.addr).await.unwrap();
    let opened = Instant::now();
    let seen = read_until_closed(&mut silent, Duration::from_secs(10)).await;
    let waited = opened.elapsed();
    assert!(seen.is_empty(), "nothing is sent to a silent client");
    assert!(
        waited >= timeout,
        "closed by the timeout, not at once: {waited:?}"
    );
    // Control: a client that completes its handshake in time is served.
    let seen = client::get(&serve.tls, serve.addr, "/healthz")
        .await
        .unwrap();
    assert_eq!(seen.status, StatusCode::OK);
    serve.stop().await;
}

#[tokio::test]
async fn a_handshake_holds_a_slot_and_yields_it_to_a_newer_client() {
    let serve = HttpsServe::start(|c| {
        c.http.max_connections = Some(1);
        c.http.tls.handshake_timeout = Duration::from_secs(120);
    })
    .await;
    let mut silent = TcpStream::connect(serve.addr).await.unwrap();
    // The only slot is the silent client's (its handshake pending); the
    // next client is served only by closing the silent one.
    let seen = client::get(&serve.tls, serve.addr, "/healthz")
        .await
        .unwrap();
    assert_eq!(seen.status, StatusCode::OK);
    let closed = read_until_closed(&mut silent, Duration::from_secs(10)).await;
    assert!(
        closed.is_empty(),
        "the handshaking connection was closed (long before its 120 s timeout) to make room"
    );
    serve.stop().await;
}

#[tokio::test]
async fn shutdown_does_not_wait_for_a_handshake() {
    let serve = HttpsServe::start(|c| {
        c.http.tls.handshake_timeout = Duration::from_secs(120);
        c.http.shutdown_grace = Duration::from_secs(20);
    })
    .await;
    let mut silent = TcpStream::connect(serve.addr).await.unwrap();
    // The connection is accepted (its slot taken) before shutdown begins:
    // accepting is in arrival order, so a later request that sees two open
    // (itself and the silent one) comes after it.
    poll_until(
        "the silent connection is accepted",
        Duration::from_secs(10),
        || async {
            let seen = client::get(&serve.tls, serve.addr, "/metrics")
                .await
                .unwrap();
            open_connections(&seen.body) >= Some(2)
        },
    )
    .await;
    let took = serve.stop().await;
    assert!(
        took < Duration::from_secs(10),
        "a client still handshaking does not hold shutdown up to the grace: {took:?}"
    );
    let closed = read_until_closed(&mut silent, Duration::from_secs(5)).await;
    assert!(closed.is_empty());
}
