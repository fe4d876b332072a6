//! One accepted connection, from its TLS handshake (when the listener serves
//! HTTPS) to its last request. The connection holds its slot throughout, so a
//! client still handshaking counts against `max_connections`; a handshake is
//! given up when shutdown begins or the slot is wanted for a newer client.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::Watcher;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use super::Body;
use super::slots::{Busy, Slot};
use super::tls::TlsServer;
use crate::support::error_chain::error_chain;

/// How a request reached herald; every request carries it in its
/// extensions, so a handler can tell the scheme it was served on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Plain,
    Tls,
}

/// What one connection's task needs besides its stream.
pub(super) struct Connection<H> {
    pub peer: SocketAddr,
    pub slot: Slot,
    pub watcher: Watcher,
    pub builder: http1::Builder,
    pub handler: H,
    pub shutdown: CancellationToken,
}

impl<H, F> Connection<H>
where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    /// Serves `stream` (after the handshake, when `tls` is given) until the
    /// client goes, the connection is evicted, or shutdown has drained it.
    pub async fn run(self, stream: TcpStream, tls: Option<TlsServer>) {
        let Some(tls) = tls else {
            return self.serve(stream, Transport::Plain).await;
        };
        let handshake = tokio::select! {
            shaken = tls.handshake(stream) => shaken,
            () = self.slot.evict.cancelled() => return,
            () = self.shutdown.cancelled() => return,
        };
        match handshake {
            Ok(stream) => self.serve(stream, Transport::Tls).await,
            Err(error) => tracing::debug!(
                error = %error_chain(&error),
                peer = %self.peer,
                "connection closed"
            ),
        }
    }

    async fn serve<S>(self, stream: S, transport: Transport)
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let Self {
            peer,
            slot,
            watcher,
            builder,
            handler,
            ..
        } = self;
        let busy = Arc::clone(&slot.busy);
        let service = service_fn(move |mut req: Request<Incoming>| {
            let marked = Busy::enter(&busy);
            req.extensions_mut().insert(transport);
            let fut = handler(req, peer);
            async move {
                let response = fut.await;
                drop(marked);
                Ok::<_, Infallible>(response)
            }
        });
        let connection = watcher.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::select! {
            ended = connection => if let Err(error) = ended {
                tracing::debug!(error = %error_chain(&error), %peer, "connection ended with an error");
            },
            // Evicted while idle: dropping it closes the socket.
            () = slot.evict.cancelled() => tracing::debug!(%peer, "idle connection closed to make room"),
        }
        drop(slot);
    }
}
