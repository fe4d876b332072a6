//! What the Nova-wire tests share: a dispatcher on Nova's wire, an exchange
//! declared as oslo.messaging declares Nova's (removed afterwards), a queue
//! bound as nova-compute binds its own, and the casts' parts.

use std::time::Duration;

use lapin::options::{
    ExchangeDeclareOptions, ExchangeDeleteOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::types::FieldTable;
use lapin::{Connection, ExchangeKind};

use herald::broker::{AmqpConfig, CellBroker, NovaTopic, Wire};
use herald::dispatch::Dispatcher;
use herald::dispatch::nova::NovaCast;
use herald::metrics::Metrics;
use herald::model::{EventName, EventStatus, HostName, ServerId};
use herald::wire::nova;

use crate::support::within;

/// Nova's exchange on one broker, named for one test, deleted by `remove`.
pub struct NovaExchange {
    pub name: String,
    queues: Vec<String>,
}

impl NovaExchange {
    /// Declares it as oslo does with default options: a topic exchange,
    /// not durable, not auto-deleted (reference/nova-mode.md, section C).
    pub async fn declare(conn: &Connection) -> Self {
        let name = format!("nova-test-{}", uuid::Uuid::new_v4().simple());
        Self::declare_named(conn, name).await
    }

    /// The same, with a name given (one exchange name on several brokers).
    pub async fn declare_named(conn: &Connection, name: String) -> Self {
        let channel = conn.create_channel().await.unwrap();
        let options = ExchangeDeclareOptions {
            durable: false,
            auto_delete: false,
            ..ExchangeDeclareOptions::default()
        };
        channel
            .exchange_declare(
                name.as_str().into(),
                ExchangeKind::Topic,
                options,
                FieldTable::default(),
            )
            .await
            .unwrap();
        Self {
            name,
            queues: Vec::new(),
        }
    }

    /// A queue bound with `routing_key`, as nova-compute binds `compute.<host>`.
    pub async fn bind(&mut self, conn: &Connection, routing_key: &str) -> String {
        let channel = conn.create_channel().await.unwrap();
        let queue = format!("{}.{routing_key}", self.name);
        channel
            .queue_declare(
                queue.as_str().into(),
                QueueDeclareOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        channel
            .queue_bind(
                queue.as_str().into(),
                self.name.as_str().into(),
                routing_key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap();
        self.queues.push(queue.clone());
        queue
    }

    pub async fn remove(self, conn: &Connection) {
        let channel = conn.create_channel().await.unwrap();
        for queue in &self.queues {
            let _ = channel
                .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                .await;
        }
        let _ = channel
            .exchange_delete(self.name.as_str().into(), ExchangeDeleteOptions::default())
            .await;
    }
}

/// `[amqp]` for Nova's wire on `url`, casting to `exchange`.
pub fn nova_amqp(url: &str, exchange: &str) -> AmqpConfig {
    AmqpConfig {
        url: url.into(),
        wire: Wire::Nova,
        nova_exchange: exchange.into(),
        nova_topic: NovaTopic::ComputeAlt,
        connect_timeout: Duration::from_secs(2),
        reconnect_min_backoff: Duration::from_millis(50),
        reconnect_max_backoff: Duration::from_millis(500),
        ..AmqpConfig::default()
    }
}

/// A dispatcher on Nova's wire (default publish settings), connecting.
pub fn start(amqp: &AmqpConfig) -> Dispatcher {
    Dispatcher::start(
        amqp,
        &herald::dispatch::DispatchConfig::default(),
        Metrics::new(),
    )
}

/// A dispatcher on Nova's wire, once `amqp.url`'s broker is connected.
pub async fn nova_dispatcher(amqp: &AmqpConfig) -> Dispatcher {
    let dispatcher = start(amqp);
    crate::support::poll_until(
        "the Nova broker is connected",
        Duration::from_secs(30),
        || {
            let ready = dispatcher.is_ready();
            async move { ready }
        },
    )
    .await;
    dispatcher
}

pub fn context() -> nova::Context {
    nova::Context {
        request_id: format!("req-{}", uuid::Uuid::new_v4()),
        global_request_id: None,
        user_id: Some("neutron".into()),
        project_id: Some("service".into()),
        roles: vec!["admin".into(), "service".into()],
        is_admin: true,
        timestamp: nova::now(),
    }
}

/// A cast of one `network-vif-plugged` for a fresh instance on `host`.
pub fn cast(host: &str, broker: &str) -> NovaCast {
    let uuid = ServerId::parse(&uuid::Uuid::new_v4().to_string()).unwrap();
    NovaCast {
        host: HostName::parse(host).unwrap(),
        broker: CellBroker::parse(broker).unwrap(),
        instances: vec![nova::Instance {
            id: 1,
            uuid,
            host: Some(host.into()),
            project_id: Some("p1".into()),
            user_id: Some("u1".into()),
            vm_state: Some("active".into()),
            task_state: None,
            power_state: Some(1),
            deleted: false,
        }],
        events: vec![nova::Event {
            instance_uuid: uuid,
            name: EventName::NetworkVifPlugged,
            status: EventStatus::Completed,
            tag: Some("port-1".into()),
        }],
    }
}

/// Delivers `casts` with a fresh context, under a deadline.
pub async fn deliver(
    dispatcher: &Dispatcher,
    casts: &[NovaCast],
) -> Vec<herald::dispatch::PublishOutcome> {
    let nova = dispatcher.nova().expect("a Nova-wire dispatcher");
    within(
        Duration::from_secs(30),
        "the casts are answered",
        nova.deliver(&context(), casts),
    )
    .await
}

/// Takes the messages in `queue` on `conn` until at least `at_least` came
/// (within a deadline) and none is left.
pub async fn take(
    conn: &Connection,
    queue: &str,
    at_least: usize,
) -> Vec<lapin::message::Delivery> {
    use lapin::options::BasicGetOptions;
    let channel = conn.create_channel().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    loop {
        let next = channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
            .unwrap();
        match next {
            Some(m) => got.push(m.delivery),
            None if got.len() >= at_least => return got,
            None => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "only {} of {at_least} messages in {queue}",
                    got.len()
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }
}

/// A pool on one of a cloud's databases as the fixture's admin (`key`:
/// `api_connection` or `database_connection`, cell1's), for what the test
/// itself reads and sets up.
pub async fn admin_pool(cloud: &crate::nova::cloud::NovaCloud, key: &str) -> sqlx::MySqlPool {
    let url = cloud.info[key]
        .as_str()
        .expect("the fixture prints its URLs");
    let url = herald::directory::nova::url::to_sqlx(url).expect("a MariaDB URL");
    sqlx::MySqlPool::connect(&url.url)
        .await
        .expect("MariaDB answers")
}

/// Points a cell's `transport_url` at a broker of the test's own, as
/// `nova-manage cell_v2 update_cell --transport-url` would.
pub async fn set_transport_url(cloud: &crate::nova::cloud::NovaCloud, cell: &str, url: &str) {
    let api = admin_pool(cloud, "api_connection").await;
    let done = sqlx::query("UPDATE cell_mappings SET transport_url = ? WHERE name = ?")
        .bind(url)
        .bind(cell)
        .execute(&api)
        .await
        .expect("the API database takes the update");
    assert_eq!(done.rows_affected(), 1, "no cell {cell}");
    api.close().await;
}
