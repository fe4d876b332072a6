//! Keystone v3, the one external system this module owns: herald's own
//! service token (issued with its password, renewed before it expires and at
//! once when Keystone refuses it) and the validation of callers' tokens, with
//! a cache and single-flight so that a cached token costs no round trip and
//! concurrent first uses of one token share one validation. Its settings
//! are [`KeystoneConfig`].

pub mod cache;
pub mod client;
pub mod config;
pub mod transport;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::sync::OnceCell;

use crate::support::error_chain::error_chain;
use crate::support::plain_lock;
use cache::{Cache, Key};
use client::{Client, Credentials, Issued, TokenInfo, Verdict};
pub use config::KeystoneConfig;

/// Renew herald's own token when it has less than this left.
const RENEW_MARGIN: Duration = Duration::from_secs(60);

/// Why Keystone could not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum KeystoneError {
    #[error("auth.auth_url: Keystone is unreachable")]
    Unreachable(#[source] hyper_util::client::legacy::Error),
    #[error("auth.auth_url: TLS with Keystone failed (auth.cafile, auth.certfile, auth.keyfile)")]
    Tls(#[source] hyper_util::client::legacy::Error),
    #[error("auth.cafile / auth.certfile / auth.keyfile: the TLS settings cannot be used")]
    TlsSettings(#[source] Box<crate::tls::TlsError>),
    #[error("auth.auth_url: Keystone did not answer within {}", humantime::format_duration(*.0))]
    Timeout(Duration),
    #[error("auth.auth_url: Keystone answered HTTP {0}")]
    Status(u16),
    #[error("auth.auth_url: Keystone's response could not be read")]
    ResponseBody(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("auth.auth_url: Keystone's token body is not what v3 sends")]
    Body(#[source] serde_json::Error),
    #[error("auth.auth_url: Keystone's token expiry is not RFC 3339")]
    Expiry(#[source] time::error::Parse),
    #[error("auth.auth_url: Keystone issued a token without X-Subject-Token")]
    NoSubjectToken,
    #[error("auth.auth_url: cannot build a request")]
    Request(#[source] http::Error),
    #[error(
        "auth.password / auth.username: Keystone refused herald's own credentials (check also auth.project_name and the domains)"
    )]
    Credentials,
}

impl KeystoneError {
    /// A request that got no answer: a TLS failure told apart, with its reason.
    fn unreachable(error: hyper_util::client::legacy::Error) -> Self {
        if crate::tls::is_tls_failure(&error) {
            Self::Tls(error)
        } else {
            Self::Unreachable(error)
        }
    }
}

/// The verdict on a caller, as the API maps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A valid token; its roles.
    Valid(Arc<TokenInfo>),
    /// Unknown, revoked or expired: 401.
    Invalid,
    /// Keystone gave no answer: 503.
    Unavailable,
}

type Flight = Arc<OnceCell<Outcome>>;

/// Validates tokens against one Keystone.
pub struct Keystone {
    client: Client,
    credentials: Credentials,
    own: tokio::sync::Mutex<Option<Issued>>,
    cache: Cache,
    flights: Mutex<HashMap<Key, Flight>>,
    service_roles: Vec<String>,
    /// `auth.insecure` with an https `auth_url`: no certificate check.
    insecure: bool,
}

impl std::fmt::Debug for Keystone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keystone")
            .field("client", &self.client)
            .field("username", &self.credentials.username)
            .field("cache", &self.cache)
            .finish()
    }
}

impl Keystone {
    /// Nothing is sent until the first use (serve starts even if Keystone is
    /// down); the TLS files of an https `auth_url` are read now.
    pub fn new(config: &KeystoneConfig) -> Result<Self, KeystoneError> {
        Ok(Self {
            client: Client::new(&config.auth_url, config.request_timeout, &config.tls())?,
            credentials: Credentials {
                username: config.username.clone(),
                password: config.password.clone(),
                user_domain_name: config.user_domain_name.clone(),
                project_name: config.project_name.clone(),
                project_domain_name: config.project_domain_name.clone(),
            },
            own: tokio::sync::Mutex::new(None),
            cache: Cache::new(config.token_cache_time, config.token_cache_size),
            flights: Mutex::new(HashMap::new()),
            service_roles: config.service_token_roles.clone(),
            insecure: config.is_https() && config.insecure,
        })
    }

    /// How herald's connection to Keystone is secured, for `/readyz`.
    pub fn transport(&self) -> &'static str {
        match (self.client.is_https(), self.insecure) {
            (false, _) => "plain http",
            (true, false) => "https, verified",
            (true, true) => "https, NOT verified (auth.insecure = true)",
        }
    }

    /// Keystone answers and accepts herald's own credentials.
    pub async fn probe(&self) -> Result<(), KeystoneError> {
        self.client.ping().await?;
        self.own_token(None).await.map(drop)
    }

    /// Issues a fresh token for herald's credentials (`check-config`).
    pub async fn check_credentials(&self) -> Result<(), KeystoneError> {
        self.client.issue(&self.credentials).await.map(drop)
    }

    /// Judges a user token, with an optional `X-Service-Token` beside it.
    /// A valid service token (with a service role) lets an expired user
    /// token through, as keystonemiddleware does.
    pub async fn judge(&self, user: &str, service: Option<&str>) -> Outcome {
        let mut allow_expired = false;
        if let Some(service) = service {
            match self.validate(service, false).await {
                Outcome::Valid(info)
                    if info.roles.iter().any(|r| self.service_roles.contains(r)) =>
                {
                    allow_expired = true;
                }
                Outcome::Unavailable => return Outcome::Unavailable,
                // keystonemiddleware refuses the request on a bad service token.
                _ => return Outcome::Invalid,
            }
        }
        self.validate(user, allow_expired).await
    }

    /// One token: the cache, else one shared validation.
    async fn validate(&self, token: &str, allow_expired: bool) -> Outcome {
        let key: Key = (Sha256::digest(token.as_bytes()).into(), allow_expired);
        if let Some(info) = self.cache.get(&key) {
            return still_valid(info, allow_expired);
        }
        let flight = {
            let mut flights = plain_lock::lock(&self.flights);
            flights.entry(key).or_default().clone()
        };
        let outcome = flight
            .get_or_init(|| async {
                let outcome = self.ask(token, allow_expired).await;
                if let Outcome::Valid(info) = &outcome {
                    self.cache.put(key, info.clone());
                }
                outcome
            })
            .await
            .clone();
        {
            let mut flights = plain_lock::lock(&self.flights);
            if flights.get(&key).is_some_and(|f| Arc::ptr_eq(f, &flight)) {
                flights.remove(&key);
            }
        }
        match outcome {
            Outcome::Valid(info) => still_valid(info, allow_expired),
            other => other,
        }
    }

    /// Asks Keystone; renews herald's token once if Keystone refuses it.
    async fn ask(&self, token: &str, allow_expired: bool) -> Outcome {
        let mut refused: Option<String> = None;
        for _ in 0..2 {
            let own = match self.own_token(refused.as_deref()).await {
                Ok(own) => own,
                Err(error) => {
                    tracing::error!(error = %error_chain(&error), "cannot get herald's own Keystone token");
                    return Outcome::Unavailable;
                }
            };
            match self.client.validate(&own, token, allow_expired).await {
                Ok(Verdict::Valid(info)) => return Outcome::Valid(Arc::new(info)),
                Ok(Verdict::Invalid) => return Outcome::Invalid,
                Ok(Verdict::OwnTokenRefused) => refused = Some(own),
                Err(error) => {
                    tracing::error!(error = %error_chain(&error), "Keystone did not validate a token");
                    return Outcome::Unavailable;
                }
            }
        }
        tracing::error!(
            "Keystone refuses herald's freshly issued token; is the service role granted?"
        );
        Outcome::Unavailable
    }

    /// herald's token, renewed when near expiry or when it is `refused`.
    async fn own_token(&self, refused: Option<&str>) -> Result<String, KeystoneError> {
        let mut own = self.own.lock().await;
        let fresh = own.as_ref().is_some_and(|o| {
            refused != Some(o.token.as_str())
                && o.expires_at - OffsetDateTime::now_utc() > RENEW_MARGIN
        });
        if !fresh {
            let issued = self.client.issue(&self.credentials).await?;
            tracing::info!(expires_at = %issued.expires_at, "herald's own Keystone token issued");
            *own = Some(issued);
        }
        Ok(own.as_ref().map(|o| o.token.clone()).unwrap_or_default())
    }
}

/// A cached or fresh success still has to be unexpired (unless allowed).
fn still_valid(info: Arc<TokenInfo>, allow_expired: bool) -> Outcome {
    if allow_expired || info.expires_at > OffsetDateTime::now_utc() {
        Outcome::Valid(info)
    } else {
        Outcome::Invalid
    }
}
