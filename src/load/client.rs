//! The HTTP side of a run: a keep-alive hyper client bound to one loopback
//! `herald serve`, adding the token, content type and microversion to every
//! request, and the loopback check that keeps load on this machine.

use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::LoadError;

/// Why one request got no HTTP answer.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    #[error("request failed")]
    Send(#[from] hyper_util::client::legacy::Error),
    #[error("reading the response body failed")]
    Body(#[from] hyper::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("bad request header")]
    Build(#[from] http::Error),
}

/// Whether `host` (as in a URL, IPv6 possibly bracketed) is this machine.
pub fn is_loopback(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(IpAddr::V4(ip)) => ip.is_loopback(),
        Ok(IpAddr::V6(ip)) => {
            ip.is_loopback() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Err(_) => false,
    }
}

/// Parses `--url`, refusing anything but plain HTTP to a loopback host.
pub fn loopback_base(url: &str) -> Result<String, LoadError> {
    target_base(url, false)
}

/// Parses `--url`: plain HTTP, to a loopback host unless `allow_remote`.
pub fn target_base(url: &str, allow_remote: bool) -> Result<String, LoadError> {
    let bad = |reason: &str| LoadError::Target {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let uri: Uri = url.parse().map_err(|_| bad("not a URL"))?;
    if uri.scheme_str() != Some("http") {
        return Err(bad("only http:// is supported"));
    }
    let host = uri.host().ok_or_else(|| bad("no host"))?;
    if !allow_remote && !is_loopback(host) {
        return Err(bad(
            "load only targets this machine (127.0.0.0/8, ::1 or localhost) unless --allow-remote",
        ));
    }
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        return Err(bad("give only scheme, host and port: load picks the paths"));
    }
    let authority = uri.authority().ok_or_else(|| bad("no host"))?;
    Ok(format!("http://{authority}"))
}

/// A client for one `herald serve`.
#[derive(Clone)]
pub struct Api {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    token: Option<HeaderValue>,
    microversion: Option<HeaderValue>,
    timeout: Duration,
}

impl Api {
    /// A keep-alive client for `base` (from [`loopback_base`]).
    pub fn new(
        base: String,
        token: Option<&str>,
        microversion: Option<&str>,
        idle: usize,
        timeout: Duration,
    ) -> Result<Self, LoadError> {
        let header = |flag: &'static str, v: String| {
            HeaderValue::from_str(&v).map_err(|_| LoadError::Flag {
                flag,
                reason: "not a valid header value".into(),
            })
        };
        let token = token.map(|t| header("--token", t.to_owned())).transpose()?;
        let microversion = microversion
            .map(|v| header("--microversion", format!("compute {v}")))
            .transpose()?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(idle)
            .build(connector);
        Ok(Self {
            client,
            base,
            token,
            microversion,
            timeout,
        })
    }

    /// The full URL of `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends one request and reads the whole answer, within the request timeout.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<(StatusCode, Bytes), RequestError> {
        let mut req = Request::builder().method(method).uri(self.url(path));
        if let Some(token) = &self.token {
            req = req.header("X-Auth-Token", token.clone());
        }
        if let Some(version) = &self.microversion {
            req = req.header("OpenStack-API-Version", version.clone());
        }
        if body.is_some() {
            req = req.header(CONTENT_TYPE, "application/json");
        }
        let req = req.body(Full::new(body.unwrap_or_default()))?;
        let exchange = async {
            let resp = self.client.request(req).await?;
            let status = resp.status();
            let bytes = resp.into_body().collect().await?.to_bytes();
            Ok((status, bytes))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| RequestError::Timeout(self.timeout))?
    }
}

/// The per-event codes of an events response (`{"events": [{"code": N}, …]}`);
/// empty for any other body.
pub fn event_codes(body: &[u8]) -> Vec<u16> {
    #[derive(serde::Deserialize)]
    struct Answer {
        events: Vec<Code>,
    }
    #[derive(serde::Deserialize)]
    struct Code {
        code: u16,
    }
    serde_json::from_slice::<Answer>(body)
        .map(|a| a.events.into_iter().map(|e| e.code).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_are_targets() {
        for ok in [
            "127.0.0.1",
            "127.3.2.1",
            "localhost",
            "LocalHost",
            "[::1]",
            "::1",
            "[::ffff:127.0.0.1]",
        ] {
            assert!(is_loopback(ok), "{ok}");
        }
        for no in [
            "10.0.0.1",
            "0.0.0.0",
            "192.168.1.1",
            "[::]",
            "example.com",
            "localhost.evil.com",
            "128.0.0.1",
        ] {
            assert!(!is_loopback(no), "{no}");
        }
    }

    #[test]
    fn urls_are_checked_and_normalised() {
        assert_eq!(
            loopback_base("http://127.0.0.1:8774").unwrap(),
            "http://127.0.0.1:8774"
        );
        assert_eq!(loopback_base("http://[::1]:9/").unwrap(), "http://[::1]:9");
        assert_eq!(
            loopback_base("http://localhost:1").unwrap(),
            "http://localhost:1"
        );
        for bad in [
            "http://127.0.0.1/v2.1",
            "https://127.0.0.1",
            "http://10.1.1.1:8774",
            "nope nope",
            "http://db.internal",
        ] {
            assert!(
                matches!(loopback_base(bad), Err(LoadError::Target { .. })),
                "{bad}"
            );
        }
        // Only on purpose: --allow-remote lifts the loopback check, nothing else.
        assert_eq!(
            target_base("http://10.1.1.1:8774", true).unwrap(),
            "http://10.1.1.1:8774"
        );
        assert!(target_base("https://10.1.1.1", true).is_err());
        assert!(target_base("http://10.1.1.1:8774", false).is_err());
    }

    #[test]
    fn event_codes_are_read_from_the_body() {
        let body = br#"{"events":[{"name":"x","code":200,"status":"completed"},{"code":404}]}"#;
        assert_eq!(event_codes(body), [200, 404]);
        assert!(event_codes(br#"{"badRequest":{"code":400}}"#).is_empty());
        assert!(event_codes(b"").is_empty());
    }
}
