//! Keystone's settings. Users write them in `[auth]`, beside the API's own
//! keys ([`crate::api::auth_config`]); they are used with `auth.mode = "keystone"`.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::support::config_error::{ConfigError, invalid};
use crate::tls::{ClientTls, Identity, Verify};

/// `[auth]`'s Keystone keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeystoneConfig {
    /// Keystone's v3 endpoint, `http://` or `https://`.
    pub auth_url: String,
    /// https: PEM CA bundle to trust (empty: the system's roots).
    #[serde(with = "crate::tls::path_setting")]
    pub cafile: Option<PathBuf>,
    /// https: PEM client certificate, with `keyfile`.
    #[serde(with = "crate::tls::path_setting")]
    pub certfile: Option<PathBuf>,
    /// https: the PEM private key of `certfile`.
    #[serde(with = "crate::tls::path_setting")]
    pub keyfile: Option<PathBuf>,
    /// https: no certificate check at all (warned at start, shown in /readyz).
    pub insecure: bool,
    /// herald's own service user.
    pub username: String,
    /// That user's password (masked by `check-config`).
    pub password: String,
    /// The project herald's own token is scoped to.
    pub project_name: String,
    /// The domain of `username`.
    pub user_domain_name: String,
    /// The domain of `project_name`.
    pub project_domain_name: String,
    /// How long a validated token is cached ("0s": no cache).
    #[serde(with = "humantime_serde")]
    pub token_cache_time: Duration,
    /// Most tokens kept in the validation cache.
    pub token_cache_size: usize,
    /// The `uri` of the 401's `WWW-Authenticate` (empty: `auth_url`).
    pub www_authenticate_uri: String,
    /// An `X-Service-Token` counts only with one of these roles.
    pub service_token_roles: Vec<String>,
    /// Limit on each request herald makes to Keystone.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
}

impl Default for KeystoneConfig {
    fn default() -> Self {
        Self {
            auth_url: String::new(),
            cafile: None,
            certfile: None,
            keyfile: None,
            insecure: false,
            username: String::new(),
            password: String::new(),
            project_name: "service".into(),
            user_domain_name: "Default".into(),
            project_domain_name: "Default".into(),
            token_cache_time: Duration::from_secs(300),
            token_cache_size: 10_000,
            www_authenticate_uri: String::new(),
            service_token_roles: vec!["service".into()],
            request_timeout: Duration::from_secs(5),
        }
    }
}

impl KeystoneConfig {
    /// The `uri` a 401's `WWW-Authenticate` names.
    pub fn www_authenticate_uri(&self) -> &str {
        if self.www_authenticate_uri.is_empty() {
            &self.auth_url
        } else {
            &self.www_authenticate_uri
        }
    }

    /// Is Keystone reached over TLS?
    pub fn is_https(&self) -> bool {
        super::transport::is_https(&self.auth_url)
    }

    /// The TLS settings of an https `auth_url`, keystonemiddleware's names.
    pub fn tls(&self) -> ClientTls {
        let identity = match (&self.certfile, &self.keyfile) {
            (Some(cert), Some(key)) => Some(Identity {
                cert_file: cert.clone(),
                key_file: key.clone(),
            }),
            _ => None,
        };
        ClientTls {
            ca_file: self.cafile.clone(),
            identity,
            verify: if self.insecure {
                Verify::Nothing
            } else {
                Verify::Full
            },
        }
    }

    /// How Keystone is reached, one line for `check-config` (paths only).
    pub fn describe_tls(&self) -> String {
        if !self.is_https() {
            return format!("auth.auth_url: {} over plain http", self.auth_url);
        }
        let shown = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        let check = if self.insecure {
            "NO certificate check (auth.insecure = true)".to_owned()
        } else {
            let ca = shown(&self.cafile).unwrap_or_else(|| "the system's roots".into());
            format!("certificate checked against {ca}")
        };
        let client = match (shown(&self.certfile), shown(&self.keyfile)) {
            (Some(cert), Some(key)) => format!("; client certificate {cert} with key {key}"),
            _ => String::new(),
        };
        format!(
            "auth.auth_url: {} over https, {check}{client}",
            self.auth_url
        )
    }

    /// Logs, once at start, a setting that turns the certificate check off.
    pub fn warn_weakened(&self) {
        if self.is_https() && self.insecure {
            tracing::warn!(
                "auth.insecure = true: Keystone's certificate is not checked at all; \
                 anyone on the path can answer for it (set auth.cafile instead)"
            );
        }
    }

    /// Checks the keys keystone mode needs (the hub calls it in that mode only).
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if !self.auth_url.starts_with("http://") && !self.is_https() {
            return Err(invalid(
                "auth.auth_url",
                "keystone mode needs an http:// or https:// URL of Keystone v3",
            ));
        }
        if self.certfile.is_some() != self.keyfile.is_some() {
            return Err(invalid(
                "auth.certfile",
                "auth.certfile and auth.keyfile go together: set both or neither",
            ));
        }
        if self.is_https() {
            self.tls()
                .client_config()
                .map_err(|source| ConfigError::Tls {
                    key: "auth",
                    source: Box::new(source),
                })?;
        }
        if self.auth_url.parse::<http::Uri>().is_err() {
            return Err(invalid("auth.auth_url", "not a valid URL"));
        }
        for (key, value) in [
            ("auth.username", &self.username),
            ("auth.password", &self.password),
            ("auth.project_name", &self.project_name),
            ("auth.user_domain_name", &self.user_domain_name),
            ("auth.project_domain_name", &self.project_domain_name),
        ] {
            if value.is_empty() {
                return Err(invalid(key, "keystone mode needs it"));
            }
        }
        if self.token_cache_size == 0 {
            return Err(invalid("auth.token_cache_size", "must be at least 1"));
        }
        if self.request_timeout.is_zero() {
            return Err(invalid("auth.request_timeout", "must be above zero"));
        }
        Ok(())
    }
}
