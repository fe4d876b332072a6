//! Who sent a request, and the scheme and host the client used, believing
//! `Forwarded` (RFC 7239) or `X-Forwarded-For/-Proto/-Host` only from a peer
//! in `http.trusted_proxies`. `Forwarded` wins when both are present (as in
//! oslo.middleware). The client is the right-most hop that is not itself a
//! trusted proxy (hops to its left could be written by anyone); at most
//! [`MAX_HOPS`] hops are looked at, and nothing is allocated per hop beyond
//! that bound.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};

use http::HeaderMap;
use http::header::{FORWARDED, HOST};
use http::uri::Authority;

use super::connection::Transport;
use super::proxies::TrustedProxies;

/// Most forwarding hops examined, from the right.
pub const MAX_HOPS: usize = 16;
/// Longest host believed (a DNS name is at most 253 bytes, then a port).
const MAX_HOST_BYTES: usize = 260;

/// Where a request came from, as far as herald can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The client's address: the peer's, or the one a trusted proxy forwarded.
    pub client: IpAddr,
    /// `http` or `https`, as the client used it.
    pub scheme: &'static str,
    /// The host (and port) the client addressed, when known and well formed.
    pub host: Option<String>,
}

/// The origin of a request from `peer` over `transport` with `headers`.
pub fn origin(
    peer: SocketAddr,
    transport: Transport,
    headers: &HeaderMap,
    trusted: &TrustedProxies,
) -> Origin {
    let direct = Origin {
        client: peer.ip(),
        scheme: match transport {
            Transport::Plain => "http",
            Transport::Tls => "https",
        },
        host: last_value(headers, HOST.as_str()).and_then(valid_host),
    };
    if !trusted.contains(peer.ip()) {
        return direct;
    }
    if headers.contains_key(FORWARDED) {
        from_forwarded(direct, headers, trusted)
    } else {
        from_x_forwarded(direct, headers, trusted)
    }
}

/// One `Forwarded` element's parameters.
#[derive(Debug, Default)]
struct Element<'a> {
    node: Option<&'a str>,
    proto: Option<&'a str>,
    host: Option<&'a str>,
}

fn from_forwarded(direct: Origin, headers: &HeaderMap, trusted: &TrustedProxies) -> Origin {
    let hops = last_hops(headers, FORWARDED.as_str());
    let (client, chosen) = walk(direct.client, hops.iter().map(|e| element(e)), trusted);
    let Some(chosen) = chosen else {
        return direct;
    };
    Origin {
        client,
        scheme: chosen.proto.and_then(scheme).unwrap_or(direct.scheme),
        host: chosen.host.and_then(valid_host).or(direct.host),
    }
}

fn from_x_forwarded(direct: Origin, headers: &HeaderMap, trusted: &TrustedProxies) -> Origin {
    let hops = last_hops(headers, "x-forwarded-for");
    let elements = hops.iter().map(|hop| Element {
        node: Some(hop),
        ..Element::default()
    });
    let (client, _) = walk(direct.client, elements, trusted);
    Origin {
        client,
        scheme: last_value(headers, "x-forwarded-proto")
            .and_then(scheme)
            .unwrap_or(direct.scheme),
        host: last_value(headers, "x-forwarded-host")
            .and_then(valid_host)
            .or(direct.host),
    }
}

/// Walks `elements` right to left from the trusted peer: past every hop
/// that is itself a trusted proxy, stopping at the first that is not (the
/// client) or that names no address (`unknown`, obfuscated: then the last
/// known hop stands for it). The client and the element it was found in.
fn walk<'a>(
    peer: IpAddr,
    elements: impl DoubleEndedIterator<Item = Element<'a>>,
    trusted: &TrustedProxies,
) -> (IpAddr, Option<Element<'a>>) {
    let mut client = peer;
    let mut chosen = None;
    for element in elements.rev() {
        let address = element.node.and_then(node_address);
        chosen = Some(element);
        match address {
            Some(ip) => {
                client = ip;
                if !trusted.contains(ip) {
                    break;
                }
            }
            None => break,
        }
    }
    (client, chosen)
}

/// The last [`MAX_HOPS`] comma-separated entries of every `name` header, in order.
fn last_hops<'h>(headers: &'h HeaderMap, name: &str) -> VecDeque<&'h str> {
    let mut hops = VecDeque::with_capacity(MAX_HOPS);
    for value in headers.get_all(name) {
        let Ok(text) = value.to_str() else {
            continue;
        };
        for hop in split_unquoted(text, b',') {
            if hops.len() == MAX_HOPS {
                hops.pop_front();
            }
            hops.push_back(hop.trim());
        }
    }
    hops
}

/// The right-most comma-separated value of the `name` headers.
fn last_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    let last = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    last.rsplit(',').next().map(str::trim)
}

/// Splits `text` at `separator`s outside double quotes.
fn split_unquoted(text: &str, separator: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        let mut quoted = false;
        for (i, byte) in current.bytes().enumerate() {
            match byte {
                b'"' => quoted = !quoted,
                b if b == separator && !quoted => {
                    rest = Some(&current[i + 1..]);
                    return Some(&current[..i]);
                }
                _ => {}
            }
        }
        rest = None;
        Some(current)
    })
}

/// `for=...;proto=...;host=...` (keys in any case, values maybe quoted).
fn element(text: &str) -> Element<'_> {
    let mut element = Element::default();
    for pair in split_unquoted(text, b';') {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        let value = unquote(value.trim());
        match key.trim().to_ascii_lowercase().as_str() {
            "for" => element.node = Some(value),
            "proto" => element.proto = Some(value),
            "host" => element.host = Some(value),
            _ => {}
        }
    }
    element
}

fn unquote(value: &str) -> &str {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
}

/// The address of a node: `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`,
/// `[2001:db8::1]:4711`; `None` for `unknown` and obfuscated names.
fn node_address(node: &str) -> Option<IpAddr> {
    let node = unquote(node.trim());
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    node.parse::<SocketAddr>()
        .ok()
        .map(|addr| addr.ip())
        .or_else(|| {
            let inner = node.strip_prefix('[')?.split_once(']')?.0;
            inner.parse().ok()
        })
}

fn scheme(proto: &str) -> Option<&'static str> {
    match proto.trim() {
        p if p.eq_ignore_ascii_case("https") => Some("https"),
        p if p.eq_ignore_ascii_case("http") => Some("http"),
        _ => None,
    }
}

/// A host (and port) fit to write into a link: an authority without user
/// information, of bounded length.
fn valid_host(host: &str) -> Option<String> {
    let host = host.trim();
    if host.is_empty() || host.len() > MAX_HOST_BYTES || host.contains('@') {
        return None;
    }
    host.parse::<Authority>()
        .ok()
        .map(|a| a.as_str().to_owned())
}

#[cfg(test)]
#[path = "forwarded_tests.rs"]
mod tests;
