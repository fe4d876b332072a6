//! `[auth]`'s API keys: the mode, the required roles, the known tokens.
//! The Keystone keys of the same section belong to [`crate::keystone::config`].

use serde::{Deserialize, Serialize};

use crate::support::config_error::{ConfigError, invalid};

/// `[auth]`: who may call the API.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// `token` (tokens from this file), `noauth` (everyone is admin) or
    /// `keystone` (tokens validated by Keystone).
    pub mode: AuthMode,
    /// A token needs any one of these roles.
    pub required_roles: Vec<String>,
    /// Known tokens (file only, never from the environment).
    pub tokens: Vec<TokenConfig>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthMode::Token,
            required_roles: vec!["admin".into(), "service".into()],
            tokens: Vec::new(),
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
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
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
    /// The user the token stands for (Nova mode: the message's context).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The token's project: in Nova mode, a caller without the `admin` role
    /// sees only this project's servers (none when it is unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
}

impl AuthConfig {
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.mode == AuthMode::Token && self.tokens.is_empty() {
            return Err(invalid(
                "auth.tokens",
                "token mode needs at least one [[auth.tokens]] entry (or set auth.mode = \"noauth\")",
            ));
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
