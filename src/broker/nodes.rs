//! The broker node list behind `amqp.url`: one URL, a TOML array of URLs,
//! or one string with comma-separated nodes as oslo.messaging writes it
//! (`amqp://u:p@h1:5672,u:p@h2:5672/vhost?heartbeat=10`: user and password
//! per node; the vhost and query at the end apply to every node).
//! oslo's `rabbit://` scheme is `amqp://`; an empty path is the vhost `/`
//! (`rabbit://u:p@h:5672/` and `amqp://u:p@h:5672/%2f` are one broker).

use lapin::uri::{AMQPScheme, AMQPUri};
use serde::{Deserialize, Serialize};

use crate::support::mask::mask_url_password;

/// `amqp.url` as written: one string (maybe comma-separated) or an array.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BrokerUrls {
    One(String),
    Many(Vec<String>),
}

impl From<&str> for BrokerUrls {
    fn from(url: &str) -> Self {
        Self::One(url.to_owned())
    }
}

impl From<String> for BrokerUrls {
    fn from(url: String) -> Self {
        Self::One(url)
    }
}

impl BrokerUrls {
    /// One URL per node, in the order given.
    pub fn node_urls(&self) -> Vec<String> {
        match self {
            Self::One(text) => split_nodes(text),
            Self::Many(urls) => urls.iter().flat_map(|u| split_nodes(u)).collect(),
        }
    }

    /// The same list with every password replaced by `***`.
    pub fn masked(&self) -> Self {
        match self {
            Self::One(text) => Self::One(mask_nodes(text)),
            Self::Many(urls) => Self::Many(urls.iter().map(|u| mask_nodes(u)).collect()),
        }
    }

    /// The nodes, parsed.
    pub fn nodes(&self) -> Result<Vec<Node>, String> {
        let urls = self.node_urls();
        if urls.is_empty() {
            return Err("must name at least one broker node".into());
        }
        urls.into_iter().map(|u| Node::parse(&u)).collect()
    }
}

/// One broker node: its full URL, the parsed URI to connect with, whether
/// its URL asks for TLS, and `host:port` to name it in logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    url: String,
    uri: AMQPUri,
    tls: bool,
    label: String,
}

impl Node {
    /// Parses one node's URL (`amqp://`, `amqps://` or oslo's `rabbit://`).
    pub fn parse(url: &str) -> Result<Self, String> {
        let amqp_url = match url.trim().strip_prefix("rabbit://") {
            Some(rest) => format!("amqp://{rest}"),
            None => url.trim().to_owned(),
        };
        let mut uri = amqp_url
            .parse::<AMQPUri>()
            .map_err(|e| format!("{} is not an AMQP URL: {e}", mask_url_password(url)))?;
        // `h:5672/` names the default vhost, as oslo.messaging reads it.
        if uri.vhost.is_empty() {
            uri.vhost = "/".into();
        }
        let label = format!("{}:{}", uri.authority.host, uri.authority.port);
        Ok(Self {
            url: url.to_owned(),
            tls: uri.scheme == AMQPScheme::AMQPS,
            uri,
            label,
        })
    }

    /// The node with TLS required whatever its scheme (`amqp.tls.enabled`).
    pub fn with_tls(mut self, tls: bool) -> Self {
        self.tls |= tls;
        self
    }

    /// The URL as written (holds credentials: never log it).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URI to connect with (holds credentials: never log it).
    pub fn uri(&self) -> &AMQPUri {
        &self.uri
    }

    /// Must the connection to this node be TLS?
    pub fn uses_tls(&self) -> bool {
        self.tls
    }

    /// The host as the URL writes it: the TLS server name to verify.
    pub fn host(&self) -> &str {
        &self.uri.authority.host
    }

    /// `host:port`, without credentials.
    pub fn label(&self) -> &str {
        &self.label
    }
}

/// Splits the comma form into one URL per node; a single URL comes back as is.
fn split_nodes(text: &str) -> Vec<String> {
    let text = text.trim();
    if text.is_empty() {
        return Vec::new();
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return vec![text.to_owned()];
    };
    if !rest.contains(',') {
        return vec![text.to_owned()];
    }
    let segments: Vec<&str> = rest.split(',').collect();
    let last = segments[segments.len() - 1];
    // The vhost and query at the end apply to every node.
    let tail_at = last.find(['/', '?']).unwrap_or(last.len());
    let tail = &last[tail_at..];
    segments
        .iter()
        .enumerate()
        .map(|(i, segment)| {
            let authority = if i + 1 == segments.len() {
                &segment[..tail_at]
            } else {
                segment
            };
            format!("{scheme}://{}{tail}", authority.trim())
        })
        .collect()
}

/// Masks the password of every node of a (maybe comma-separated) URL.
fn mask_nodes(text: &str) -> String {
    let Some((scheme, rest)) = text.split_once("://") else {
        return text.to_owned();
    };
    let masked: Vec<String> = rest
        .split(',')
        .map(|segment| {
            let url = mask_url_password(&format!("{scheme}://{segment}"));
            url[scheme.len() + 3..].to_owned()
        })
        .collect();
    format!("{scheme}://{}", masked.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_single_url_is_one_node_unchanged() {
        let urls = BrokerUrls::from("amqp://guest:guest@127.0.0.1:5672/%2f?heartbeat=10");
        assert_eq!(
            urls.node_urls(),
            ["amqp://guest:guest@127.0.0.1:5672/%2f?heartbeat=10"]
        );
        let nodes = urls.nodes().unwrap();
        assert_eq!(nodes[0].label(), "127.0.0.1:5672");
    }

    #[test]
    fn the_comma_form_shares_vhost_and_query() {
        let urls = BrokerUrls::from("amqp://a:pa@h1:5672,b:pb@h2:5673/vh?heartbeat=5");
        assert_eq!(
            urls.node_urls(),
            [
                "amqp://a:pa@h1:5672/vh?heartbeat=5",
                "amqp://b:pb@h2:5673/vh?heartbeat=5"
            ]
        );
        let labels: Vec<_> = urls
            .nodes()
            .unwrap()
            .iter()
            .map(|n| n.label().to_owned())
            .collect();
        assert_eq!(labels, ["h1:5672", "h2:5673"]);
        let bare = BrokerUrls::from("amqp://a:pa@h1:5672,b:pb@h2:5673");
        assert_eq!(
            bare.node_urls(),
            ["amqp://a:pa@h1:5672", "amqp://b:pb@h2:5673"]
        );
    }

    #[test]
    fn the_array_form_lists_nodes() {
        let urls = BrokerUrls::Many(vec![
            "amqp://a:pa@h1:5672/%2f".into(),
            "amqp://b:pb@h2:5672/%2f".into(),
        ]);
        assert_eq!(urls.nodes().unwrap().len(), 2);
    }

    #[test]
    fn bad_nodes_and_empty_lists_are_errors() {
        assert!(
            BrokerUrls::from("amqp://a@h1:5672,b@h2:port")
                .nodes()
                .is_err()
        );
        assert!(BrokerUrls::Many(vec![]).nodes().is_err());
        assert!(BrokerUrls::from("").nodes().is_err());
    }

    #[test]
    fn rabbit_and_amqps_schemes_and_the_empty_vhost() {
        let rabbit = Node::parse("rabbit://u:p@h1:5671/").unwrap();
        let amqp = Node::parse("amqp://u:p@h1:5671/%2f").unwrap();
        assert_eq!(rabbit.uri(), amqp.uri(), "one broker, the default vhost");
        assert!(!rabbit.uses_tls());
        assert!(rabbit.clone().with_tls(true).uses_tls());
        let tls = Node::parse("amqps://u:p@broker.example").unwrap();
        assert!(tls.uses_tls());
        assert_eq!(tls.label(), "broker.example:5671", "amqps's default port");
        assert_eq!(tls.host(), "broker.example");
        assert_eq!(tls.uri().vhost, "/");
        let nodes = BrokerUrls::from("rabbit://a:pa@h1:5671,b:pb@h2:5671/").nodes();
        assert_eq!(nodes.unwrap()[1].label(), "h2:5671");
        assert!(Node::parse("http://h1/").is_err());
    }

    #[test]
    fn every_password_is_masked() {
        let masked = BrokerUrls::from("amqp://a:pa@h1:5672,b:pb@h2:5672/vh").masked();
        assert_eq!(
            masked,
            BrokerUrls::from("amqp://a:***@h1:5672,b:***@h2:5672/vh")
        );
        let masked = BrokerUrls::Many(vec!["amqp://a:secret@h1/%2f".into()]).masked();
        assert_eq!(masked, BrokerUrls::Many(vec!["amqp://a:***@h1/%2f".into()]));
    }
}
