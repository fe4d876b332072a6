//! Tests of [`super`]: which headers are believed from whom, and the
//! right-most untrusted hop.

use http::HeaderValue;

use super::*;

const PROXY: &str = "10.0.0.5:40000";

fn trusted() -> TrustedProxies {
    TrustedProxies::parse(&["10.0.0.0/24", "fd00::/8"]).unwrap()
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(*name, HeaderValue::from_str(value).unwrap());
    }
    map
}

fn from(peer: &str, pairs: &[(&'static str, &str)]) -> Origin {
    origin(
        peer.parse().unwrap(),
        Transport::Plain,
        &headers(pairs),
        &trusted(),
    )
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn an_untrusted_peer_is_taken_as_it_is() {
    let seen = from(
        "192.0.2.9:5000",
        &[
            ("host", "api.internal:8774"),
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "compute.example.org"),
            ("forwarded", "for=203.0.113.8;proto=https;host=evil.example"),
        ],
    );
    assert_eq!(
        seen,
        Origin {
            client: ip("192.0.2.9"),
            scheme: "http",
            host: Some("api.internal:8774".into())
        }
    );
}

#[test]
fn x_forwarded_from_a_trusted_proxy() {
    let seen = from(
        PROXY,
        &[
            ("host", "10.0.0.1:8774"),
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "compute.example.org"),
        ],
    );
    assert_eq!(seen.client, ip("203.0.113.7"));
    assert_eq!(seen.scheme, "https");
    assert_eq!(seen.host.as_deref(), Some("compute.example.org"));
}

#[test]
fn the_right_most_untrusted_hop_is_the_client() {
    // A client may write anything left of what the proxies append.
    let seen = from(
        PROXY,
        &[
            ("x-forwarded-for", "1.1.1.1, 198.51.100.4"),
            ("x-forwarded-for", "10.0.0.7"),
        ],
    );
    assert_eq!(seen.client, ip("198.51.100.4"));
    // Every hop trusted: the left-most stands.
    let seen = from(PROXY, &[("x-forwarded-for", "10.0.0.8, 10.0.0.7")]);
    assert_eq!(seen.client, ip("10.0.0.8"));
    // An unknown hop: the proxy that reported it stands for the client.
    let seen = from(PROXY, &[("x-forwarded-for", "unknown, 10.0.0.7")]);
    assert_eq!(seen.client, ip("10.0.0.7"));
}

#[test]
fn a_long_chain_is_read_from_the_right_within_the_bound() {
    let mut chain = vec!["203.0.113.1"; 10_000];
    chain.extend(vec!["10.0.0.9"; MAX_HOPS - 1]);
    chain.push("198.51.100.77");
    chain.extend(vec!["10.0.0.9"; 3]);
    let seen = from(PROXY, &[("x-forwarded-for", &chain.join(", "))]);
    assert_eq!(seen.client, ip("198.51.100.77"));
    let mut all_trusted = vec!["203.0.113.1"];
    all_trusted.extend(vec!["10.0.0.9"; MAX_HOPS + 5]);
    let seen = from(PROXY, &[("x-forwarded-for", &all_trusted.join(","))]);
    assert_eq!(
        seen.client,
        ip("10.0.0.9"),
        "past the bound: the last hop looked at"
    );
}

#[test]
fn forwarded_wins_and_its_client_element_gives_proto_and_host() {
    let seen = from(
        PROXY,
        &[
            ("x-forwarded-for", "203.0.113.99"),
            (
                "forwarded",
                "for=1.1.1.1;proto=http;host=spoofed.example, \
                 for=\"[2001:db8:cafe::17]:4711\";proto=https;host=\"compute.example.org:443\"",
            ),
            ("forwarded", "For=10.0.0.3;Proto=http;Host=internal"),
        ],
    );
    assert_eq!(seen.client, ip("2001:db8:cafe::17"));
    assert_eq!(seen.scheme, "https");
    assert_eq!(seen.host.as_deref(), Some("compute.example.org:443"));
}

#[test]
fn forwarded_node_forms() {
    for (node, want) in [
        ("192.0.2.43", Some("192.0.2.43")),
        ("\"192.0.2.43:47011\"", Some("192.0.2.43")),
        ("\"[2001:db8::1]\"", Some("2001:db8::1")),
        ("unknown", None),
        ("_hidden", None),
    ] {
        assert_eq!(node_address(node), want.map(ip), "{node}");
    }
}

#[test]
fn bad_proto_and_host_values_are_not_believed() {
    let seen = from(
        PROXY,
        &[
            ("host", "herald.internal"),
            ("x-forwarded-for", "203.0.113.7"),
            ("x-forwarded-proto", "javascript"),
            ("x-forwarded-host", "user@evil.example"),
        ],
    );
    assert_eq!(seen.scheme, "http");
    assert_eq!(seen.host.as_deref(), Some("herald.internal"));
    let long = "a".repeat(MAX_HOST_BYTES + 1);
    let seen = from(PROXY, &[("x-forwarded-host", &long)]);
    assert_eq!(seen.host, None);
    let tls = origin(
        PROXY.parse().unwrap(),
        Transport::Tls,
        &HeaderMap::new(),
        &trusted(),
    );
    assert_eq!(tls.scheme, "https", "served over TLS, nothing forwarded");
}

#[test]
fn quoted_separators_do_not_split() {
    let parts: Vec<&str> = split_unquoted("a=\"x,y\";b, c", b',').collect();
    assert_eq!(parts, ["a=\"x,y\";b", " c"]);
}
