//! Did the server ask for a client certificate we do not have? With TLS 1.3
//! a server that requires one (RabbitMQ's `fail_if_no_peer_cert`) refuses
//! only after the client's handshake is done: its alert may be lost to a
//! reset when the client has already written, and the client then sees
//! only "connection reset". A connection's own copy of the config records
//! the request, so the failure can still be told for what it is.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rustls::client::ResolvesClientCert;
use rustls::{ClientConfig, SignatureScheme, sign};

/// Set when the server asked for a client certificate and none was sent.
#[derive(Debug, Clone, Default)]
pub struct CertificateAsked(Arc<AtomicBool>);

impl CertificateAsked {
    /// Whether the server asked (and got nothing).
    pub fn was_asked(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// `config` for one connection, recording a request for a client
/// certificate when it has none to give (unchanged when it has one).
pub fn watch_for_request(config: &Arc<ClientConfig>) -> (Arc<ClientConfig>, CertificateAsked) {
    let asked = CertificateAsked::default();
    if config.client_auth_cert_resolver.has_certs() {
        return (config.clone(), asked);
    }
    let mut copy = ClientConfig::clone(config);
    copy.client_auth_cert_resolver = Arc::new(Recorder(asked.clone()));
    (Arc::new(copy), asked)
}

/// Has no certificate; notes that one was asked for.
#[derive(Debug)]
struct Recorder(CertificateAsked);

impl ResolvesClientCert for Recorder {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<sign::CertifiedKey>> {
        self.0.0.store(true, Ordering::Relaxed);
        None
    }

    fn has_certs(&self) -> bool {
        false
    }
}
