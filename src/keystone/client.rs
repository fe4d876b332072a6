//! The HTTP conversation with Keystone v3: issuing herald's own token
//! (password auth, project scope) and validating a caller's token with
//! `GET /v3/auth/tokens?nocatalog`, exactly as keystonemiddleware does.

use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::json;
use time::OffsetDateTime;

use super::KeystoneError;

/// Largest Keystone response body read (a token without catalog is ~1 KiB).
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// herald's own identity in Keystone.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub username: String,
    pub password: String,
    pub user_domain_name: String,
    pub project_name: String,
    pub project_domain_name: String,
}

/// A token Keystone issued to herald.
#[derive(Debug, Clone)]
pub struct Issued {
    pub token: String,
    pub expires_at: OffsetDateTime,
}

/// What a validated token says about its bearer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    pub roles: Vec<String>,
    pub expires_at: OffsetDateTime,
    /// `token.user.id`.
    pub user_id: Option<String>,
    /// `token.project.id` (`None`: the token is not project-scoped).
    pub project_id: Option<String>,
}

/// Keystone's verdict on a caller's token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// 200: the token and what it carries.
    Valid(TokenInfo),
    /// 404: unknown, revoked or expired.
    Invalid,
    /// 401: herald's own token was refused; renew it and ask again.
    OwnTokenRefused,
}

#[derive(Deserialize)]
struct TokenBody {
    token: TokenFields,
}

#[derive(Deserialize)]
struct TokenFields {
    expires_at: String,
    #[serde(default)]
    roles: Vec<Role>,
    #[serde(default)]
    user: Option<Owner>,
    #[serde(default)]
    project: Option<Owner>,
}

/// A token's user or project: only the id is read.
#[derive(Deserialize)]
struct Owner {
    id: String,
}

#[derive(Deserialize)]
struct Role {
    name: String,
}

/// A small HTTP/1.1 client bound to one Keystone (`http://` only).
#[derive(Debug, Clone)]
pub struct Client {
    http: HyperClient<HttpConnector, Full<Bytes>>,
    /// `auth_url` without a trailing slash, e.g. `http://127.0.0.1:5000/v3`.
    base: String,
    timeout: Duration,
}

impl Client {
    pub fn new(auth_url: &str, timeout: Duration) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(timeout));
        connector.set_nodelay(true);
        Self {
            http: HyperClient::builder(TokioExecutor::new()).build(connector),
            base: auth_url.trim_end_matches('/').to_owned(),
            timeout,
        }
    }

    /// `POST /auth/tokens` with password auth, scoped to herald's project.
    pub async fn issue(&self, creds: &Credentials) -> Result<Issued, KeystoneError> {
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": creds.username,
                "domain": {"name": creds.user_domain_name},
                "password": creds.password,
            }}},
            "scope": {"project": {
                "name": creds.project_name,
                "domain": {"name": creds.project_domain_name},
            }},
        }});
        let req = Request::builder()
            .method(Method::POST)
            .uri(format!("{}/auth/tokens?nocatalog", self.base))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(KeystoneError::Request)?;
        let (status, headers, bytes) = self.send(req).await?;
        match status {
            StatusCode::CREATED | StatusCode::OK => {
                let token = headers
                    .get("x-subject-token")
                    .and_then(|v| v.to_str().ok())
                    .ok_or(KeystoneError::NoSubjectToken)?
                    .to_owned();
                let expires_at = parse(&bytes)?.expires_at;
                Ok(Issued { token, expires_at })
            }
            StatusCode::UNAUTHORIZED | StatusCode::NOT_FOUND => Err(KeystoneError::Credentials),
            other => Err(KeystoneError::Status(other.as_u16())),
        }
    }

    /// `GET /auth/tokens?nocatalog`; `allow_expired` when a service token vouches.
    pub async fn validate(
        &self,
        own: &str,
        subject: &str,
        allow_expired: bool,
    ) -> Result<Verdict, KeystoneError> {
        let query = if allow_expired {
            "nocatalog&allow_expired=1"
        } else {
            "nocatalog"
        };
        let Ok(subject) = http::HeaderValue::from_str(subject) else {
            return Ok(Verdict::Invalid);
        };
        let req = Request::builder()
            .method(Method::GET)
            .uri(format!("{}/auth/tokens?{query}", self.base))
            .header("x-auth-token", own)
            .header("x-subject-token", subject)
            .body(Full::new(Bytes::new()))
            .map_err(KeystoneError::Request)?;
        let (status, _, bytes) = self.send(req).await?;
        match status {
            StatusCode::OK => Ok(Verdict::Valid(parse(&bytes)?)),
            StatusCode::NOT_FOUND => Ok(Verdict::Invalid),
            StatusCode::UNAUTHORIZED => Ok(Verdict::OwnTokenRefused),
            other => Err(KeystoneError::Status(other.as_u16())),
        }
    }

    /// `GET <auth_url>`: does Keystone answer at all?
    pub async fn ping(&self) -> Result<(), KeystoneError> {
        let req = Request::builder()
            .uri(&self.base)
            .body(Full::new(Bytes::new()))
            .map_err(KeystoneError::Request)?;
        let (status, _, _) = self.send(req).await?;
        if status.is_server_error() {
            return Err(KeystoneError::Status(status.as_u16()));
        }
        Ok(())
    }

    async fn send(
        &self,
        req: Request<Full<Bytes>>,
    ) -> Result<(StatusCode, http::HeaderMap, Bytes), KeystoneError> {
        let exchange = async {
            let response = self
                .http
                .request(req)
                .await
                .map_err(KeystoneError::Unreachable)?;
            let (parts, body) = response.into_parts();
            let bytes = Limited::new(body, MAX_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(KeystoneError::ResponseBody)?
                .to_bytes();
            Ok((parts.status, parts.headers, bytes))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| KeystoneError::Timeout(self.timeout))?
    }
}

/// The expiry, role names, user and project of a token body.
fn parse(bytes: &[u8]) -> Result<TokenInfo, KeystoneError> {
    let body: TokenBody = serde_json::from_slice(bytes).map_err(KeystoneError::Body)?;
    let expires_at = OffsetDateTime::parse(
        &body.token.expires_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map_err(KeystoneError::Expiry)?;
    Ok(TokenInfo {
        expires_at,
        roles: body.token.roles.into_iter().map(|r| r.name).collect(),
        user_id: body.token.user.map(|u| u.id),
        project_id: body.token.project.map(|p| p.id),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_body_gives_roles_user_and_project() {
        let body = br#"{"token": {"expires_at": "2030-01-01T00:00:00.000000Z",
            "roles": [{"id": "r1", "name": "service"}],
            "user": {"id": "u-42", "name": "neutron", "domain": {"id": "default"}},
            "project": {"id": "p-7", "name": "service", "domain": {"id": "default"}}}}"#;
        let info = parse(body).unwrap();
        assert_eq!(info.roles, vec!["service"]);
        assert_eq!(info.user_id.as_deref(), Some("u-42"));
        assert_eq!(info.project_id.as_deref(), Some("p-7"));
        let unscoped = br#"{"token": {"expires_at": "2030-01-01T00:00:00Z"}}"#;
        assert_eq!(parse(unscoped).unwrap().project_id, None);
    }
}
