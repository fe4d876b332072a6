//! herald in Nova mode against an unmodified nova-compute (fake virt
//! driver) with a real nova-conductor, on Nova's real schema (MariaDB) and
//! a RabbitMQ node of the test's own (oslo's `conductor` and `compute`
//! queues are not named after the exchange, so a shared broker could mix
//! two runs' services; the node also makes the exchange the test's own).
//!
//! - `volume-extended` and `power-update` sent through herald are recorded by
//!   nova-compute as `compute_extend_volume` / `compute_power_update` with
//!   result `Success`, and the `network-vif-plugged` after them in the same
//!   cast is processed too;
//! - the control: the same cast without herald's `instance_actions` row
//!   fails with InstanceActionNotFound and the event after it is skipped
//!   (`reference/nova-mode.md`, T4);
//! - a host nobody consumes for answers 503 while the others answer 200.

use std::time::Duration;

use lapin::BasicProperties;
use lapin::options::BasicPublishOptions;
use serde_json::{Value, json};

use herald::broker::{NovaTopic, Wire};
use herald::config::Config;
use herald::model::{EventName, EventStatus, ServerId};
use herald::wire::nova;

use super::services::{NovaServices, Setup};
use super::support::{admin_pool, instance, set_transport_url};
use crate::broker_node::OwnNode;
use crate::nova::cloud::{Db, NovaCloud, caller_token};
use crate::support::parts::{self, require};
use crate::support::{TestApp, poll_for, poll_until, unique_name};

const CALLER: &str = "nova-e2e-neutron";
/// How long nova-compute may take to act on a cast on a loaded machine.
const ACTED: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unmodified_nova_compute_acts_on_heralds_casts() {
    let nova_bin = require!(parts::nova_venv());
    let own = OwnNode::start().await;
    let transport = format!("rabbit://guest:guest@127.0.0.1:{}/", own.node.amqp_port);
    let Some(cloud) = NovaCloud::create(Db::Mariadb, 1, &json!({})).await else {
        return;
    };
    set_transport_url(&cloud, "cell1", &transport).await;
    let tag = &unique_name()[12..22];
    let exchange = format!("nova-e2e-{tag}");
    let host = format!("cmp-e2e-{tag}");
    let broker = own.node.connect().await;
    let setup = Setup {
        transport_url: &transport,
        exchange: &exchange,
        api_db: cloud.info["api_connection"].as_str().unwrap(),
        cell_db: cloud.info["database_connection"].as_str().unwrap(),
        host: &host,
    };
    let services = NovaServices::start(&nova_bin, &setup, &broker).await;
    // Made after nova-compute started, so its start-up never touches them.
    let rows = cloud
        .rows(&json!({"instances": [
            {"key": "V", "cell": "cell1", "host": host, "vm_state": "active", "power_state": 1},
            {"key": "G", "cell": "cell1", "host": format!("ghost-{tag}"), "vm_state": "active"},
        ]}))
        .await;
    let row = |key: &str| rows["instances"][key].clone();
    let app = TestApp::spawn_with(|c| nova_wire(c, &cloud, &own.node.url(), &exchange)).await;
    app.wait_ready().await;
    // nova-compute 34 registered service version 74: auto picks compute-alt.
    app.wait_until(|r| r.body["nova_topic"] == "compute-alt", "/readyz")
        .await;

    let request_id = through_herald(&app, &row("V"), &row("G"), tag, &services).await;
    let cell = admin_pool(&cloud, "database_connection").await;
    let recorded = actions_of(&cell, &request_id).await;
    assert_eq!(
        recorded,
        [
            (
                "extend_volume".to_owned(),
                CALLER.to_owned(),
                "service".to_owned()
            ),
            ("start".to_owned(), CALLER.to_owned(), "service".to_owned())
        ],
        "herald wrote nova-api's instance_actions rows, with the caller's user and project"
    );
    control_without_the_row(&broker, &exchange, &host, &row("V"), tag, &services, &cell).await;

    app.stop().await;
    services.stop().await;
    cell.close().await;
}

fn nova_wire(config: &mut Config, cloud: &NovaCloud, broker: &str, exchange: &str) {
    cloud.directory_of(config);
    config.amqp.url = broker.into();
    config.amqp.wire = Wire::Nova;
    config.amqp.nova_exchange = exchange.into();
    config.amqp.nova_topic = NovaTopic::Auto;
    let roles = ["admin", "service"];
    (config.auth.tokens).push(caller_token(CALLER, &roles, CALLER, "service"));
}

/// The batch through herald; returns its request id once nova-compute has
/// recorded both actions' events and processed the event after them.
async fn through_herald(
    app: &TestApp,
    v: &Value,
    ghost: &Value,
    tag: &str,
    services: &NovaServices,
) -> String {
    let v_uuid = v["uuid"].as_str().unwrap();
    let body = json!({"events": [
        {"name": "volume-extended", "server_uuid": v_uuid, "tag": format!("vol-{tag}")},
        {"name": "power-update", "server_uuid": v_uuid, "tag": "POWER_ON"},
        {"name": "network-vif-plugged", "server_uuid": v_uuid, "tag": format!("port-{tag}")},
        {"name": "network-vif-plugged", "server_uuid": ghost["uuid"], "tag": format!("ghost-{tag}")},
    ]});
    let headers = [
        ("x-auth-token", CALLER),
        ("openstack-api-version", "compute 2.76"),
    ];
    let reply = app.post_events(&body, &headers).await;
    let codes: Vec<u64> = reply.body["events"]
        .as_array()
        .unwrap_or_else(|| panic!("{reply:?}"))
        .iter()
        .map(|e| e["code"].as_u64().unwrap())
        .collect();
    assert_eq!(
        codes,
        [200, 200, 200, 503],
        "the host nobody consumes for is 503, the others 200: {reply:?}"
    );
    let request_id = reply.headers["x-openstack-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let plugged = format!("Received unexpected event network-vif-plugged-port-{tag}");
    poll_until(
        "nova-compute processed the event after the actions",
        ACTED,
        || {
            let seen = services.compute_log().contains(&plugged);
            async move { seen }
        },
    )
    .await;
    request_id
}

/// `(action, user, project)` of a request's rows, once nova-compute has
/// finished both events; asserts each event's name and result. nova-compute
/// attaches an event to the request's latest action (`action_event_start`
/// looks the action up by request id), so with two actions in one request
/// both events land on the second, as they do behind nova-api.
async fn actions_of(cell: &sqlx::MySqlPool, request_id: &str) -> Vec<(String, String, String)> {
    let events_sql = "SELECT e.event, e.result FROM instance_actions_events e \
                      JOIN instance_actions a ON e.action_id = a.id \
                      WHERE a.request_id = ? ORDER BY e.id";
    let what = format!("nova-compute finished both action events of {request_id}");
    let events = poll_for(&what, ACTED, || async {
        let events: Vec<(String, Option<String>)> = sqlx::query_as(events_sql)
            .bind(request_id)
            .fetch_all(cell)
            .await
            .unwrap();
        (events.len() == 2 && events.iter().all(|e| e.1.is_some())).then_some(events)
    })
    .await;
    let events: Vec<(&str, &str)> = events
        .iter()
        .map(|(name, result)| (name.as_str(), result.as_deref().unwrap()))
        .collect();
    assert_eq!(
        events,
        [
            ("compute_extend_volume", "Success"),
            ("compute_power_update", "Success")
        ]
    );
    sqlx::query_as(
        "SELECT action, user_id, project_id FROM instance_actions WHERE request_id = ? ORDER BY id",
    )
    .bind(request_id)
    .fetch_all(cell)
    .await
    .unwrap()
}

/// The same cast as herald's, published by hand without the row first:
/// nova-compute fails on it and skips the event after it.
async fn control_without_the_row(
    broker: &lapin::Connection,
    exchange: &str,
    host: &str,
    v: &Value,
    tag: &str,
    services: &NovaServices,
    cell: &sqlx::MySqlPool,
) {
    let uuid = ServerId::parse(v["uuid"].as_str().unwrap()).unwrap();
    let context = nova::Context {
        request_id: format!("req-{}", uuid::Uuid::new_v4()),
        global_request_id: None,
        user_id: Some(CALLER.into()),
        project_id: Some("service".into()),
        roles: vec!["admin".into(), "service".into()],
        is_admin: true,
        timestamp: nova::now(),
    };
    let instance = instance(v["id"].as_i64().unwrap(), uuid, host);
    let event = |name, tag: String| nova::Event {
        instance_uuid: uuid,
        name,
        status: EventStatus::Completed,
        tag: Some(tag),
    };
    let events = [
        event(EventName::VolumeExtended, format!("vol-ctl-{tag}")),
        event(EventName::NetworkVifPlugged, format!("port-ctl-{tag}")),
    ];
    let body = nova::encode(&nova::Cast {
        context: &context,
        instances: &[instance],
        events: &events,
        unique_id: &nova::unique_id(),
    });
    let channel = broker.create_channel().await.unwrap();
    let properties = BasicProperties::default()
        .with_content_type("application/json".into())
        .with_content_encoding("utf-8".into())
        .with_delivery_mode(2);
    channel
        .basic_publish(
            exchange.into(),
            format!("compute-alt.{host}").as_str().into(),
            BasicPublishOptions::default(),
            &body,
            properties,
        )
        .await
        .unwrap();
    let failed = |log: &str| {
        log.lines()
            .any(|l| l.contains("InstanceActionNotFound") && l.contains(&context.request_id))
    };
    poll_until(
        "nova-compute refused the cast without its row",
        ACTED,
        || {
            let seen = failed(&services.compute_log());
            async move { seen }
        },
    )
    .await;
    let log = services.compute_log();
    assert!(
        !log.contains(&format!("network-vif-plugged-port-ctl-{tag}")),
        "the event after the failed one was processed: the control did not fail as T4 says"
    );
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM instance_actions WHERE request_id = ?")
            .bind(&context.request_id)
            .fetch_one(cell)
            .await
            .unwrap();
    assert_eq!(count, 0);
}
