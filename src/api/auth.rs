//! Who may call: `X-Auth-Token` checked against the configured tokens
//! (kept only as SHA-256 digests, compared in constant time), then roles.

use http::HeaderMap;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::{AuthConfig, AuthMode};

/// The header carrying the token.
pub const TOKEN_HEADER: &str = "x-auth-token";

/// Why a request is refused before anything else is looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// 401: no token, or not a known one.
    #[error("The request you have made requires authentication.")]
    Unauthenticated,
    /// 403: a known token without a required role.
    #[error(
        "Policy doesn't allow os_compute_api:os-server-external-events:create to be performed."
    )]
    Forbidden,
}

struct KnownToken {
    digest: [u8; 32],
    authorised: bool,
}

/// Checks tokens and roles; built once from `[auth]`.
pub struct Authenticator {
    mode: AuthMode,
    tokens: Vec<KnownToken>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("mode", &self.mode)
            .field("tokens", &self.tokens.len())
            .finish()
    }
}

impl Authenticator {
    /// Config validation has already checked the digests' form.
    pub fn new(config: &AuthConfig) -> Self {
        let tokens = config
            .tokens
            .iter()
            .filter_map(|t| {
                let digest = match (&t.token, &t.token_sha256) {
                    (Some(token), _) => Sha256::digest(token.as_bytes()).into(),
                    (None, Some(hex_digest)) => hex::decode(hex_digest).ok()?.try_into().ok()?,
                    (None, None) => return None,
                };
                let authorised = t.roles.iter().any(|r| config.required_roles.contains(r));
                Some(KnownToken { digest, authorised })
            })
            .collect();
        Self {
            mode: config.mode,
            tokens,
        }
    }

    pub fn is_noauth(&self) -> bool {
        self.mode == AuthMode::Noauth
    }

    /// 401 or 403, or through.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), Denied> {
        if self.is_noauth() {
            return Ok(());
        }
        let token = headers.get(TOKEN_HEADER).ok_or(Denied::Unauthenticated)?;
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        // Visit every token whatever matches, so timing says nothing about which.
        let mut found = subtle::Choice::from(0);
        let mut authorised = subtle::Choice::from(0);
        for known in &self.tokens {
            let hit = known.digest.ct_eq(&digest);
            found |= hit;
            authorised |= hit & subtle::Choice::from(u8::from(known.authorised));
        }
        match (bool::from(found), bool::from(authorised)) {
            (false, _) => Err(Denied::Unauthenticated),
            (true, false) => Err(Denied::Forbidden),
            (true, true) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TokenConfig;
    use http::HeaderValue;

    fn config() -> AuthConfig {
        let hashed = hex::encode(Sha256::digest(b"hashed-token"));
        AuthConfig {
            mode: AuthMode::Token,
            required_roles: vec!["admin".into(), "service".into()],
            tokens: vec![
                TokenConfig {
                    token: Some("admin-token".into()),
                    token_sha256: None,
                    roles: vec!["admin".into()],
                },
                TokenConfig {
                    token: Some("service-token".into()),
                    token_sha256: None,
                    roles: vec!["service".into()],
                },
                TokenConfig {
                    token: Some("reader-token".into()),
                    token_sha256: None,
                    roles: vec!["reader".into(), "member".into()],
                },
                TokenConfig {
                    token: None,
                    token_sha256: Some(hashed),
                    roles: vec!["admin".into()],
                },
            ],
        }
    }

    fn with_token(token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(TOKEN_HEADER, HeaderValue::from_str(token).unwrap());
        h
    }

    #[test]
    fn roles_decide_between_pass_and_403() {
        let auth = Authenticator::new(&config());
        assert_eq!(auth.check(&with_token("admin-token")), Ok(()));
        assert_eq!(auth.check(&with_token("service-token")), Ok(()));
        assert_eq!(auth.check(&with_token("hashed-token")), Ok(()));
        assert_eq!(
            auth.check(&with_token("reader-token")),
            Err(Denied::Forbidden)
        );
    }

    #[test]
    fn missing_or_unknown_tokens_are_401() {
        let auth = Authenticator::new(&config());
        assert_eq!(auth.check(&HeaderMap::new()), Err(Denied::Unauthenticated));
        assert_eq!(
            auth.check(&with_token("nope")),
            Err(Denied::Unauthenticated)
        );
        assert_eq!(auth.check(&with_token("")), Err(Denied::Unauthenticated));
    }

    #[test]
    fn noauth_lets_everyone_in() {
        let auth = Authenticator::new(&AuthConfig {
            mode: AuthMode::Noauth,
            ..config()
        });
        assert_eq!(auth.check(&HeaderMap::new()), Ok(()));
    }
}
