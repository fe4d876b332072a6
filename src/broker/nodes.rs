//! The broker node list behind `amqp.url`: one URL, a TOML array of URLs,
//! or one string with comma-separated nodes as oslo.messaging writes it
//! (`amqp://u:p@h1:5672,u:p@h2:5672/vhost?heartbeat=10`: user and password
//! per node; the vhost and query at the end apply to every node).

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

/// One broker node: its full URL, and `host:port` to name it in logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    url: String,
    label: String,
}

impl Node {
    /// Parses one node's AMQP URL.
    pub fn parse(url: &str) -> Result<Self, String> {
        let uri = url
            .parse::<lapin::uri::AMQPUri>()
            .map_err(|e| format!("{} is not an AMQP URL: {e}", mask_url_password(url)))?;
        let label = format!("{}:{}", uri.authority.host, uri.authority.port);
        Ok(Self {
            url: url.to_owned(),
            label,
        })
    }

    /// The URL to connect to (holds credentials: never log it).
    pub fn url(&self) -> &str {
        &self.url
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
