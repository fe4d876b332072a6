//! Reading a certificate chain and its private key from PEM files into the
//! rustls `CertifiedKey` a handshake presents, checking that the key belongs
//! to the chain's first certificate. Files are read with a size bound.

use std::io::Read;
use std::path::{Path, PathBuf};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;
use sha2::{Digest, Sha256};

/// Largest certificate or key file read: a chain of a few certificates is a
/// few KiB, so anything near this is the wrong file.
const MAX_PEM_BYTES: u64 = 1 << 20;

/// Why a certificate/key pair cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum PairError {
    #[error("cannot read {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is larger than 1 MiB", path.display())]
    TooLarge { path: PathBuf },
    #[error("{} is not valid PEM", path.display())]
    Pem {
        path: PathBuf,
        #[source]
        source: pem::Error,
    },
    #[error("{} holds no PEM certificate", path.display())]
    NoCertificate { path: PathBuf },
    #[error("{} holds no PEM private key", path.display())]
    NoKey { path: PathBuf },
    #[error("the key in {} cannot serve the certificate in {}", key.display(), cert.display())]
    Unusable {
        cert: PathBuf,
        key: PathBuf,
        #[source]
        source: rustls::Error,
    },
}

/// Reads `cert_file` and `key_file` into a pair rustls can serve.
pub fn load(
    cert_file: &Path,
    key_file: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, PairError> {
    let chain = certificates(cert_file)?;
    let key = private_key(key_file)?;
    CertifiedKey::from_der(chain, key, provider).map_err(|source| PairError::Unusable {
        cert: cert_file.to_owned(),
        key: key_file.to_owned(),
        source,
    })
}

/// The SHA-256 fingerprint of the pair's own certificate, as
/// `openssl x509 -noout -fingerprint -sha256` prints it (colons, upper case).
pub fn fingerprint(pair: &CertifiedKey) -> String {
    let Some(cert) = pair.cert.first() else {
        return String::new();
    };
    let digest = Sha256::digest(cert.as_ref());
    let hex = hex::encode_upper(digest);
    let pairs: Vec<&str> = hex
        .as_bytes()
        .chunks(2)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    pairs.join(":")
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, PairError> {
    let bytes = read_bounded(path)?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| PairError::Pem {
            path: path.to_owned(),
            source,
        })?;
    if chain.is_empty() {
        return Err(PairError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(chain)
}

fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, PairError> {
    let bytes = read_bounded(path)?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|source| match source {
        pem::Error::NoItemsFound => PairError::NoKey {
            path: path.to_owned(),
        },
        source => PairError::Pem {
            path: path.to_owned(),
            source,
        },
    })
}

fn read_bounded(path: &Path) -> Result<Vec<u8>, PairError> {
    let read_error = |source| PairError::Read {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_PEM_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() as u64 > MAX_PEM_BYTES {
        return Err(PairError::TooLarge {
            path: path.to_owned(),
        });
    }
    Ok(bytes)
}
