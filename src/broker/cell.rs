//! A Nova cell's broker: `cell_mappings.transport_url` (already filled from
//! `amqp.url` where Nova stores a template) read as the node list herald
//! connects to, and the identity two spellings of one broker share.
//!
//! oslo.messaging's forms are accepted: the `rabbit://` scheme (read as
//! `amqp://`), comma-separated nodes with the vhost and query at the end,
//! and an empty path meaning the default vhost `/` (which lapin would read
//! as the vhost `""`). `none:///`, cell0's, has no broker at all.

use lapin::uri::AMQPUri;

use super::nodes::{BrokerUrls, Node};

/// The broker a cell's messages travel over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CellBroker {
    /// The nodes, as URLs lapin reads, in the order the transport URL gives.
    nodes: Vec<Node>,
    /// Scheme, user, password, host, port and vhost of every node: equal
    /// for two spellings of the same broker. Holds passwords: never logged.
    key: String,
}

/// Why a transport URL names no usable broker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportUrlError {
    #[error("transport URL scheme {0:?} is not one herald speaks (rabbit, amqp, amqps, none)")]
    Scheme(String),
    #[error("transport URL has no scheme")]
    NoScheme,
    /// Still a template: `amqp.url` could not fill it.
    #[error("transport URL is a template that amqp.url did not fill")]
    Unfilled,
    /// A node did not parse (the text says which, password masked).
    #[error("transport URL node is not an AMQP URL: {0}")]
    Node(String),
}

impl CellBroker {
    /// Reads a filled transport URL: `Ok(None)` for `none:` (no broker).
    pub fn parse(transport_url: &str) -> Result<Option<Self>, TransportUrlError> {
        let text = transport_url.trim();
        if text.contains(['{', '}']) {
            return Err(TransportUrlError::Unfilled);
        }
        let scheme = text
            .split_once("://")
            .ok_or(TransportUrlError::NoScheme)?
            .0
            .to_ascii_lowercase();
        if scheme == "none" {
            return Ok(None);
        }
        Self::from_urls(&BrokerUrls::from(text)).map(Some)
    }

    /// `amqp.url` (or any node list) read the same way, so that a cell
    /// whose transport URL names the same broker shares its connection.
    pub fn from_urls(urls: &BrokerUrls) -> Result<Self, TransportUrlError> {
        let mut nodes = Vec::new();
        let mut key = Vec::new();
        for url in urls.node_urls() {
            let url = with_default_vhost(&amqp_scheme(&url)?);
            let node = Node::parse(&url).map_err(TransportUrlError::Node)?;
            let uri: AMQPUri = url.parse().map_err(TransportUrlError::Node)?;
            key.push(format!(
                "{:?}|{}|{}|{}|{}|{}",
                uri.scheme,
                uri.authority.userinfo.username,
                uri.authority.userinfo.password,
                uri.authority.host.to_ascii_lowercase(),
                uri.authority.port,
                uri.vhost
            ));
            nodes.push(node);
        }
        if nodes.is_empty() {
            return Err(TransportUrlError::Node("no node".into()));
        }
        Ok(Self {
            nodes,
            key: key.join(","),
        })
    }

    /// The nodes as `amqp.url` would list them.
    pub fn urls(&self) -> BrokerUrls {
        BrokerUrls::Many(self.nodes.iter().map(|n| n.url().to_owned()).collect())
    }

    /// What makes two brokers the same (equal keys: one connection).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// `host:port` of the first node, with `+N` for the others: for logs.
    pub fn label(&self) -> String {
        match self.nodes.len() {
            1 => self.nodes[0].label().to_owned(),
            n => format!("{}+{}", self.nodes[0].label(), n - 1),
        }
    }
}

/// oslo's `rabbit://` is AMQP 0-9-1 as lapin's `amqp://`.
fn amqp_scheme(url: &str) -> Result<String, TransportUrlError> {
    let (scheme, rest) = url.split_once("://").ok_or(TransportUrlError::NoScheme)?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "rabbit" | "amqp" => "amqp",
        "amqps" => "amqps",
        other => return Err(TransportUrlError::Scheme(other.to_owned())),
    };
    Ok(format!("{scheme}://{rest}"))
}

/// `path` `""` or `"/"` becomes `/%2f`: oslo's default vhost, spelled so
/// that lapin reads it as `/`.
fn with_default_vhost(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
    let (path, query) = tail.split_at(path_end);
    if path.is_empty() || path == "/" {
        format!("{scheme}://{authority}/%2f{query}")
    } else {
        url.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broker(url: &str) -> CellBroker {
        CellBroker::parse(url).unwrap().unwrap()
    }

    #[test]
    fn an_empty_path_is_the_default_vhost_and_rabbit_is_amqp() {
        let a = broker("rabbit://u:p@h:5672/");
        let b = broker("amqp://u:p@h:5672/%2f");
        let c = broker("rabbit://u:p@H:5672");
        assert_eq!(a.key(), b.key());
        assert_eq!(a.key(), c.key());
        assert_eq!(
            a.urls(),
            BrokerUrls::Many(vec!["amqp://u:p@h:5672/%2f".into()])
        );
        let d = broker("amqp://u:p@h:5672/?heartbeat=5");
        assert_eq!(d.key(), a.key());
        assert_eq!(
            d.urls(),
            BrokerUrls::Many(vec!["amqp://u:p@h:5672/%2f?heartbeat=5".into()])
        );
    }

    #[test]
    fn other_vhosts_users_ports_and_tls_are_other_brokers() {
        let base = broker("rabbit://u:p@h:5672/");
        for other in [
            "rabbit://u:p@h:5672/nova",
            "rabbit://v:p@h:5672/",
            "rabbit://u:q@h:5672/",
            "rabbit://u:p@h:5673/",
            "amqps://u:p@h:5672/",
            "rabbit://u:p@h2:5672/",
        ] {
            assert_ne!(broker(other).key(), base.key(), "{other}");
        }
    }

    #[test]
    fn node_lists_keep_their_order_and_share_vhost() {
        let b = broker("rabbit://a:pa@h1:5672,b:pb@h2:5673/");
        assert_eq!(
            b.urls(),
            BrokerUrls::Many(vec![
                "amqp://a:pa@h1:5672/%2f".into(),
                "amqp://b:pb@h2:5673/%2f".into()
            ])
        );
        assert_eq!(b.label(), "h1:5672+1");
        let vh = broker("rabbit://a:pa@h1:5672,b:pb@h2:5673/cell2");
        assert_eq!(
            vh.urls().nodes().unwrap()[1].url(),
            "amqp://b:pb@h2:5673/cell2"
        );
    }

    #[test]
    fn cell0_has_no_broker_and_other_schemes_are_refused() {
        assert_eq!(CellBroker::parse("none:///"), Ok(None));
        assert_eq!(
            CellBroker::parse("kafka://h:9092/"),
            Err(TransportUrlError::Scheme("kafka".into()))
        );
        assert_eq!(
            CellBroker::parse("nothing"),
            Err(TransportUrlError::NoScheme)
        );
        assert!(matches!(
            CellBroker::parse("rabbit://u:p@h:port/"),
            Err(TransportUrlError::Node(_))
        ));
        assert_eq!(
            CellBroker::parse("rabbit://u:p@{hostname}:5672/"),
            Err(TransportUrlError::Unfilled)
        );
    }

    #[test]
    fn amqp_url_lists_read_the_same_way() {
        let list = BrokerUrls::Many(vec!["amqp://u:p@h:5672/%2f".into()]);
        let from_config = CellBroker::from_urls(&list).unwrap();
        assert_eq!(from_config.key(), broker("rabbit://u:p@h:5672/").key());
    }

    #[test]
    fn errors_never_show_a_password() {
        let error = CellBroker::parse("rabbit://u:secret@h:port/").unwrap_err();
        assert!(!error.to_string().contains("secret"), "{error}");
    }
}
