//! The supervised broker connection of `herald serve`.
//!
//! A task connects to the first broker node that answers, declares the
//! exchange (herald's wire) or checks that Nova's exists (Nova's wire, one
//! such task per broker), publishes a live [`Link`] (connection + channel pool + node)
//! for requests to use, watches the connection, and when it dies tries the
//! next node at once; it backs off (jittered) only after a whole round of
//! nodes failed. Requests never wait for a connection: without a live link
//! their events get 503 at once.

use std::convert::Infallible;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use lapin::Connection;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::DispatchConfig;
use super::channels::{self, ChannelPool};
use crate::broker::{self, AmqpConfig, Backoff, ConnectError, Ended, Node, Reconnect, Topology};
use crate::metrics::{Metrics, NodeLabels};
use crate::support::error_chain::error_chain;

/// A live connection and its publishing channels.
#[derive(Debug)]
pub struct Link {
    pub conn: Arc<Connection>,
    pub channels: ChannelPool,
    /// The broker node it is connected to.
    pub node: Node,
}

/// What a new connection does about the exchange before it is used.
#[derive(Debug, Clone)]
pub enum OnConnect {
    /// herald's wire: declare herald's durable topic exchange.
    Declare(Topology),
    /// Nova's wire: check that Nova's exchange exists; never declare it.
    CheckExists(String),
}

/// Declares or checks the exchange on a short-lived channel.
async fn prepare_exchange(conn: &Connection, on_connect: &OnConnect) -> Result<(), ConnectError> {
    let channel = conn
        .create_channel()
        .await
        .map_err(|source| ConnectError::Amqp {
            node: "(connected)".into(),
            source,
        })?;
    match on_connect {
        OnConnect::Declare(topology) => broker::declare_exchange(&channel, topology).await?,
        OnConnect::CheckExists(exchange) => {
            broker::check_exchange_exists(&channel, exchange).await?;
        }
    }
    // Closing may race a broker-side close; the declare already succeeded.
    let _ = channel.close(200, "declared".into()).await;
    Ok(())
}

/// Runs until `shutdown`, keeping `state` set to the live link (or `None`),
/// through the broker's one reconnect loop.
pub async fn supervise(
    amqp: AmqpConfig,
    config: DispatchConfig,
    on_connect: OnConnect,
    state: watch::Sender<Option<Arc<Link>>>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    let name = format!("herald-serve-{}", std::process::id());
    let backoff = Backoff::new(amqp.reconnect_min_backoff, amqp.reconnect_max_backoff);
    let mut reconnect = Reconnect::new("broker connection", backoff);
    let mut next_node = 0;
    let mut current: Option<String> = None;
    // Set while disconnected after a loss (not before the first connection).
    let mut lost_at: Option<Instant> = None;
    loop {
        let attempt = tokio::select! {
            () = shutdown.cancelled() => return,
            attempt = establish(&amqp, &config, &on_connect, &name, next_node) => attempt,
        };
        let ended: Ended<_, Infallible> = match attempt {
            Err(error) => Ended::Failed(error),
            Ok((link, index)) => {
                connected(&name, &link, &mut current, lost_at.take(), &metrics);
                next_node = index + 1;
                let lost = hold(Arc::new(link), &state, &metrics, &shutdown).await;
                lost_at = lost.then(Instant::now);
                if lost { Ended::Lost } else { Ended::Shutdown }
            }
        };
        if let ControlFlow::Break(_) = reconnect.after(ended, &shutdown).await {
            return;
        }
    }
}

/// Hands `link` to requests until it is lost (`true`) or shutdown (`false`,
/// and the connection is closed).
async fn hold(
    link: Arc<Link>,
    state: &watch::Sender<Option<Arc<Link>>>,
    metrics: &Metrics,
    shutdown: &CancellationToken,
) -> bool {
    state.send_replace(Some(link.clone()));
    watch_until_lost(&link.conn, shutdown).await;
    state.send_replace(None);
    metrics.broker_connected.dec();
    link.channels.close();
    if shutdown.is_cancelled() {
        if let Err(error) = link.conn.close(200, "herald shutting down".into()).await {
            tracing::debug!(error = %error_chain(&error), "closing the broker connection");
        }
        return false;
    }
    // Try the next node (or, with one, the same) at once.
    tracing::warn!(
        node = link.node.label(),
        "broker connection lost; reconnecting"
    );
    true
}

/// Logs and counts a new connection; `current` becomes its node.
fn connected(
    name: &str,
    link: &Link,
    current: &mut Option<String>,
    lost_at: Option<Instant>,
    metrics: &Metrics,
) {
    let node = link.node.label().to_owned();
    match current.as_ref() {
        Some(previous) if *previous != node => {
            tracing::warn!(connection = %name, from = %previous, to = %node, "broker node changed");
        }
        _ => tracing::info!(connection = %name, %node, "broker connected"),
    }
    if let Some(previous) = current.replace(node.clone()) {
        metrics
            .broker_node
            .get_or_create(&NodeLabels { node: previous })
            .set(0);
    }
    metrics
        .broker_node
        .get_or_create(&NodeLabels { node })
        .set(1);
    if let Some(at) = lost_at {
        metrics.broker_reconnects.inc();
        metrics
            .broker_disconnected_seconds
            .inc_by(at.elapsed().as_secs_f64());
    }
    metrics.broker_connects.inc();
    // A count, not a flag: Nova mode holds a link per broker.
    metrics.broker_connected.inc();
}

async fn establish(
    amqp: &AmqpConfig,
    config: &DispatchConfig,
    on_connect: &OnConnect,
    name: &str,
    start: usize,
) -> Result<(Link, usize), ConnectError> {
    let broker::Connected { conn, node, index } =
        broker::connect::connect_round(amqp, name, start).await?;
    if let Err(error) = prepare_exchange(&conn, on_connect).await {
        let _ = conn.close(200, "exchange declaration failed".into()).await;
        return Err(error);
    }
    let conn = Arc::new(conn);
    let channels = channels::pool(
        conn.clone(),
        config.channels,
        config.channel_wait_timeout,
        amqp.connect_timeout,
    );
    Ok((
        Link {
            conn,
            channels,
            node,
        },
        index,
    ))
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
                    tracing::warn!(error = %error_chain(&error), "broker connection error");
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
