//! The tests' HTTP: one client for requests to serve and Keystone, each with
//! a deadline, answered as a [`Reply`]; and [`get`], a plain-socket GET for
//! probing processes that are not a [`super::TestApp`] (agents, children).

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{ANSWER_DEADLINE, within};

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// JSON as JSON, any other body as a JSON string, none as null.
    pub body: Value,
}

impl Reply {
    /// The body as text (`/metrics`), empty when it is JSON.
    pub fn text(&self) -> &str {
        self.body.as_str().unwrap_or_default()
    }

    /// The per-event codes of an events answer, in order.
    pub fn codes(&self) -> Vec<u64> {
        codes(&self.body)
    }

    /// Its `x-openstack-request-id`.
    pub fn request_id(&self) -> String {
        self.header("x-openstack-request-id").to_owned()
    }

    /// A header's value as text.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }
}

/// The per-event codes of an events answer's body, in order.
pub fn codes(body: &Value) -> Vec<u64> {
    body["events"]
        .as_array()
        .map(|events| events.iter().filter_map(|e| e["code"].as_u64()).collect())
        .unwrap_or_default()
}

/// A keep-alive HTTP/1 client.
#[derive(Clone)]
pub struct HttpClient(Client<HttpConnector, Full<Bytes>>);

impl Default for HttpClient {
    fn default() -> Self {
        Self(Client::builder(TokioExecutor::new()).build_http())
    }
}

impl HttpClient {
    /// Sends `request` and reads the whole answer; a request unanswered by
    /// [`ANSWER_DEADLINE`] fails the test naming it.
    pub async fn send(&self, request: Request<Full<Bytes>>) -> Reply {
        let what = format!("an answer to {} {}", request.method(), request.uri());
        let response = within(ANSWER_DEADLINE, &what, self.0.request(request))
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"));
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.expect("the body reads").to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: parse_body(&bytes),
        }
    }

    /// `GET url`, or `None` when nothing answers in `limit`.
    pub async fn try_get(&self, url: &str, limit: std::time::Duration) -> Option<Reply> {
        let request = Request::get(url).body(Full::default()).expect("a GET");
        let response = tokio::time::timeout(limit, self.0.request(request))
            .await
            .ok()?
            .ok()?;
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.ok()?.to_bytes();
        Some(Reply {
            status: parts.status,
            headers: parts.headers,
            body: parse_body(&bytes),
        })
    }
}

/// JSON bodies as JSON, anything else as a JSON string, nothing as null.
fn parse_body(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into()))
}

/// `GET path` on `addr` over a plain socket: the status (0 when nothing
/// answers) and the body as in [`Reply`]. Bounded by [`ANSWER_DEADLINE`].
pub async fn get(addr: SocketAddr, path: &str) -> (u16, Value) {
    get_with(addr, path, &[]).await
}

/// [`get`] with `headers` added to the request.
pub async fn get_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let what = format!("an answer to GET {path} from {addr}");
    within(ANSWER_DEADLINE, &what, async {
        let Ok(mut stream) = TcpStream::connect(addr).await else {
            return (0, Value::Null);
        };
        let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str("\r\n");
        if stream.write_all(request.as_bytes()).await.is_err() {
            return (0, Value::Null);
        }
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw).await;
        let text = String::from_utf8_lossy(&raw);
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        (status, parse_body(body.as_bytes()))
    })
    .await
}
