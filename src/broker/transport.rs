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
use crate::tls::asked::{CertificateAsked, watch_for_request};

/// How to carry one connection.
#[derive(Debug, Clone)]
pub enum Transport {
    Plain,
    /// TLS with this config; the node's host is the name verified (and the SNI).
    Tls(Arc<ClientConfig>),
}

/// Why a connection could not be opened.
#[derive(Debug)]
pub struct OpenFailed {
    pub error: lapin::Error,
    /// The node asked for a client certificate and herald had none to give.
    pub certificate_asked: bool,
}

/// Opens `node` over `transport` and runs the AMQP handshake. A TLS
/// failure ends the attempt: there is no path from here to plain TCP.
pub async fn open(
    node: &Node,
    transport: Transport,
    props: ConnectionProperties,
) -> Result<Connection, OpenFailed> {
    let (transport, asked) = match transport {
        Transport::Tls(config) => {
            let (config, asked) = watch_for_request(&config);
            (Transport::Tls(config), Some(asked))
        }
        Transport::Plain => (Transport::Plain, None),
    };
    let failed = |error| OpenFailed {
        error,
        certificate_asked: asked.as_ref().is_some_and(CertificateAsked::was_asked),
    };
    let runtime = lapin::runtime::default_runtime().map_err(failed)?;
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
    .map_err(failed)
}
