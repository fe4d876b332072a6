//! Helpers of the agent tests: unique names and their cleanup, publishing,
//! an in-process agent with a channel handler, rabbitmqctl. The plain GET
//! is `crate::support::get`, shared with the clients test.

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
use lapin::options::{
    BasicPublishOptions, ConfirmSelectOptions, ExchangeDeleteOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection, ConnectionProperties};

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::support::BROKER;

/// Generous: the broker and the build share two cores with other people.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Unique names for one test; deletes what they name when dropped.
pub struct Names {
    pub config: Config,
    pub host: HostName,
}

impl Names {
    pub fn new(queue_type: QueueType) -> Self {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let mut config = Config::default();
        config.amqp.url = BROKER.into();
        config.amqp.exchange = format!("ht-{id}");
        config.amqp.queue_prefix = format!("ht-{id}.q");
        config.amqp.reconnect_min_backoff = Duration::from_millis(50);
        config.amqp.reconnect_max_backoff = Duration::from_millis(500);
        config.amqp.connect_timeout = Duration::from_secs(5);
        config.queue.queue_type = queue_type;
        config.agent.waiter_listen = SocketAddr::from(([127, 0, 0, 1], 0));
        config.agent.shutdown_grace = Duration::from_secs(5);
        let host = HostName::parse(&format!("h-{}", &id[..12])).expect("a valid host name");
        Self { config, host }
    }

    pub fn with_dlx(mut self) -> Self {
        self.config.queue.dead_letter_exchange = Some(format!("{}.dlx", self.config.amqp.exchange));
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

    /// Declares the agent's topology as the agent would (to publish before it runs).
    pub async fn declare(&self) {
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
        let _ = conn.close(200, "bye".into()).await;
    }

    async fn cleanup(queues: Vec<String>, exchanges: Vec<String>) {
        let Ok(conn) = Connection::connect(BROKER, ConnectionProperties::default()).await else {
            return;
        };
        for q in queues {
            if let Ok(ch) = conn.create_channel().await {
                let _ = ch
                    .queue_delete(q.as_str().into(), QueueDeleteOptions::default())
                    .await;
            }
        }
        for x in exchanges {
            if let Ok(ch) = conn.create_channel().await {
                let _ = ch
                    .exchange_delete(x.as_str().into(), ExchangeDeleteOptions::default())
                    .await;
            }
        }
        let _ = conn.close(200, "bye".into()).await;
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        let mut queues = vec![self.queue()];
        let mut exchanges = vec![self.config.amqp.exchange.clone()];
        if let Some(dlx) = &self.config.queue.dead_letter_exchange {
            queues.extend(self.dead_letter_queue());
            exchanges.push(dlx.clone());
        }
        // Drop cannot await, and may run inside a runtime: clean up on a thread of its own.
        let cleaner = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(Self::cleanup(queues, exchanges));
        });
        let _ = cleaner.join();
    }
}

pub async fn connect() -> Connection {
    Connection::connect(BROKER, ConnectionProperties::default())
        .await
        .expect("the test broker at 127.0.0.1:5672")
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

/// Publishes raw bytes, persistent and confirmed, to the test exchange.
pub async fn publish_raw(conn: &Connection, names: &Names, body: &[u8]) {
    let channel = conn.create_channel().await.expect("a channel");
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .expect("confirm mode");
    let confirm = channel
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
        .await
        .expect("publish")
        .await
        .expect("confirm");
    assert!(confirm.is_ack(), "the broker took the message");
    assert!(
        confirm.take_message().is_none(),
        "the message was routed to a queue"
    );
    let _ = channel.close(200, "bye".into()).await;
}

pub async fn publish(conn: &Connection, names: &Names, message: &Message) {
    publish_raw(conn, names, &message.encode()).await;
}

/// Ready messages of `queue` (passive declare).
pub async fn ready_count(conn: &Connection, queue: &str) -> u32 {
    let channel = conn.create_channel().await.expect("a channel");
    let options = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let q = channel
        .queue_declare(queue.into(), options, FieldTable::default())
        .await
        .expect("the queue exists");
    let _ = channel.close(200, "bye".into()).await;
    q.message_count()
}

/// Polls `check` until it holds; panics with `what` at [`DEADLINE`].
pub async fn wait_until<F, Fut>(what: &str, check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    crate::support::poll_until(what, DEADLINE, check).await;
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

    pub async fn wait_ready(&self) {
        let addr = self.addr;
        wait_until("the agent is consuming", || {
            get(addr, "/readyz").map(|(s, _)| s == 200)
        })
        .await;
    }

    pub async fn next(&mut self) -> Delivered {
        tokio::time::timeout(DEADLINE, self.delivered.recv())
            .await
            .expect("a message is handed on in time")
            .expect("the agent is running")
    }

    /// Nothing else is handed on: a sentinel published now is the very next
    /// hand-on (a queue delivers in order, so anything pending comes first).
    /// Unlike waiting a while for silence, this cannot pass early.
    pub async fn assert_nothing_pending(&mut self, conn: &Connection, names: &Names) {
        let sentinel = message(&names.host, vec![event(EventName::NetworkChanged, None)]);
        publish(conn, names, &sentinel).await;
        let next = self.next().await;
        assert_eq!(
            next.meta.message_id, sentinel.message_id,
            "something else was handed on first"
        );
    }

    pub async fn stop(self) -> Result<(), herald::agent::AgentError> {
        self.shutdown.cancel();
        tokio::time::timeout(DEADLINE, self.task)
            .await
            .expect("the agent stops in time")
            .expect("no panic")
    }
}

pub use crate::support::get;

/// The broker's pid of the connection named `name`, if any.
pub async fn connection_pid(name: &str) -> Option<String> {
    let out = tokio::process::Command::new("rabbitmqctl")
        .args(["-q", "list_connections", "pid", "client_properties"])
        .output()
        .await
        .expect("rabbitmqctl runs");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find(|l| l.contains(name))
        .and_then(|l| l.split('\t').next())
        .map(str::to_owned)
}

/// Force-closes the broker connection `pid` (ours only: found by its unique name).
pub async fn close_connection(pid: &str) {
    let status = tokio::process::Command::new("rabbitmqctl")
        .args([
            "-q",
            "close_connection",
            pid,
            "herald agent test: forced close",
        ])
        .status()
        .await
        .expect("rabbitmqctl runs");
    assert!(status.success(), "rabbitmqctl close_connection {pid}");
}
