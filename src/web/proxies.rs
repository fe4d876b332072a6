//! `http.trusted_proxies`: the networks whose forwarding headers are
//! believed. Each entry is a CIDR (`10.0.0.0/8`, `fd00::/8`) or a single
//! address; parsed once, when the config is read.

use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// More entries than this is a generated list gone wrong, not a proxy tier.
const MAX_ENTRIES: usize = 1024;

/// The trusted proxy networks (empty: no forwarding header is believed).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// Why an entry of `http.trusted_proxies` cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProxiesError {
    #[error("http.trusted_proxies: {0:?} is neither a CIDR (10.0.0.0/8) nor an IP address")]
    Entry(String),
    #[error("http.trusted_proxies: more than {MAX_ENTRIES} entries")]
    TooMany,
}

impl TrustedProxies {
    /// Parses each entry as a CIDR or a single address.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, ProxiesError> {
        if entries.len() > MAX_ENTRIES {
            return Err(ProxiesError::TooMany);
        }
        entries
            .iter()
            .map(|entry| parse_entry(entry.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    /// Whether `ip` (an IPv4-mapped IPv6 address as its IPv4 self) is in a
    /// trusted network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

fn parse_entry(entry: &str) -> Result<IpNet, ProxiesError> {
    let entry = entry.trim();
    entry
        .parse::<IpNet>()
        .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| ProxiesError::Entry(entry.to_owned()))
}

impl Serialize for TrustedProxies {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(ToString::to_string))
    }
}

impl<'de> Deserialize<'de> for TrustedProxies {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let entries = Vec::<String>::deserialize(deserializer)?;
        Self::parse(&entries).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn cidrs_and_single_addresses() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8", "192.0.2.7", "fd00::/8"]).unwrap();
        assert!(proxies.contains(ip("10.1.2.3")));
        assert!(proxies.contains(ip("192.0.2.7")));
        assert!(!proxies.contains(ip("192.0.2.8")));
        assert!(proxies.contains(ip("fd12::1")));
        assert!(proxies.contains(ip("::ffff:10.9.9.9")), "IPv4-mapped peers");
        assert!(!proxies.contains(ip("127.0.0.1")));
        assert!(!TrustedProxies::default().contains(ip("127.0.0.1")));
        // Host bits are dropped, as the network is meant.
        let loose = TrustedProxies::parse(&["10.1.2.3/8"]).unwrap();
        assert!(loose.contains(ip("10.200.0.1")));
    }

    #[test]
    fn a_bad_entry_is_named() {
        for bad in ["10.0.0.0/33", "proxy.example", "", "10.0.0.0/8/8"] {
            let error = TrustedProxies::parse(&[bad]).expect_err(bad).to_string();
            assert!(error.contains("http.trusted_proxies"), "{error}");
            assert!(error.contains(&format!("{bad:?}")), "{error}");
        }
        let many = vec!["10.0.0.1"; MAX_ENTRIES + 1];
        assert!(TrustedProxies::parse(&many).is_err());
    }
}
