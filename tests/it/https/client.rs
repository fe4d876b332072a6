//! A rustls client that trusts only the test CA: one request per new
//! connection, so every call sees the certificate served at that moment.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// No step of one request may take longer than this.
const STEP: Duration = Duration::from_secs(10);

/// What one HTTPS request saw.
#[derive(Debug)]
pub struct Seen {
    pub status: StatusCode,
    pub body: String,
    /// The certificate the server presented (its own, first of the chain).
    pub cert: CertificateDer<'static>,
}

#[allow(deprecated)] // ring on purpose: herald's one provider
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A connector that trusts `ca` alone. It never resumes a session: a
/// resumed session presents no certificate, and the tests look at the one
/// served at each connection.
pub fn connector(ca: &CertificateDer<'static>) -> TlsConnector {
    let mut roots = RootCertStore::empty();
    roots.add(ca.clone()).unwrap();
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = rustls::client::Resumption::disabled();
    TlsConnector::from(Arc::new(config))
}

/// `method path` to `addr` over a new TLS connection verified as `localhost`.
pub async fn request(
    tls: &TlsConnector,
    addr: SocketAddr,
    method: Method,
    path: &str,
) -> anyhow::Result<Seen> {
    let tcp = tokio::time::timeout(STEP, TcpStream::connect(addr)).await??;
    let name = ServerName::try_from("localhost")?;
    let stream = tokio::time::timeout(STEP, tls.connect(name, tcp)).await??;
    let cert = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .ok_or_else(|| anyhow::anyhow!("no server certificate"))?
        .clone()
        .into_owned();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, addr.to_string())
        .body(Empty::<Bytes>::new())?;
    let response = tokio::time::timeout(STEP, sender.send_request(request)).await??;
    let status = response.status();
    let bytes = tokio::time::timeout(STEP, response.into_body().collect())
        .await??
        .to_bytes();
    Ok(Seen {
        status,
        body: String::from_utf8_lossy(&bytes).into_owned(),
        cert,
    })
}

pub async fn get(tls: &TlsConnector, addr: SocketAddr, path: &str) -> anyhow::Result<Seen> {
    request(tls, addr, Method::GET, path).await
}
