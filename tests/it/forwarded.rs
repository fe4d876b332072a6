//! `http.trusted_proxies` on a `herald serve` child: from a trusted peer
//! (127.0.0.1 in the list) the access log names the forwarded client and the
//! version documents link to the forwarded scheme and host; from a peer not
//! in the list (a list without 127.0.0.1) the same headers change nothing.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::https::child::ServeChild;
use crate::support::within;

/// `GET path` with `headers` over a plain socket; the JSON body.
async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Value {
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = Vec::new();
    within(
        Duration::from_secs(10),
        "serve answering",
        stream.read_to_end(&mut raw),
    )
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The `self` link of `GET /` and of `GET /v2.1`, and the client each
/// request's access log line names.
async fn links_and_clients(serve: &ServeChild, headers: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    for (path, pointer) in [
        ("/", "/versions/0/links/0/href"),
        ("/v2.1", "/version/links/0/href"),
    ] {
        let from = serve.log_len();
        let body = get(serve.addr, path, headers).await;
        let link = body
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default();
        let line = serve.wait_for_log(from, "request served").await;
        let client = line["fields"]["client"].as_str().unwrap_or_default();
        seen.push((link.to_owned(), client.to_owned()));
    }
    seen
}

const X_FORWARDED: [(&str, &str); 3] = [
    ("X-Forwarded-For", "198.51.100.1, 203.0.113.7"),
    ("X-Forwarded-Proto", "https"),
    ("X-Forwarded-Host", "compute.example.org"),
];
const FORWARDED: [(&str, &str); 1] = [(
    "Forwarded",
    "for=203.0.113.8;proto=https;host=\"compute.example.org:8443\"",
)];

#[tokio::test]
async fn forwarded_headers_are_believed_from_a_trusted_proxy_only() {
    let dir = tempfile::tempdir().unwrap();
    let trusting =
        ServeChild::start_with(dir.path(), "trusted_proxies = [\"127.0.0.0/8\"]", "").await;
    let other = tempfile::tempdir().unwrap();
    let wary = ServeChild::start_with(other.path(), "trusted_proxies = [\"10.0.0.0/8\"]", "").await;

    for (link, client) in links_and_clients(&trusting, &X_FORWARDED).await {
        assert_eq!(link, "https://compute.example.org/v2.1/");
        assert_eq!(client, "203.0.113.7", "the right-most hop not trusted");
    }
    for (link, client) in links_and_clients(&trusting, &FORWARDED).await {
        assert_eq!(link, "https://compute.example.org:8443/v2.1/");
        assert_eq!(client, "203.0.113.8");
    }
    // Control: the same headers from a peer outside the list change nothing.
    let direct = format!("http://{}/v2.1/", wary.addr);
    for headers in [&X_FORWARDED[..], &FORWARDED[..]] {
        for (link, client) in links_and_clients(&wary, headers).await {
            assert_eq!(link, direct);
            assert_eq!(client, "127.0.0.1");
        }
    }
    // And nothing forwarded from a trusted peer: its own address and Host.
    for (link, client) in links_and_clients(&trusting, &[]).await {
        assert_eq!(link, format!("http://{}/v2.1/", trusting.addr));
        assert_eq!(client, "127.0.0.1");
    }
    trusting.stop().await;
    wary.stop().await;
}
