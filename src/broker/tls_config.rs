//! `[amqp.tls]`: TLS to the broker nodes. TLS is used for a node whose URL
//! is `amqps://`, and for every node when `enabled = true` (oslo.messaging's
//! `ssl = true`, with `rabbit://` or `amqp://` URLs). The same CA,
//! certificate and key apply to every node; each node's certificate must
//! name the host its URL gives.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::support::config_error::{ConfigError, invalid};
use crate::tls::{ClientTls, Identity, Verify};

/// `[amqp.tls]`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AmqpTlsConfig {
    /// TLS for every node, whatever its URL's scheme (`amqps://` always is).
    pub enabled: bool,
    /// PEM CA bundle to trust; empty: the system's roots.
    #[serde(with = "crate::tls::path_setting")]
    pub ca_file: Option<PathBuf>,
    /// PEM client certificate chain for mutual TLS (with `key_file`).
    #[serde(with = "crate::tls::path_setting")]
    pub cert_file: Option<PathBuf>,
    /// PEM private key of `cert_file` (PKCS#8, PKCS#1 or SEC1).
    #[serde(with = "crate::tls::path_setting")]
    pub key_file: Option<PathBuf>,
    /// Check that each node's certificate names the host of its URL; `false`
    /// only for old broker certificates without the node's name (warned at start).
    pub verify_hostname: bool,
}

impl Default for AmqpTlsConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            ca_file: None,
            cert_file: None,
            key_file: None,
            verify_hostname: true,
        }
    }
}

impl AmqpTlsConfig {
    /// The settings as the TLS room takes them (cert and key validated as a pair).
    pub fn client(&self) -> ClientTls {
        let identity = match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => Some(Identity {
                cert_file: cert.clone(),
                key_file: key.clone(),
            }),
            _ => None,
        };
        ClientTls {
            ca_file: self.ca_file.clone(),
            identity,
            verify: if self.verify_hostname {
                Verify::Full
            } else {
                Verify::ChainOnly
            },
        }
    }

    /// Are any of the settings beyond `enabled` given?
    fn any_file(&self) -> bool {
        self.ca_file.is_some() || self.cert_file.is_some() || self.key_file.is_some()
    }

    /// Cert and key come as a pair; when TLS is used (or files are named),
    /// the files are read now, so a missing or bad one stops the start.
    pub(crate) fn validate(&self, used: bool) -> Result<(), ConfigError> {
        if self.cert_file.is_some() != self.key_file.is_some() {
            return Err(invalid(
                "amqp.tls.cert_file",
                "amqp.tls.cert_file and amqp.tls.key_file go together: set both or neither",
            ));
        }
        if used || self.any_file() {
            self.client()
                .client_config()
                .map_err(|source| ConfigError::Tls {
                    key: "amqp.tls",
                    source: Box::new(source),
                })?;
        }
        Ok(())
    }

    /// The settings in effect for `check-config` (paths, never contents).
    pub fn describe(&self, nodes: &[super::Node]) -> String {
        let tls: Vec<&str> = nodes
            .iter()
            .filter(|n| n.uses_tls())
            .map(|n| n.label())
            .collect();
        if tls.is_empty() {
            return "amqp.tls: off (plain AMQP to every node)".to_owned();
        }
        let ca = self.ca_file.as_ref().map_or_else(
            || "the system's roots".to_owned(),
            |p| p.display().to_string(),
        );
        let client = match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => format!(
                "client certificate {} with key {}",
                cert.display(),
                key.display()
            ),
            _ => "no client certificate".to_owned(),
        };
        format!(
            "amqp.tls: TLS to {} of {} nodes ({}); trusting {ca}; {client}; verify_hostname = {}",
            tls.len(),
            nodes.len(),
            tls.join(", "),
            self.verify_hostname,
        )
    }

    /// Logs, once at start, a setting that weakens the check.
    pub fn warn_weakened(&self, used: bool) {
        if used && !self.verify_hostname {
            tracing::warn!(
                "amqp.tls.verify_hostname = false: broker certificates are checked against \
                 the CA but not against the node's name"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    const MINIMAL: &str = "[auth]\nmode = \"noauth\"\n";

    fn load(extra: &str, env: &[(&str, &str)]) -> Result<Config, String> {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        Config::from_toml(&format!("{MINIMAL}{extra}"), env)
            .map_err(|e| crate::support::error_chain::error_chain(&e))
    }

    #[test]
    fn defaults_verify_everything_and_empty_paths_are_unset() {
        let c = load("[amqp.tls]\nca_file = \"\"\n", &[]).unwrap();
        assert!(!c.amqp.tls.enabled);
        assert!(c.amqp.tls.verify_hostname);
        assert_eq!(c.amqp.tls.ca_file, None);
        assert!(!c.amqp.uses_tls());
    }

    #[test]
    fn enabled_or_amqps_marks_every_node() {
        let c = load(
            "[amqp]\nurl = \"rabbit://u:p@h1:5671,u:p@h2:5671/\"\n",
            &[("HERALD__AMQP__TLS__ENABLED", "true")],
        );
        // The system's roots may be missing here; then the error says so.
        match c {
            Ok(c) => assert!(c.amqp.nodes().iter().all(|n| n.uses_tls())),
            Err(e) => assert!(e.contains("system"), "{e}"),
        }
    }

    #[test]
    fn cert_without_key_names_both_keys() {
        let err = load("[amqp.tls]\ncert_file = \"/tmp/c.pem\"\n", &[]).unwrap_err();
        assert!(err.contains("amqp.tls.cert_file"), "{err}");
        assert!(err.contains("amqp.tls.key_file"), "{err}");
    }

    #[test]
    fn unreadable_files_stop_the_start_naming_file_and_key() {
        let err = load(
            "[amqp]\nurl = \"amqps://u:p@h:5671/%2f\"\n[amqp.tls]\nca_file = \"/nonexistent/ca.pem\"\n",
            &[],
        )
        .unwrap_err();
        assert!(err.contains("amqp.tls"), "{err}");
        assert!(err.contains("/nonexistent/ca.pem"), "{err}");
        let err = load("[amqp.tls]\nverify_host = false\n", &[]).unwrap_err();
        assert!(err.contains("verify_host"), "unknown keys are named: {err}");
    }
}
