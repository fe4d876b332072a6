//! Small probes shared by the tests: fresh ids, the one poll-until-deadline
//! loop, and a plain-socket GET for processes that are not a `TestApp`.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A fresh server uuid.
pub fn new_uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Polls `check` every 50 ms until it holds; panics with `what` once
/// `within` has passed. The one poll loop of the tests: wait on a
/// condition, never on a sleep.
pub async fn poll_until<F, Fut>(what: &str, within: Duration, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + within;
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `GET path` on `addr` over a plain socket (for processes that are not a
/// [`TestApp`]): status (0 when unreachable) and JSON body (`Null` when not JSON).
pub async fn get(addr: SocketAddr, path: &str) -> (u16, serde_json::Value) {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return (0, serde_json::Value::Null);
    };
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).await.is_err() {
        return (0, serde_json::Value::Null);
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
    (
        status,
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null),
    )
}
