//! Helpers of the agent tests on top of `crate::support`: an agent's names
//! (one host on the test's own exchange), publishing as serve would, an
//! in-process agent handing messages to a channel, and rabbitmqctl.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::FutureExt;
use herald::agent::{Delivered, handler_fn};
use herald::broker::QueueType;
use herald::broker::Topology;
use herald::config::Config;
use herald::model::{EventName, EventStatus, HostName, ServerId};
use herald::support::timestamp::now_rfc3339;
use herald::wire::{Message, WireEvent};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Connection};

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::support::broker::{queue_depth, rabbitmqctl};
use crate::support::{BrokerCleanup, poll_until, unique_config, unique_name, within};
pub use crate::support::{broker as connect, get};

/// Generous: the broker and the build share two cores with other people.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// One agent's config and host, on names unique to the test; deletes the
/// host's queue and the exchanges when dropped.
pub struct Names {
    pub config: Config,
    pub host: HostName,
    cleanup: BrokerCleanup,
}

impl Names {
    pub fn new(queue_type: QueueType) -> Self {
        let mut config = unique_config();
        config.queue.queue_type = queue_type;
        let host = format!("h-{}", &unique_name()[12..24]);
        Self::for_host(config, &host)
    }

    /// An agent for `host` on `config`'s names (a serve's, say).
    pub fn for_host(config: Config, host: &str) -> Self {
        let host = HostName::parse(host).expect("a valid host name");
        let mut cleanup = BrokerCleanup::exchange(&config.amqp.exchange);
        cleanup.queue(&Topology::new(&config.amqp).queue(&host));
        Self {
            config,
            host,
            cleanup,
        }
    }

    /// The same names with another queue type; deletes nothing itself.
    pub fn twin(&self, queue_type: QueueType) -> Self {
        let mut config = self.config.clone();
        config.queue.queue_type = queue_type;
        Self {
            config,
            host: self.host.clone(),
            cleanup: BrokerCleanup::default(),
        }
    }

    /// With a dead-letter exchange of the test's own (and its queue).
    pub fn with_dlx(mut self) -> Self {
        let dlx = format!("{}.dlx", self.config.amqp.exchange);
        self.cleanup.also_exchange(&dlx);
        self.cleanup.queue(&Topology::dead_letter_queue(&dlx));
        self.config.queue.dead_letter_exchange = Some(dlx);
        self
    }

    pub fn queue(&self) -> String {
        Topology::new(&self.config.amqp).queue(&self.host)
    }

    pub fn routing_key(&self) -> String {
        Topology::new(&self.config.amqp).routing_key(&self.host)
    }

    pub fn dead_letter_queue(&self) -> Option<String> {
        self.config
            .queue
            .dead_letter_exchange
            .as_deref()
            .map(Topology::dead_letter_queue)
    }

    /// Declares the agent's topology as the agent would (to publish before
    /// it runs); returns the connection it declared on, to publish on.
    pub async fn declare(&self) -> Connection {
        let conn = connect().await;
        let channel = conn.create_channel().await.expect("a channel");
        herald::broker::declare_topology(
            &channel,
            &Topology::new(&self.config.amqp),
            &self.config.queue,
            &self.host,
        )
        .await
        .expect("the topology declares");
        let _ = channel.close(200, "declared".into()).await;
        conn
    }
}

pub const UUID: &str = "3df201cf-2451-44f2-8d25-a4ca826fc1f3";

pub fn event(name: EventName, tag: Option<&str>) -> WireEvent {
    WireEvent {
        name,
        server_uuid: ServerId::parse(UUID).expect("a uuid"),
        status: EventStatus::Completed,
        tag: tag.map(str::to_owned),
    }
}

pub fn message(host: &HostName, events: Vec<WireEvent>) -> Message {
    Message {
        version: 1,
        message_id: uuid::Uuid::new_v4().to_string(),
        request_id: format!("req-{}", uuid::Uuid::new_v4()),
        global_request_id: None,
        host: host.clone(),
        sent_at: now_rfc3339(),
        events,
    }
}

/// A one-event message for the names' host.
pub fn one_event(names: &Names, name: EventName) -> Message {
    message(&names.host, vec![event(name, None)])
}

/// Publishes raw bytes, persistent, mandatory and confirmed, to the test
/// exchange; true when the broker took the message and routed it.
pub async fn try_publish(conn: &Connection, names: &Names, body: &[u8]) -> bool {
    let Ok(channel) = conn.create_channel().await else {
        return false;
    };
    let _ = channel
        .confirm_select(ConfirmSelectOptions::default())
        .await;
    let published = channel
        .basic_publish(
            names.config.amqp.exchange.as_str().into(),
            names.routing_key().as_str().into(),
            BasicPublishOptions {
                mandatory: true,
                immediate: false,
            },
            body,
            BasicProperties::default()
                .with_delivery_mode(2)
                .with_content_type("application/json".into()),
        )
        .await;
    let routed = match published {
        Ok(confirm) => matches!(confirm.await, Ok(lapin::Confirmation::Ack(None))),
        Err(_) => false,
    };
    let _ = channel.close(200, "bye".into()).await;
    routed
}

/// Publishes raw bytes; the broker must take and route them.
pub async fn publish_raw(conn: &Connection, names: &Names, body: &[u8]) {
    assert!(
        try_publish(conn, names, body).await,
        "the broker took the message and routed it to a queue"
    );
}

pub async fn publish(conn: &Connection, names: &Names, message: &Message) {
    publish_raw(conn, names, &message.encode()).await;
}

/// Ready messages of `queue`, which must exist.
pub async fn ready_count(conn: &Connection, queue: &str) -> u32 {
    queue_depth(conn, queue).await.expect("the queue exists")
}

/// Polls `check` until it holds; panics with `what` at [`DEADLINE`].
pub async fn wait_until<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    poll_until(what, DEADLINE, check).await;
}

/// An agent running in this process, handing messages to a channel.
pub struct InProcessAgent {
    pub addr: SocketAddr,
    pub delivered: mpsc::UnboundedReceiver<Delivered>,
    pub shutdown: CancellationToken,
    pub task: JoinHandle<Result<(), herald::agent::AgentError>>,
}

impl InProcessAgent {
    pub async fn start(names: &Names) -> Self {
        let listener = TcpListener::bind(names.config.agent.waiter_listen)
            .await
            .expect("a port");
        let addr = listener.local_addr().expect("bound");
        let (tx, delivered) = mpsc::unbounded_channel();
        let handler = handler_fn(move |d: Delivered| {
            let tx = tx.clone();
            async move {
                tx.send(d)?;
                Ok(())
            }
        });
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(herald::agent::run_with_handler(
            names.config.agent_settings(),
            names.host.clone(),
            listener,
            handler,
            shutdown.clone(),
        ));
        Self {
            addr,
            delivered,
            shutdown,
            task,
        }
    }

    /// Started, and consuming.
    pub async fn ready(names: &Names) -> Self {
        let agent = Self::start(names).await;
        agent.wait_ready().await;
        agent
    }

    pub async fn wait_ready(&self) {
        let addr = self.addr;
        wait_until("the agent is consuming", || {
            get(addr, "/readyz").map(|(s, _)| s == 200)
        })
        .await;
    }

    pub async fn next(&mut self) -> Delivered {
        within(DEADLINE, "a message is handed on", self.delivered.recv())
            .await
            .expect("the agent is running")
    }

    /// Nothing else is handed on: a sentinel published now is the very next
    /// hand-on (a queue delivers in order, so anything pending comes first).
    /// Unlike waiting a while for silence, this cannot pass early.
    pub async fn assert_nothing_pending(&mut self, conn: &Connection, names: &Names) {
        let sentinel = one_event(names, EventName::NetworkChanged);
        publish(conn, names, &sentinel).await;
        let next = self.next().await;
        assert_eq!(
            next.meta.message_id, sentinel.message_id,
            "something else was handed on first"
        );
    }

    pub async fn stop(self) -> Result<(), herald::agent::AgentError> {
        self.shutdown.cancel();
        within(DEADLINE, "the agent's stop", self.task)
            .await
            .expect("no panic")
    }
}

/// The broker's pid of the connection named `name`, if any.
pub async fn connection_pid(name: &str) -> Option<String> {
    let text = rabbitmqctl(&["list_connections", "pid", "client_properties"]).await;
    text.lines()
        .find(|l| l.contains(name))
        .and_then(|l| l.split('\t').next())
        .map(str::to_owned)
}

/// Force-closes the broker connection `pid` (ours only: found by its unique name).
pub async fn close_connection(pid: &str) {
    rabbitmqctl(&["close_connection", pid, "herald agent test: forced close"]).await;
}
