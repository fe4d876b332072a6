//! One consuming session: connect (named, no auto-recovery), declare the
//! topology, set the prefetch, consume with manual acks until the consumer
//! ends or shutdown is asked. On shutdown it cancels the consumer, finishes
//! and acks what it already holds, then closes the connection.

use futures_util::{Stream, StreamExt};
use lapin::options::{BasicCancelOptions, BasicConsumeOptions, BasicQosOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::Readiness;
use super::handler::Handler;
use super::process::{Lost, Worker};
use crate::broker::{self, ConnectError, DeclareError, NameTooLong, declare_topology, short};
use crate::support::error_chain::error_chain;

/// How a session that was consuming ended.
#[derive(Debug)]
pub(crate) enum Ended {
    /// Shutdown was asked; everything held was settled.
    Shutdown,
    /// The connection, channel or consumer went away; rebuild.
    Lost(Lost),
}

/// Why a session could not start consuming.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionError {
    #[error(transparent)]
    Connect(#[from] ConnectError),
    #[error("broker error while setting up the consumer")]
    Broker(#[from] lapin::Error),
    #[error(transparent)]
    Declare(#[from] DeclareError),
    #[error(transparent)]
    Name(#[from] NameTooLong),
    #[error("shutdown asked before consuming started")]
    ShutDown,
}

/// Runs one session to its end.
pub(crate) async fn session<H: Handler>(
    w: &mut Worker<H>,
    next_node: &mut usize,
    shutdown: &CancellationToken,
) -> Result<Ended, SessionError> {
    let setup = async {
        let conn = connect(w, next_node).await?;
        let channel = conn.create_channel().await?;
        Ok::<_, SessionError>((conn, channel))
    };
    let (conn, channel) = tokio::select! {
        () = shutdown.cancelled() => return Err(SessionError::ShutDown),
        setup = setup => setup?,
    };
    let flow = tokio::spawn(watch_flow(conn.events_listener(), w.ready.clone()));
    let started = tokio::select! {
        () = shutdown.cancelled() => Err(SessionError::ShutDown),
        started = start(w, &channel) => started,
    };
    let result = match started {
        Ok(consumer) => Ok(consume(w, &channel, consumer, shutdown).await),
        Err(error) => Err(error),
    };
    flow.abort();
    w.ready.set(false);
    w.ready.set_blocked(false);
    if let Err(error) = conn.close(200, "herald agent closing".into()).await {
        tracing::debug!(error = %error_chain(&error), "closing the broker connection");
    }
    result
}

async fn connect<H>(w: &Worker<H>, next_node: &mut usize) -> Result<Connection, SessionError> {
    // Its own named connection, never shared with a publisher; no
    // auto-recovery: the supervisor rebuilds the session from scratch.
    let connected = broker::connect::connect_round(&w.amqp, &w.connection_name, *next_node).await?;
    tracing::info!(
        node = connected.node.label(),
        "agent connected to broker node"
    );
    *next_node = connected.index + 1;
    Ok(connected.conn)
}

/// Mirrors `connection.blocked`/`unblocked` into readiness: while blocked,
/// the broker accepts no frame from this connection, acks included.
async fn watch_flow(events: impl Stream<Item = lapin::Event> + Unpin, ready: Readiness) {
    let mut events = events;
    while let Some(event) = events.next().await {
        match event {
            lapin::Event::ConnectionBlocked(reason) => {
                tracing::warn!(%reason, "broker blocked the agent's connection (resource alarm)");
                ready.set_blocked(true);
            }
            lapin::Event::ConnectionUnblocked => {
                tracing::info!("broker unblocked the agent's connection");
                ready.set_blocked(false);
            }
            _ => {}
        }
    }
}

async fn start<H>(w: &Worker<H>, channel: &Channel) -> Result<lapin::Consumer, SessionError> {
    let queue = declare_topology(channel, &w.topology, &w.queue, &w.host).await?;
    // Per consumer (global: false): bounds what this agent holds unacked.
    channel
        .basic_qos(w.agent.prefetch, BasicQosOptions { global: false })
        .await?;
    let options = BasicConsumeOptions {
        no_local: false,
        no_ack: false,    // manual acks: a message is acked only once handed on
        exclusive: false, // other agents of the same host may share the queue
        nowait: false,
    };
    let consumer = channel
        .basic_consume(
            short(&queue)?,
            short(&w.connection_name)?,
            options,
            FieldTable::default(),
        )
        .await?;
    w.ready.set(true);
    tracing::info!(%queue, prefetch = w.agent.prefetch, "consuming");
    Ok(consumer)
}

async fn consume<H: Handler>(
    w: &mut Worker<H>,
    channel: &Channel,
    mut consumer: lapin::Consumer,
    shutdown: &CancellationToken,
) -> Ended {
    loop {
        // A message being processed is never interrupted: shutdown is only
        // looked at between messages.
        let next = tokio::select! {
            biased;
            () = shutdown.cancelled() => return drain(w, channel, consumer).await,
            next = consumer.next() => next,
        };
        let outcome = match next {
            Some(Ok(delivery)) => w.process(delivery).await,
            Some(Err(error)) => Err(Lost::Broker(error)),
            None => Err(Lost::Cancelled),
        };
        if let Err(lost) = outcome {
            return Ended::Lost(lost);
        }
    }
}

/// Cancels the consumer and settles the deliveries lapin already holds
/// (they come out of the stream before its end), within the drain timeout.
async fn drain<H: Handler>(
    w: &mut Worker<H>,
    channel: &Channel,
    mut consumer: lapin::Consumer,
) -> Ended {
    w.ready.set(false);
    if let Err(error) = channel
        .basic_cancel(consumer.tag(), BasicCancelOptions { nowait: false })
        .await
    {
        tracing::warn!(error = %error_chain(&error), "cannot cancel the consumer; unacked messages go back to the queue");
        return Ended::Shutdown;
    }
    let deadline = Instant::now() + w.drain_timeout;
    let mut settled = 0_usize;
    loop {
        match tokio::time::timeout_at(deadline, consumer.next()).await {
            Ok(Some(Ok(delivery))) => match w.process(delivery).await {
                Ok(()) => settled += 1,
                Err(lost) => {
                    tracing::warn!(reason = %error_chain(&lost), "broker lost while draining; the rest goes back to the queue");
                    break;
                }
            },
            Ok(Some(Err(_)) | None) => break,
            Err(_) => {
                tracing::warn!(timeout = ?w.drain_timeout, "drain timed out; the rest goes back to the queue");
                break;
            }
        }
    }
    tracing::info!(settled, "consumer stopped");
    Ended::Shutdown
}
