//! Keystone's settings. Users write them in `[auth]`, beside the API's own
//! keys ([`crate::api::auth_config`]); they are used with `auth.mode = "keystone"`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::support::config_error::{ConfigError, invalid};

/// `[auth]`'s Keystone keys.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeystoneConfig {
    /// Keystone's v3 endpoint, `http://` only (no TLS client).
    pub auth_url: String,
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

    /// Checks the keys keystone mode needs (the hub calls it in that mode only).
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if !self.auth_url.starts_with("http://") {
            return Err(invalid(
                "auth.auth_url",
                "keystone mode needs an http:// URL of Keystone v3 (https is not supported)",
            ));
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
