//! HTTPS serving for `herald serve`: the `[http.tls]` settings, the pair of
//! PEM files read into a swappable certificate (reloaded on SIGHUP), and
//! the acceptor the accept loop hands each connection to, with a bounded
//! handshake. rustls with the ring provider, named explicitly here rather
//! than taken from a process-wide default.

pub mod config;
pub mod pair;
pub mod reload;
pub mod resolver;

use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tokio_util::sync::CancellationToken;

pub use config::HttpTlsConfig;
pub use pair::PairError;
pub use resolver::ReloadingCert;

/// Why HTTPS serving cannot start.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("http.tls.cert_file/key_file")]
    Pair(#[from] PairError),
    #[error("TLS server settings")]
    Settings(#[source] rustls::Error),
}

/// Why one connection's handshake did not complete.
#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("TLS handshake not completed within {0:?}")]
    TimedOut(Duration),
    #[error("TLS handshake failed")]
    Failed(#[source] std::io::Error),
}

/// The HTTPS acceptor when `[http.tls]` asks for one, its certificate
/// reloaded on SIGHUP until `shutdown`; a pair that cannot be served stops
/// start-up (never a quiet fall back to plain HTTP).
pub fn start(
    config: &HttpTlsConfig,
    shutdown: &CancellationToken,
) -> Result<Option<TlsServer>, TlsSetupError> {
    if !config.enabled() {
        return Ok(None);
    }
    let tls = TlsServer::new(config)?;
    tracing::info!(
        cert_file = %config.cert_file.display(),
        sha256 = %pair::fingerprint(&tls.certs().current()),
        handshake_timeout = ?config.handshake_timeout,
        "serving HTTPS; SIGHUP rereads the certificate and key"
    );
    reload::reload_on_sighup(Arc::clone(tls.certs()), shutdown.clone());
    Ok(Some(tls))
}

/// The `[http.tls]` settings in effect, one line for `check-config`: the
/// paths (never the contents) and the certificate's fingerprint, after
/// reading the pair as serve would.
pub fn describe(config: &HttpTlsConfig) -> Result<String, TlsSetupError> {
    if !config.enabled() {
        return Ok("http.tls: off (plain HTTP)".to_owned());
    }
    let served = pair::load(&config.cert_file, &config.key_file, &provider())?;
    Ok(format!(
        "http.tls: HTTPS with cert_file = {}, key_file = {} (certificate sha256 {}), handshake_timeout = {:?}",
        config.cert_file.display(),
        config.key_file.display(),
        pair::fingerprint(&served),
        config.handshake_timeout,
    ))
}

/// The acceptor of the HTTPS listener and its reloadable certificate.
#[derive(Clone)]
pub struct TlsServer {
    acceptor: TlsAcceptor,
    certs: Arc<ReloadingCert>,
    handshake_timeout: Duration,
}

impl std::fmt::Debug for TlsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsServer")
            .field("cert_file", &self.certs.cert_file())
            .field("handshake_timeout", &self.handshake_timeout)
            .finish_non_exhaustive()
    }
}

/// The one crypto provider of herald's TLS server: ring. rustls 0.23.48
/// deprecates it for lacking post-quantum key exchange; herald keeps ring on
/// purpose (one TLS stack, no aws-lc-rs: see README's dependency list).
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsServer {
    /// Reads the pair named by `config` and builds the acceptor.
    pub fn new(config: &HttpTlsConfig) -> Result<Self, TlsSetupError> {
        let provider = provider();
        let certs = Arc::new(ReloadingCert::load(config, Arc::clone(&provider))?);
        let mut settings = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsSetupError::Settings)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&certs) as Arc<_>);
        // herald speaks HTTP/1.1 only; say so to clients that ask.
        settings.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(settings)),
            certs,
            handshake_timeout: config.handshake_timeout,
        })
    }

    /// The served certificate, to reload.
    pub fn certs(&self) -> &Arc<ReloadingCert> {
        &self.certs
    }

    /// Completes the server side of the handshake on `stream`, within the
    /// handshake timeout.
    pub async fn handshake(
        &self,
        stream: TcpStream,
    ) -> Result<TlsStream<TcpStream>, HandshakeError> {
        match tokio::time::timeout(self.handshake_timeout, self.acceptor.accept(stream)).await {
            Ok(Ok(tls)) => Ok(tls),
            Ok(Err(error)) => Err(HandshakeError::Failed(error)),
            Err(_) => Err(HandshakeError::TimedOut(self.handshake_timeout)),
        }
    }
}
