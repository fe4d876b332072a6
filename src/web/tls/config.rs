//! `[http.tls]`: the certificate and key `herald serve` answers HTTPS with,
//! and how long a client may take over the handshake.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::support::config_error::{ConfigError, invalid};

/// The longest `http.tls.handshake_timeout` accepted: more is a typo, and
/// a silent client would hold a connection slot that long.
const MAX_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(300);

/// `[http.tls]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpTlsConfig {
    /// PEM certificate chain, the server's own certificate first. Empty
    /// (with `key_file` empty): plain HTTP. Reread on SIGHUP.
    pub cert_file: PathBuf,
    /// PEM private key of the chain's first certificate (PKCS#8, PKCS#1 or
    /// SEC1). Reread on SIGHUP with `cert_file`.
    pub key_file: PathBuf,
    /// How long a client may take to complete the TLS handshake after its
    /// connection is accepted; a connection still handshaking then is closed.
    #[serde(with = "humantime_serde")]
    pub handshake_timeout: Duration,
}

impl Default for HttpTlsConfig {
    fn default() -> Self {
        Self {
            cert_file: PathBuf::new(),
            key_file: PathBuf::new(),
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

impl HttpTlsConfig {
    /// Whether HTTPS is asked for (both files named).
    pub fn enabled(&self) -> bool {
        !self.cert_file.as_os_str().is_empty() && !self.key_file.as_os_str().is_empty()
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        let cert = !self.cert_file.as_os_str().is_empty();
        let key = !self.key_file.as_os_str().is_empty();
        if cert != key {
            // Half a pair is a mistake, never a quiet fall back to plain HTTP.
            let (set, missing) = if cert {
                ("http.tls.cert_file", "http.tls.key_file")
            } else {
                ("http.tls.key_file", "http.tls.cert_file")
            };
            return Err(invalid(
                missing,
                format!("must be set with {set} (set both for HTTPS, or neither)"),
            ));
        }
        if self.handshake_timeout.is_zero() || self.handshake_timeout > MAX_HANDSHAKE_TIMEOUT {
            return Err(invalid(
                "http.tls.handshake_timeout",
                "must be between 1ms and 5m",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_files_or_neither() {
        let mut tls = HttpTlsConfig::default();
        assert!(
            tls.validate().is_ok() && !tls.enabled(),
            "neither: plain HTTP"
        );
        tls.cert_file = "/etc/herald/cert.pem".into();
        let error = tls.validate().expect_err("cert without key").to_string();
        assert!(
            error.contains("http.tls.key_file") && error.contains("http.tls.cert_file"),
            "{error}"
        );
        tls.key_file = "/etc/herald/key.pem".into();
        assert!(tls.validate().is_ok() && tls.enabled());
        tls.cert_file = PathBuf::new();
        let error = tls.validate().expect_err("key without cert").to_string();
        assert!(error.contains("http.tls.cert_file"), "{error}");
    }

    #[test]
    fn handshake_timeout_is_bounded() {
        let mut tls = HttpTlsConfig::default();
        for bad in [
            Duration::ZERO,
            MAX_HANDSHAKE_TIMEOUT + Duration::from_millis(1),
        ] {
            tls.handshake_timeout = bad;
            let error = tls.validate().expect_err("out of range").to_string();
            assert!(error.contains("http.tls.handshake_timeout"), "{error}");
        }
        tls.handshake_timeout = MAX_HANDSHAKE_TIMEOUT;
        assert!(tls.validate().is_ok());
    }
}
