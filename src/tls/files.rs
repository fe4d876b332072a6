//! Reading the PEM files a TLS setting names: a CA bundle, a certificate
//! chain, a private key (PKCS#8, PKCS#1 or SEC1), and the system's roots.

use std::path::Path;

use rustls::RootCertStore;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::TlsError;

/// Every certificate of a PEM file, in order.
fn certificates(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let read = |source| TlsError::Read {
        what,
        path: path.to_owned(),
        source,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(read)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(read)?;
    if certs.is_empty() {
        return Err(TlsError::Empty {
            what,
            path: path.to_owned(),
            expected: "certificate",
        });
    }
    Ok(certs)
}

/// The roots of a PEM CA bundle; each must be usable.
pub fn ca_bundle(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in certificates("CA file", path)? {
        roots.add(cert).map_err(|source| TlsError::BadRoot {
            path: path.to_owned(),
            source,
        })?;
    }
    Ok(roots)
}

/// The client certificate chain (leaf first).
pub fn cert_chain(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    certificates("certificate file", path)
}

/// The first private key of a PEM file, whichever of the usual encodings.
pub fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|source| match source {
        rustls_pki_types::pem::Error::NoItemsFound => TlsError::Empty {
            what: "key file",
            path: path.to_owned(),
            expected: "private key",
        },
        source => TlsError::Read {
            what: "key file",
            path: path.to_owned(),
            source,
        },
    })
}

/// The system's trusted roots (`SSL_CERT_FILE`/`SSL_CERT_DIR` are honoured).
/// Unparsable entries are skipped; an empty result is an error.
pub fn system_roots() -> Result<RootCertStore, TlsError> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    if ignored > 0 {
        tracing::debug!(
            added,
            ignored,
            "system roots: some certificates are unusable"
        );
    }
    if roots.is_empty() {
        return Err(TlsError::NoSystemRoots {
            source: found.errors.into_iter().next(),
        });
    }
    Ok(roots)
}
