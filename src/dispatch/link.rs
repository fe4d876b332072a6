//! The supervised broker connection of `herald serve`.
//!
//! A task connects with backoff, declares the exchange, publishes a live
//! [`Link`] (connection + channel pool) for requests to use, watches the
//! connection, and starts over when it dies. Requests never wait for a
//! connection: without a live link their events get 503 at once.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::{Connection, ConnectionProperties};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::channels::{self, ChannelPool};
use super::topology::{self, Topology};
use crate::config::AmqpConfig;
use crate::metrics::Metrics;

/// A live connection and its publishing channels.
#[derive(Debug)]
pub struct Link {
    pub conn: Arc<Connection>,
    pub channels: ChannelPool,
}

/// Why connecting failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error("connecting to the broker timed out after {0:?}")]
    Timeout(Duration),
    #[error("broker connection failed: {0}")]
    Amqp(#[from] lapin::Error),
    #[error(transparent)]
    Declare(#[from] topology::DeclareError),
}

/// Connects once, with `connect_timeout`.
pub async fn connect(amqp: &AmqpConfig, name: &str) -> Result<Connection, ConnectError> {
    let props = ConnectionProperties::default().with_connection_name(name.into());
    tokio::time::timeout(amqp.connect_timeout, Connection::connect(&amqp.url, props))
        .await
        .map_err(|_| ConnectError::Timeout(amqp.connect_timeout))?
        .map_err(ConnectError::Amqp)
}

/// Declares the durable topic exchange on a short-lived channel.
async fn declare_exchange(conn: &Connection, topology: &Topology) -> Result<(), ConnectError> {
    let channel = conn.create_channel().await?;
    topology::declare_exchange(&channel, topology).await?;
    // Closing may race a broker-side close; the declare already succeeded.
    let _ = channel.close(200, "declared".into()).await;
    Ok(())
}

/// Runs until `shutdown`, keeping `state` set to the live link (or `None`).
pub async fn supervise(
    amqp: AmqpConfig,
    topology: Topology,
    state: watch::Sender<Option<Arc<Link>>>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let name = format!("herald-serve-{}", std::process::id());
    let mut backoff = amqp.reconnect_min_backoff;
    let mut logged_down = false;
    while !shutdown.is_cancelled() {
        match establish(&amqp, &topology, &name).await {
            Ok(link) => {
                tracing::info!(connection = %name, "broker connected");
                backoff = amqp.reconnect_min_backoff;
                logged_down = false;
                metrics.broker_connects.inc();
                metrics.broker_connected.set(1);
                let link = Arc::new(link);
                state.send_replace(Some(link.clone()));
                watch_until_lost(&link.conn, &shutdown).await;
                state.send_replace(None);
                metrics.broker_connected.set(0);
                if shutdown.is_cancelled() {
                    link.channels.close();
                    if let Err(error) = link.conn.close(200, "herald shutting down".into()).await {
                        tracing::debug!(%error, "closing the broker connection");
                    }
                    return;
                }
                tracing::warn!("broker connection lost; reconnecting");
            }
            Err(error) => {
                if !logged_down {
                    tracing::warn!(%error, "broker unavailable; retrying with backoff");
                    logged_down = true;
                } else {
                    tracing::debug!(%error, ?backoff, "broker still unavailable");
                }
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(amqp.reconnect_max_backoff);
            }
        }
    }
}

async fn establish(
    amqp: &AmqpConfig,
    topology: &Topology,
    name: &str,
) -> Result<Link, ConnectError> {
    let conn = connect(amqp, name).await?;
    if let Err(error) = declare_exchange(&conn, topology).await {
        let _ = conn.close(200, "exchange declaration failed".into()).await;
        return Err(error);
    }
    let conn = Arc::new(conn);
    let channels = channels::pool(
        conn.clone(),
        amqp.channels,
        amqp.channel_wait_timeout,
        amqp.connect_timeout,
    );
    Ok(Link { conn, channels })
}

/// Returns when the connection errors or closes, or on shutdown.
async fn watch_until_lost(conn: &Connection, shutdown: &CancellationToken) {
    let mut events = conn.events_listener();
    // Events only report errors lapin notices itself; the status poll
    // catches a connection that ended any other way.
    let mut poll = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            event = events.next() => match event {
                Some(lapin::Event::Error(error)) => {
                    tracing::warn!(%error, "broker connection error");
                    return;
                }
                Some(lapin::Event::ConnectionBlocked(reason)) => {
                    tracing::warn!(%reason, "broker blocked publishing (resource alarm)");
                }
                Some(lapin::Event::ConnectionUnblocked) => tracing::info!("broker unblocked publishing"),
                Some(_) => {}
                None => return,
            },
            _ = poll.tick() => {
                if !conn.status().connected() {
                    return;
                }
            }
        }
    }
}
