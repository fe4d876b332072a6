//! `[auth]`: the mode, the required roles, the known tokens and the
//! Keystone keys (used only with `mode = "keystone"`).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config_error::{ConfigError, invalid};
use crate::tls::{ClientTls, Identity, Verify};

/// `[auth]`
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// `token` (tokens from this file) or `noauth` (everyone is admin).
    pub mode: AuthMode,
    /// A token needs any one of these roles.
    pub required_roles: Vec<String>,
    /// Known tokens (file only, never from the environment).
    pub tokens: Vec<TokenConfig>,
    /// keystone: Keystone's v3 endpoint, `http://` or `https://`.
    pub auth_url: String,
    /// keystone, https: PEM CA bundle to trust (empty: the system's roots).
    #[serde(with = "crate::tls::path_setting")]
    pub cafile: Option<PathBuf>,
    /// keystone, https: PEM client certificate, with `keyfile`.
    #[serde(with = "crate::tls::path_setting")]
    pub certfile: Option<PathBuf>,
    /// keystone, https: the PEM private key of `certfile`.
    #[serde(with = "crate::tls::path_setting")]
    pub keyfile: Option<PathBuf>,
    /// keystone, https: no certificate check at all (warned at start, shown in /readyz).
    pub insecure: bool,
    /// keystone: herald's own service user.
    pub username: String,
    /// keystone: that user's password (masked by `check-config`).
    pub password: String,
    /// keystone: the project herald's own token is scoped to.
    pub project_name: String,
    /// keystone: the domain of `username`.
    pub user_domain_name: String,
    /// keystone: the domain of `project_name`.
    pub project_domain_name: String,
    /// keystone: how long a validated token is cached ("0s": no cache).
    #[serde(with = "humantime_serde")]
    pub token_cache_time: Duration,
    /// keystone: most tokens kept in the validation cache.
    pub token_cache_size: usize,
    /// keystone: the `uri` of the 401's `WWW-Authenticate` (empty: `auth_url`).
    pub www_authenticate_uri: String,
    /// keystone: an `X-Service-Token` counts only with one of these roles.
    pub service_token_roles: Vec<String>,
    /// keystone: limit on each request herald makes to Keystone.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthMode::Token,
            required_roles: vec!["admin".into(), "service".into()],
            tokens: Vec::new(),
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

/// How requests are authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    Token,
    Noauth,
    /// Tokens validated against Keystone v3, as keystonemiddleware does.
    Keystone,
}

/// `[[auth.tokens]]`: a token (or its SHA-256) and its roles.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    /// The token itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// Hex SHA-256 of the token, instead of the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_sha256: Option<String>,
    /// Roles the token carries.
    #[serde(default)]
    pub roles: Vec<String>,
}

impl AuthConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.mode == AuthMode::Token && self.tokens.is_empty() {
            return Err(invalid(
                "auth.tokens",
                "token mode needs at least one [[auth.tokens]] entry (or set auth.mode = \"noauth\")",
            ));
        }
        if self.mode == AuthMode::Keystone {
            self.validate_keystone()?;
        }
        if self.mode != AuthMode::Noauth && self.required_roles.is_empty() {
            return Err(invalid(
                "auth.required_roles",
                "must name at least one role",
            ));
        }
        for t in &self.tokens {
            match (&t.token, &t.token_sha256) {
                (Some(tok), None) if !tok.is_empty() => {}
                (None, Some(hash)) => {
                    if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                        return Err(invalid("auth.tokens.token_sha256", "must be 64 hex digits"));
                    }
                }
                _ => {
                    return Err(invalid(
                        "auth.tokens",
                        "each entry needs exactly one of a non-empty `token` or `token_sha256`",
                    ));
                }
            }
        }
        Ok(())
    }
}

impl AuthConfig {
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

    /// Logs, once at start, a setting that turns the certificate check off.
    pub fn warn_weakened(&self) {
        let https = crate::keystone::transport::is_https(&self.auth_url);
        if self.mode == AuthMode::Keystone && https && self.insecure {
            tracing::warn!(
                "auth.insecure = true: Keystone's certificate is not checked at all;                  anyone on the path can answer for it (set auth.cafile instead)"
            );
        }
    }

    fn validate_keystone(&self) -> Result<(), ConfigError> {
        let https = crate::keystone::transport::is_https(&self.auth_url);
        if !self.auth_url.starts_with("http://") && !https {
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
        if https {
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
