//! `http.trusted_proxies` on a `herald serve` child: from a trusted peer
//! (127.0.0.1 in the list) the access log names the forwarded client and the
//! version documents link to the forwarded scheme and host; from a peer not
//! in the list (a list without 127.0.0.1) the same headers change nothing.

use std::net::SocketAddr;

use herald::web::proxies::TrustedProxies;
use serde_json::Value;

use crate::https::child::serve;
use crate::support::HeraldChild;
use crate::support::http::get_with;

/// `http.trusted_proxies` of one network.
fn trusted(network: &str) -> TrustedProxies {
    TrustedProxies::parse(&[network]).expect("a CIDR")
}

/// `GET path` with `headers`: it answers 200; its JSON body.
async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Value {
    let (status, body) = get_with(addr, path, headers).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// The `self` link of `GET /` and of `GET /v2.1`, and the client each
/// request's access log line names.
async fn links_and_clients(
    (serve, addr): (&HeraldChild, SocketAddr),
    headers: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    for (path, pointer) in [
        ("/", "/versions/0/links/0/href"),
        ("/v2.1", "/version/links/0/href"),
    ] {
        let from = serve.log_len();
        let body = get(addr, path, headers).await;
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
    let trusting = serve(dir.path(), |c| {
        c.http.trusted_proxies = trusted("127.0.0.0/8")
    })
    .await;
    let other = tempfile::tempdir().unwrap();
    let wary = serve(other.path(), |c| {
        c.http.trusted_proxies = trusted("10.0.0.0/8")
    })
    .await;

    for (link, client) in links_and_clients((&trusting.0, trusting.1), &X_FORWARDED).await {
        assert_eq!(link, "https://compute.example.org/v2.1/");
        assert_eq!(client, "203.0.113.7", "the right-most hop not trusted");
    }
    for (link, client) in links_and_clients((&trusting.0, trusting.1), &FORWARDED).await {
        assert_eq!(link, "https://compute.example.org:8443/v2.1/");
        assert_eq!(client, "203.0.113.8");
    }
    // Control: the same headers from a peer outside the list change nothing.
    let direct = format!("http://{}/v2.1/", wary.1);
    for headers in [&X_FORWARDED[..], &FORWARDED[..]] {
        for (link, client) in links_and_clients((&wary.0, wary.1), headers).await {
            assert_eq!(link, direct);
            assert_eq!(client, "127.0.0.1");
        }
    }
    // And nothing forwarded from a trusted peer: its own address and Host.
    for (link, client) in links_and_clients((&trusting.0, trusting.1), &[]).await {
        assert_eq!(link, format!("http://{}/v2.1/", trusting.1));
        assert_eq!(client, "127.0.0.1");
    }
    for (mut child, _) in [trusting, wary] {
        assert!(child.stop().await.success(), "serve exits 0 on SIGTERM");
    }
}
