//! The HTTP/1 accept loop: one task per connection, a bounded number of
//! connections (see [`super::slots`]), header-read timeout (which also ends
//! idle keep-alive connections), accept errors backed off and logged
//! rate-limited, and a graceful drain bounded by a grace period on shutdown.
//! Each connection's own life (TLS handshake included) is [`super::connection`].

use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::{Request, Response};
use hyper_util::rt::TokioTimer;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::Body;
use super::connection::Connection;
use super::slots::{ConnectionMetrics, Slots};
use super::tls::TlsServer;
use crate::support::error_chain::error_chain;
use crate::support::rate_log::{RateLog, Verdict};

/// Backoff after a failed accept (EMFILE and the like), doubled up to the max.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(10);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);
/// At most one accept-error line per this interval after the first.
const ACCEPT_LOG_INTERVAL: Duration = Duration::from_secs(10);

/// Limits of the accept loop.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// How long a client may take to send its request headers.
    pub header_read_timeout: Duration,
    /// How long open connections may take to finish after shutdown begins.
    pub shutdown_grace: Duration,
    /// Most connections open at once.
    pub max_connections: usize,
    /// Open, deferred and evicted connections.
    pub metrics: ConnectionMetrics,
    /// HTTPS: every connection is handshaken first. `None`: plain HTTP.
    pub tls: Option<TlsServer>,
}

/// Serves `handler` on `listener` until `shutdown` is cancelled, then stops
/// accepting and waits (at most `shutdown_grace`) for open requests to end.
pub async fn serve<H, F>(
    listener: TcpListener,
    handler: H,
    options: ServerOptions,
    shutdown: CancellationToken,
) where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let mut builder = http1::Builder::new();
    // The timer is required: without it hyper silently disables the header timeout.
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(options.header_read_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let slots = Slots::new(options.max_connections, options.metrics.clone());
    let accept_log = RateLog::new(ACCEPT_LOG_INTERVAL);
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        let (stream, peer) = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    accept_failed(&error, &accept_log, &slots);
                    tokio::select! {
                        () = shutdown.cancelled() => break,
                        () = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
                    continue;
                }
            },
        };
        backoff = ACCEPT_BACKOFF_MIN;
        // Holds this one socket while waiting, so at most max + 1 are open.
        let Some(slot) = slots.take(&shutdown).await else {
            break;
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            peer,
            slot,
            watcher: graceful.watcher(),
            builder: builder.clone(),
            handler: handler.clone(),
            shutdown: shutdown.clone(),
        };
        tokio::spawn(connection.run(stream, options.tls.clone()));
    }
    drop(listener);
    if tokio::time::timeout(options.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?options.shutdown_grace, "connections still open after the shutdown grace period");
    }
}

/// Logs a failed accept, rate-limited; when descriptors ran out, frees one
/// by closing the oldest idle connection.
fn accept_failed(error: &std::io::Error, log: &RateLog, slots: &Slots) {
    let out_of_descriptors =
        matches!(error.raw_os_error(), Some(code) if code == EMFILE || code == ENFILE);
    if out_of_descriptors {
        slots.evict_oldest_idle();
    }
    match log.hit(Instant::now()) {
        Verdict::Log => {
            tracing::warn!(error = %error_chain(&error), "accept failed; backing off (further failures are counted)")
        }
        Verdict::Summary(count) => {
            tracing::warn!(error = %error_chain(&error), count, interval = ?ACCEPT_LOG_INTERVAL, "accept failures since the last line")
        }
        Verdict::Counted => {}
    }
}

/// Linux errno values of "too many open files" (process, system).
const EMFILE: i32 = 24;
const ENFILE: i32 = 23;
