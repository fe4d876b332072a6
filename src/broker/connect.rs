//! Connecting: one attempt at one node bounded by `connect_timeout`, and a
//! failover round that tries every node once, starting at a given one, and
//! the one-off probes of `check-config`. Whether a node is reached over TLS is the node's (its URL, `amqp.tls`);
//! a TLS failure is that node's connection failure, never a reason to try
//! plain TCP.

use std::sync::Arc;
use std::time::Duration;

use lapin::{Connection, ConnectionProperties};

use super::config::AmqpConfig;
use super::declare::DeclareError;
use super::nodes::Node;
use super::transport::{self, OpenFailed, Transport};
use crate::support::error_chain::error_chain;
use crate::tls::{TlsError, is_tls_failure};

/// Why connecting failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("connecting to broker node {node} timed out after {timeout:?}")]
    Timeout { node: String, timeout: Duration },
    #[error(
        "TLS with broker node {node} failed: it asks for a client certificate and \
         amqp.tls has none (cert_file, key_file)"
    )]
    NoClientCertificate {
        node: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("TLS with broker node {node} failed")]
    Tls {
        node: String,
        #[source]
        source: Arc<std::io::Error>,
    },
    #[error("connecting to broker node {node} failed")]
    Io {
        node: String,
        #[source]
        source: Arc<std::io::Error>,
    },
    #[error("connecting to broker node {node} failed")]
    Amqp {
        node: String,
        #[source]
        source: lapin::Error,
    },
    #[error("the amqp.tls settings cannot be used")]
    TlsSettings(#[source] Box<TlsError>),
    #[error("no broker node configured")]
    NoNodes,
    #[error(transparent)]
    Declare(#[from] DeclareError),
}

impl ConnectError {
    /// Names the node and keeps only the cause (lapin's I/O errors repeat it).
    fn from_open(node: &Node, failed: OpenFailed) -> Self {
        let node = node.label().to_owned();
        let source = failed.error;
        if failed.certificate_asked {
            let source: Box<dyn std::error::Error + Send + Sync> = match source.kind() {
                lapin::ErrorKind::IOError(io) => Box::new(io.clone()),
                _ => Box::new(source),
            };
            return Self::NoClientCertificate { node, source };
        }
        match source.kind() {
            lapin::ErrorKind::IOError(io) if is_tls_failure(io.as_ref()) => Self::Tls {
                node,
                source: io.clone(),
            },
            lapin::ErrorKind::IOError(io) => Self::Io {
                node,
                source: io.clone(),
            },
            _ => Self::Amqp { node, source },
        }
    }
}

/// A connection and the node it reached.
#[derive(Debug)]
pub struct Connected {
    pub conn: Connection,
    pub node: Node,
    /// The node's position in the list (the next round starts after it).
    pub index: usize,
}

/// The transport each node of `amqp` needs: TLS with `[amqp.tls]` for the
/// nodes that use it. The files are read again for each round, so a
/// renewed CA or client certificate is picked up at the next reconnect.
fn transport_for(amqp: &AmqpConfig, nodes: &[Node]) -> Result<Option<Transport>, ConnectError> {
    if !nodes.iter().any(Node::uses_tls) {
        return Ok(None);
    }
    let config = amqp
        .tls
        .client()
        .client_config()
        .map_err(|e| ConnectError::TlsSettings(Box::new(e)))?;
    Ok(Some(Transport::Tls(config)))
}

/// Connects once to `node`, with `connect_timeout`, named `name`; over TLS
/// when the node uses it (`tls` is then the config to use, never `None`).
pub async fn connect_node(
    node: &Node,
    tls: Option<&Transport>,
    timeout: Duration,
    name: &str,
) -> Result<Connection, ConnectError> {
    let transport = match (node.uses_tls(), tls) {
        (false, _) => Transport::Plain,
        (true, Some(tls @ Transport::Tls(_))) => tls.clone(),
        // Never plaintext for a node that asks for TLS.
        (true, _) => return Err(ConnectError::TlsSettings(Box::new(TlsError::NotConfigured))),
    };
    let props = ConnectionProperties::default().with_connection_name(name.into());
    tokio::time::timeout(timeout, transport::open(node, transport, props))
        .await
        .map_err(|_| ConnectError::Timeout {
            node: node.label().to_owned(),
            timeout,
        })?
        .map_err(|failed| ConnectError::from_open(node, failed))
}

/// Tries every node once, starting at `start` (modulo the list), and
/// returns the first that answers, or the last error.
pub async fn connect_round(
    amqp: &AmqpConfig,
    name: &str,
    start: usize,
) -> Result<Connected, ConnectError> {
    let nodes = amqp.nodes();
    let tls = transport_for(amqp, &nodes)?;
    let mut last = ConnectError::NoNodes;
    for offset in 0..nodes.len() {
        let index = (start + offset) % nodes.len();
        let node = &nodes[index];
        match connect_node(node, tls.as_ref(), amqp.connect_timeout, name).await {
            Ok(conn) => {
                return Ok(Connected {
                    conn,
                    node: node.clone(),
                    index,
                });
            }
            Err(error) => {
                tracing::debug!(node = node.label(), error = %error_chain(&error), "broker node did not answer");
                last = error;
            }
        }
    }
    Err(last)
}

/// Connects to the first node that answers (from the top of the list).
pub async fn connect(amqp: &AmqpConfig, name: &str) -> Result<Connected, ConnectError> {
    connect_round(amqp, name, 0).await
}

/// Connects once to `node` and closes again (`check-config`): over TLS,
/// the handshake and the AMQP login both passed.
pub async fn probe_node(amqp: &AmqpConfig, node: &Node) -> Result<(), ConnectError> {
    let tls = transport_for(amqp, std::slice::from_ref(node))?;
    let conn = connect_node(
        node,
        tls.as_ref(),
        amqp.connect_timeout,
        "herald-check-config",
    )
    .await?;
    // The answer is in: a failing close changes nothing about it.
    let _ = conn.close(200, "probe".into()).await;
    Ok(())
}

/// Connects once and closes again: does the broker answer?
pub async fn probe(amqp: &AmqpConfig) -> Result<(), ConnectError> {
    let connected = connect(amqp, "herald-check-config").await?;
    // The answer is in: a failing close changes nothing about it.
    let _ = connected.conn.close(200, "probe".into()).await;
    Ok(())
}

/// Nova's wire: connects once to `broker` (with `amqp`'s TLS settings) and
/// checks that Nova's exchange (`amqp.nova_exchange`) is there, without
/// declaring it.
pub async fn probe_nova(amqp: &AmqpConfig, broker: &super::CellBroker) -> Result<(), ConnectError> {
    let mut amqp = amqp.clone();
    amqp.url = broker.urls();
    let connected = connect(&amqp, "herald-check-config").await?;
    let checked = async {
        let channel =
            connected
                .conn
                .create_channel()
                .await
                .map_err(|source| ConnectError::Amqp {
                    node: connected.node.label().to_owned(),
                    source,
                })?;
        super::check_exchange_exists(&channel, &amqp.nova_exchange).await?;
        Ok(())
    }
    .await;
    // The answer is in: a failing close changes nothing about it.
    let _ = connected.conn.close(200, "probe".into()).await;
    checked
}
