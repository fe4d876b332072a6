//! Connecting: one attempt at one node bounded by `connect_timeout`, and a
//! failover round that tries every node once, starting at a given one, and
//! the one-off probes of `check-config`.

use std::time::Duration;

use lapin::{Connection, ConnectionProperties};

use super::config::AmqpConfig;
use super::declare::DeclareError;
use super::nodes::Node;

use crate::support::error_chain::error_chain;

/// Why connecting failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("connecting to broker node {node} timed out after {timeout:?}")]
    Timeout { node: String, timeout: Duration },
    #[error("connecting to broker node {node} failed")]
    Amqp {
        node: String,
        #[source]
        source: lapin::Error,
    },
    #[error("no broker node configured")]
    NoNodes,
    #[error(transparent)]
    Declare(#[from] DeclareError),
}

/// A connection and the node it reached.
#[derive(Debug)]
pub struct Connected {
    pub conn: Connection,
    pub node: Node,
    /// The node's position in the list (the next round starts after it).
    pub index: usize,
}

/// Connects once to `node`, with `connect_timeout`, named `name`.
pub async fn connect_node(
    node: &Node,
    timeout: Duration,
    name: &str,
) -> Result<Connection, ConnectError> {
    let props = ConnectionProperties::default().with_connection_name(name.into());
    tokio::time::timeout(timeout, Connection::connect(node.url(), props))
        .await
        .map_err(|_| ConnectError::Timeout {
            node: node.label().to_owned(),
            timeout,
        })?
        .map_err(|source| ConnectError::Amqp {
            node: node.label().to_owned(),
            source,
        })
}

/// Tries every node once, starting at `start` (modulo the list), and
/// returns the first that answers, or the last error.
pub async fn connect_round(
    amqp: &AmqpConfig,
    name: &str,
    start: usize,
) -> Result<Connected, ConnectError> {
    let nodes = amqp.nodes();
    let mut last = ConnectError::NoNodes;
    for offset in 0..nodes.len() {
        let index = (start + offset) % nodes.len();
        let node = &nodes[index];
        match connect_node(node, amqp.connect_timeout, name).await {
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

/// Connects once and closes again: does the broker answer (`check-config`)?
pub async fn probe(amqp: &AmqpConfig) -> Result<(), ConnectError> {
    let connected = connect(amqp, "herald-check-config").await?;
    // The answer is in: a failing close changes nothing about it.
    let _ = connected.conn.close(200, "probe".into()).await;
    Ok(())
}

/// Nova's wire: connects once to `broker` and checks that Nova's exchange
/// (`amqp.nova_exchange`) is there, without declaring it.
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
