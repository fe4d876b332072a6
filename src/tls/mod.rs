//! Client-side TLS: one `rustls::ClientConfig` from a room's TLS settings
//! (a CA bundle or the system's roots, an optional client certificate, how
//! much to verify), always with the ring provider passed in explicitly, so
//! nothing depends on a process-wide default. Each room (broker, Keystone,
//! directory) owns its own config keys and describes them as a [`ClientTls`].
//!
//! - [`files`]: reading PEM CA bundles, certificate chains and keys.
//! - [`asked`]: noticing a server's request for a client certificate we lack.
//! - [`verify`]: the two weakened verifiers a setting may ask for.
//! - [`path_setting`]: `""`-means-unset path settings in the config files.

pub mod asked;
pub mod files;
pub mod path_setting;
pub mod verify;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ClientConfig;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::crypto::CryptoProvider;

/// How much of the server's certificate is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verify {
    /// The chain up to a trusted root, and the host name (the default).
    Full,
    /// The chain, but not the name (old certificates without the node's name).
    ChainOnly,
    /// Nothing at all (Keystone's `insecure = true`).
    Nothing,
}

/// A client's TLS settings, as a room's config describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientTls {
    /// PEM CA bundle to trust; `None`: the system's roots.
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain and its key, for mutual TLS.
    pub identity: Option<Identity>,
    pub verify: Verify,
}

/// A client certificate chain file and its private key file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub cert_file: PathBuf,
    pub key_file: PathBuf,
}

/// Why a TLS client configuration cannot be built. Each names the file at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read {what} {path}")]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: rustls_pki_types::pem::Error,
    },
    #[error("{what} {path} holds no PEM {expected}")]
    Empty {
        what: &'static str,
        path: PathBuf,
        expected: &'static str,
    },
    #[error("CA file {path} holds a certificate rustls cannot use as a root")]
    BadRoot {
        path: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("no usable root certificate in the system's store (set a CA file)")]
    NoSystemRoots {
        #[source]
        source: Option<rustls_native_certs::Error>,
    },
    #[error("client certificate {cert} and key {key} cannot be used together")]
    BadIdentity {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: rustls::Error,
    },
    #[error("the certificate verifier cannot be built")]
    Verifier(#[source] rustls::server::VerifierBuilderError),
    #[error("TLS is required but no TLS settings were given to this connection")]
    NotConfigured,
    #[error("the TLS provider offers no usable protocol version")]
    Protocol(#[source] rustls::Error),
}

/// The one crypto provider of every TLS connection herald makes: ring.
/// rustls 0.23.48 deprecates ring's provider for lacking post-quantum key
/// exchange; herald keeps it deliberately (one stack, no aws-lc-rs build).
#[allow(deprecated)]
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl ClientTls {
    /// The system's roots, the full check, no client certificate.
    pub fn system_roots() -> Self {
        Self {
            ca_file: None,
            identity: None,
            verify: Verify::Full,
        }
    }

    /// Reads the files and builds the client configuration.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        let provider = provider();
        let verifier = self.verifier(provider.clone())?;
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(TlsError::Protocol)?
            // Not dangerous for Verify::Full: that verifier is rustls's own.
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match &self.identity {
            None => builder.with_no_client_auth(),
            Some(id) => {
                let chain = files::cert_chain(&id.cert_file)?;
                let key = files::private_key(&id.key_file)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|source| TlsError::BadIdentity {
                        cert: id.cert_file.clone(),
                        key: id.key_file.clone(),
                        source,
                    })?
            }
        };
        Ok(Arc::new(config))
    }

    /// The server certificate check these settings ask for.
    pub fn verifier(
        &self,
        provider: Arc<CryptoProvider>,
    ) -> Result<Arc<dyn ServerCertVerifier>, TlsError> {
        Ok(match self.verify {
            Verify::Full => {
                WebPkiServerVerifier::builder_with_provider(Arc::new(self.roots()?), provider)
                    .build()
                    .map_err(TlsError::Verifier)?
            }
            Verify::ChainOnly => Arc::new(verify::ChainOnly::new(self.roots()?, provider)?),
            Verify::Nothing => Arc::new(verify::Nothing::new(provider)),
        })
    }

    /// The CA file's certificates, or the system's roots.
    fn roots(&self) -> Result<rustls::RootCertStore, TlsError> {
        match &self.ca_file {
            Some(path) => files::ca_bundle(path),
            None => files::system_roots(),
        }
    }

    /// The files these settings name (for start-up checks and messages).
    pub fn files(&self) -> Vec<&Path> {
        let mut files: Vec<&Path> = self.ca_file.iter().map(PathBuf::as_path).collect();
        if let Some(id) = &self.identity {
            files.push(&id.cert_file);
            files.push(&id.key_file);
        }
        files
    }
}

/// Is this error (or one of its causes) a TLS failure? Then its text is
/// rustls's reason (unknown issuer, name mismatch, an alert from the peer).
/// An `io::Error` hides what it wraps from `source()` (hyper-rustls wraps
/// one io::Error in another), so those are opened with `get_ref` too.
pub fn is_tls_failure(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.is::<rustls::Error>() {
            return true;
        }
        if let Some(io) = e.downcast_ref::<std::io::Error>()
            && let Some(inner) = io.get_ref()
            && is_tls_failure(inner)
        {
            return true;
        }
        current = e.source();
    }
    false
}

#[cfg(test)]
mod tests;
