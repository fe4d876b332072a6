//! The certificate a handshake presents, swappable while serving: SIGHUP
//! rereads the files and swaps the pair in only when the new one is good,
//! so a bad new pair leaves the old one serving.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use super::config::HttpTlsConfig;
use super::pair::{self, PairError};
use crate::support::plain_lock::lock;

/// The served pair and where it is read from.
#[derive(Debug)]
pub struct ReloadingCert {
    cert_file: PathBuf,
    key_file: PathBuf,
    provider: Arc<CryptoProvider>,
    current: Mutex<Arc<CertifiedKey>>,
}

impl ReloadingCert {
    /// Reads the pair named by `config`; an error when it cannot be served.
    pub fn load(config: &HttpTlsConfig, provider: Arc<CryptoProvider>) -> Result<Self, PairError> {
        let first = pair::load(&config.cert_file, &config.key_file, &provider)?;
        Ok(Self {
            cert_file: config.cert_file.clone(),
            key_file: config.key_file.clone(),
            provider,
            current: Mutex::new(Arc::new(first)),
        })
    }

    /// Rereads the files; the new pair serves from the next handshake on.
    /// On an error the pair served until now stays.
    pub fn reload(&self) -> Result<Arc<CertifiedKey>, PairError> {
        let fresh = Arc::new(pair::load(&self.cert_file, &self.key_file, &self.provider)?);
        *lock(&self.current) = Arc::clone(&fresh);
        Ok(fresh)
    }

    /// The pair served now.
    pub fn current(&self) -> Arc<CertifiedKey> {
        Arc::clone(&lock(&self.current))
    }

    /// The certificate file (for log lines).
    pub fn cert_file(&self) -> &std::path::Path {
        &self.cert_file
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// A self-signed certificate for localhost and its key, as PEM.
    fn self_signed() -> (String, String) {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
        (made.cert.pem(), made.signing_key.serialize_pem())
    }

    fn write(dir: &Path, cert: &str, key: &str) -> HttpTlsConfig {
        let config = HttpTlsConfig {
            cert_file: dir.join("cert.pem"),
            key_file: dir.join("key.pem"),
            ..HttpTlsConfig::default()
        };
        std::fs::write(&config.cert_file, cert).unwrap();
        std::fs::write(&config.key_file, key).unwrap();
        config
    }

    #[test]
    fn a_good_pair_swaps_in_and_a_bad_one_keeps_the_old() {
        let dir = tempfile::tempdir().unwrap();
        let (first_cert, first_key) = self_signed();
        let config = write(dir.path(), &first_cert, &first_key);
        let certs = ReloadingCert::load(&config, super::super::provider()).unwrap();
        let first = certs.current();

        let (second_cert, second_key) = self_signed();
        write(dir.path(), &second_cert, &second_key);
        certs.reload().unwrap();
        let second = certs.current();
        assert_ne!(first.cert, second.cert, "the new pair serves");

        let (third_cert, _) = self_signed();
        let broken: [(&str, &str, &str); 4] = [
            (&third_cert, &second_key, "cannot serve the certificate"),
            ("not pem at all", &second_key, "holds no PEM certificate"),
            (&second_cert, "", "holds no PEM private key"),
            (
                &second_cert,
                "-----BEGIN PRIVATE KEY-----\n!!!\n-----END PRIVATE KEY-----\n",
                "not valid PEM",
            ),
        ];
        for (cert, key, why) in broken {
            write(dir.path(), cert, key);
            let error = certs.reload().expect_err(why);
            let text = crate::support::error_chain::error_chain(&error);
            assert!(text.contains(why), "{text}");
            assert_eq!(
                certs.current().cert,
                second.cert,
                "{why}: the old pair stays"
            );
        }
        std::fs::remove_file(&config.key_file).unwrap();
        let error = certs.reload().expect_err("no key file").to_string();
        assert!(
            error.contains("cannot read") && error.contains("key.pem"),
            "{error}"
        );
        assert_eq!(certs.current().cert, second.cert);
    }
}
