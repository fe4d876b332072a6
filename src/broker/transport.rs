//! The socket under one broker connection. herald opens the TCP connection
//! itself and, for a node that must use TLS, completes the handshake with
//! its own rustls config before lapin speaks a byte of AMQP. lapin's TCP
//! layer never chooses: left to itself, built without the TLS backend it
//! expects, it opens an `amqps://` URL as plain TCP without a word.

use std::net::SocketAddr;
use std::sync::Arc;

use lapin::tcp::RustlsConnector;
use lapin::{AsyncTcpStream, Connection, ConnectionProperties};
use rustls::ClientConfig;

use super::nodes::Node;

/// How to carry one connection.
#[derive(Debug, Clone)]
pub enum Transport {
    Plain,
    /// TLS with this config; the node's host is the name verified (and the SNI).
    Tls(Arc<ClientConfig>),
}

/// Opens `node` over `transport` and runs the AMQP handshake. A TLS
/// failure ends the attempt: there is no path from here to plain TCP.
pub async fn open(
    node: &Node,
    transport: Transport,
    props: ConnectionProperties,
) -> lapin::Result<Connection> {
    let runtime = lapin::runtime::default_runtime()?;
    Connection::connector(
        node.uri().clone(),
        runtime,
        async move |uri, runtime| {
            let host = uri.authority.host.as_str();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, uri.authority.port))
                .await?
                .collect();
            let stream = AsyncTcpStream::connect(&runtime, addrs).await?;
            Ok(match &transport {
                Transport::Plain => stream,
                Transport::Tls(config) => {
                    let connector = RustlsConnector::from(config.clone());
                    stream.into_rustls(&connector, host).await?
                }
            })
        },
        props,
    )
    .await
}
