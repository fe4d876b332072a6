//! Who may call: `X-Auth-Token` checked against the configured tokens
//! (plain or as SHA-256 digests, compared in constant time) or, in keystone
//! mode, validated by Keystone; then roles.

use std::sync::Arc;

use http::{HeaderMap, HeaderValue};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::auth_config::{AuthConfig, AuthMode};
use crate::keystone::{Keystone, KeystoneConfig, KeystoneError, Outcome};
use crate::model::Caller;

/// The header carrying the token.
pub const TOKEN_HEADER: &str = "x-auth-token";
/// The header carrying a service token (keystone mode).
pub const SERVICE_TOKEN_HEADER: &str = "x-service-token";

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
    /// 503: Keystone could not say (keystone mode).
    #[error("The identity service is unavailable; retry later.")]
    Unavailable,
}

/// A configured token as it is matched: the token itself when the config
/// gives it in plain text (compared in constant time, no hashing per
/// request), else its SHA-256 digest.
enum Secret {
    Plain(Vec<u8>),
    Digest([u8; 32]),
}

struct KnownToken {
    secret: Secret,
    authorised: bool,
    caller: Caller,
}

/// Checks tokens and roles; built once from `[auth]`.
pub struct Authenticator {
    mode: AuthMode,
    tokens: Vec<KnownToken>,
    keystone: Option<Arc<Keystone>>,
    required_roles: Vec<String>,
    www_authenticate: HeaderValue,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("mode", &self.mode)
            .field("tokens", &self.tokens.len())
            .field("keystone", &self.keystone)
            .finish()
    }
}

impl Authenticator {
    /// Config validation has already checked the digests' form; `keystone`
    /// is used in keystone mode only (the TLS files of an https `auth_url`
    /// are read now).
    pub fn new(config: &AuthConfig, keystone: &KeystoneConfig) -> Result<Self, KeystoneError> {
        let tokens = config
            .tokens
            .iter()
            .filter_map(|t| {
                let secret = match (&t.token, &t.token_sha256) {
                    (Some(token), _) => Secret::Plain(token.as_bytes().to_vec()),
                    (None, Some(hex_digest)) => {
                        Secret::Digest(hex::decode(hex_digest).ok()?.try_into().ok()?)
                    }
                    (None, None) => return None,
                };
                let authorised = t.roles.iter().any(|r| config.required_roles.contains(r));
                let caller = Caller {
                    user_id: t.user_id.clone(),
                    project_id: t.project_id.clone(),
                    roles: t.roles.clone(),
                };
                Some(KnownToken {
                    secret,
                    authorised,
                    caller,
                })
            })
            .collect();
        let uri = keystone.www_authenticate_uri();
        let keystone = match config.mode {
            AuthMode::Keystone => Some(Arc::new(Keystone::new(keystone)?)),
            _ => None,
        };
        let www_authenticate = HeaderValue::from_str(&format!("Keystone uri=\"{uri}\""))
            .unwrap_or_else(|_| HeaderValue::from_static("Keystone uri=\"\""));
        Ok(Self {
            mode: config.mode,
            tokens,
            keystone,
            required_roles: config.required_roles.clone(),
            www_authenticate,
        })
    }

    /// The Keystone validator, in keystone mode.
    pub fn keystone(&self) -> Option<&Arc<Keystone>> {
        self.keystone.as_ref()
    }

    /// The `WWW-Authenticate` value of a 401.
    pub fn www_authenticate(&self) -> HeaderValue {
        self.www_authenticate.clone()
    }

    /// 401, 403 or 503, or through; asks Keystone (or its cache) in keystone mode.
    pub async fn check(&self, headers: &HeaderMap) -> Result<Caller, Denied> {
        let Some(keystone) = &self.keystone else {
            return self.check_static(headers);
        };
        let token = headers
            .get(TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|t| !t.is_empty())
            .ok_or(Denied::Unauthenticated)?;
        let service = headers
            .get(SERVICE_TOKEN_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|t| !t.is_empty());
        // Boxed: Keystone's client future is large, and the token path
        // should not carry its size.
        match Box::pin(keystone.judge(token, service)).await {
            Outcome::Valid(info) if info.roles.iter().any(|r| self.required_roles.contains(r)) => {
                Ok(Caller {
                    user_id: info.user_id.clone(),
                    project_id: info.project_id.clone(),
                    roles: info.roles.clone(),
                })
            }
            Outcome::Valid(_) => Err(Denied::Forbidden),
            Outcome::Invalid => Err(Denied::Unauthenticated),
            Outcome::Unavailable => Err(Denied::Unavailable),
        }
    }

    pub fn is_noauth(&self) -> bool {
        self.mode == AuthMode::Noauth
    }

    /// Token and noauth modes: 401 or 403, or the caller, in constant time.
    /// In noauth mode the caller is read from the token as Nova's noauth2
    /// read it (`user:project`).
    pub fn check_static(&self, headers: &HeaderMap) -> Result<Caller, Denied> {
        if self.is_noauth() {
            let token = headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok());
            return Ok(Caller::from_noauth_token(token));
        }
        let token = headers
            .get(TOKEN_HEADER)
            .ok_or(Denied::Unauthenticated)?
            .as_bytes();
        // Hashed only when some configured token is known by its digest alone.
        let digest: Option<[u8; 32]> = self
            .tokens
            .iter()
            .any(|known| matches!(known.secret, Secret::Digest(_)))
            .then(|| Sha256::digest(token).into());
        // Visit every token whatever matches, so timing says nothing about which.
        let mut found = subtle::Choice::from(0);
        let mut authorised = subtle::Choice::from(0);
        let mut index = 0u32;
        for (i, known) in self.tokens.iter().enumerate() {
            let hit = match (&known.secret, &digest) {
                (Secret::Plain(plain), _) => plain_eq(plain, token),
                (Secret::Digest(known), Some(digest)) => known.ct_eq(digest),
                (Secret::Digest(_), None) => subtle::Choice::from(0),
            };
            found |= hit;
            authorised |= hit & subtle::Choice::from(u8::from(known.authorised));
            let i = u32::try_from(i).unwrap_or(u32::MAX);
            index = subtle::ConditionallySelectable::conditional_select(&index, &i, hit);
        }
        match (bool::from(found), bool::from(authorised)) {
            (false, _) => Err(Denied::Unauthenticated),
            (true, false) => Err(Denied::Forbidden),
            (true, true) => self
                .tokens
                .get(index as usize)
                .map(|known| known.caller.clone())
                .ok_or(Denied::Unauthenticated),
        }
    }
}

/// Whether `given` is `known`, in time that depends on `known`'s length
/// only: every byte of `known` is compared whatever `given` is.
fn plain_eq(known: &[u8], given: &[u8]) -> subtle::Choice {
    let same_length = (known.len() as u64).ct_eq(&(given.len() as u64));
    let mut differ = 0u8;
    for (i, byte) in known.iter().enumerate() {
        differ |= byte ^ given.get(i).copied().unwrap_or(!byte);
    }
    same_length & differ.ct_eq(&0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::auth_config::TokenConfig;
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
                    user_id: Some("nova".into()),
                    project_id: Some("service".into()),
                },
                TokenConfig {
                    token: Some("service-token".into()),
                    token_sha256: None,
                    roles: vec!["service".into()],
                    user_id: None,
                    project_id: Some("p1".into()),
                },
                TokenConfig {
                    token: Some("reader-token".into()),
                    token_sha256: None,
                    roles: vec!["reader".into(), "member".into()],
                    user_id: None,
                    project_id: None,
                },
                TokenConfig {
                    token: None,
                    token_sha256: Some(hashed),
                    roles: vec!["admin".into()],
                    user_id: None,
                    project_id: None,
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
        let auth = Authenticator::new(&config(), &KeystoneConfig::default()).unwrap();
        let admin = auth.check_static(&with_token("admin-token")).unwrap();
        assert_eq!(admin.user_id.as_deref(), Some("nova"));
        assert_eq!(admin.project_id.as_deref(), Some("service"));
        assert!(admin.is_admin());
        let service = auth.check_static(&with_token("service-token")).unwrap();
        assert_eq!(service.project_id.as_deref(), Some("p1"));
        assert!(!service.is_admin());
        let hashed = auth.check_static(&with_token("hashed-token")).unwrap();
        assert!(hashed.is_admin());
        assert_eq!(
            auth.check_static(&with_token("reader-token")),
            Err(Denied::Forbidden)
        );
    }

    #[test]
    fn missing_or_unknown_tokens_are_401() {
        let auth = Authenticator::new(&config(), &KeystoneConfig::default()).unwrap();
        assert_eq!(
            auth.check_static(&HeaderMap::new()),
            Err(Denied::Unauthenticated)
        );
        assert_eq!(
            auth.check_static(&with_token("nope")),
            Err(Denied::Unauthenticated)
        );
        assert_eq!(
            auth.check_static(&with_token("")),
            Err(Denied::Unauthenticated)
        );
        for near in [
            "admin-toke",
            "admin-tokem",
            "admin-token ",
            "admin-tokenadmin-token",
        ] {
            assert_eq!(
                auth.check_static(&with_token(near)),
                Err(Denied::Unauthenticated),
                "{near}"
            );
        }
    }

    #[test]
    fn noauth_lets_everyone_in() {
        let noauth = AuthConfig {
            mode: AuthMode::Noauth,
            ..config()
        };
        let auth = Authenticator::new(&noauth, &KeystoneConfig::default()).unwrap();
        assert!(auth.check_static(&HeaderMap::new()).unwrap().is_admin());
        let caller = auth.check_static(&with_token("neutron:service")).unwrap();
        assert_eq!(caller.project_id.as_deref(), Some("service"));
        assert!(!caller.is_admin());
    }
}
