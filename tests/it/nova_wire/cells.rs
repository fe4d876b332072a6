//! Cells with brokers of their own: each cell's casts travel over its own
//! broker (one connection per distinct broker), and one broker's outage
//! fails only its cells' casts: on the dispatcher, then through `herald
//! serve` on Nova's real cells. The second cell's broker is a RabbitMQ node
//! of the test's own (`broker_node.rs`, nextest group `broker-nodes`).

use herald::dispatch::PublishOutcome;
use herald::wire::nova;

use herald::broker::{NovaTopic, Wire};
use herald::directory::config::DirectoryBackend;

use super::support::{
    NovaExchange, cast, deliver, nova_amqp, nova_dispatcher, set_transport_url, take,
};
use crate::broker_node::OwnNode;
use crate::nova::cloud::{Db, NovaCloud};
use crate::support::{ADMIN_TOKEN, BROKER, TestApp, broker, within};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_cell_casts_over_its_own_broker_and_an_outage_fails_only_its_casts() {
    let own = OwnNode::start().await;
    // cell2's transport URL as Nova stores it: oslo's scheme, empty vhost.
    let cell2 = format!("rabbit://guest:guest@127.0.0.1:{}/", own.node.amqp_port);
    let machine = broker().await;
    let other = own.node.connect().await;
    let mut ex1 = NovaExchange::declare(&machine).await;
    let mut ex2 = NovaExchange::declare_named(&other, ex1.name.clone()).await;
    let q1 = ex1.bind(&machine, "compute-alt.cmp-1").await;
    let q2 = ex2.bind(&other, "compute-alt.cmp-2").await;
    let dispatcher = nova_dispatcher(&nova_amqp(BROKER, &ex1.name)).await;

    let casts = [cast("cmp-1", BROKER), cast("cmp-2", &cell2)];
    let outcomes = deliver(&dispatcher, &casts).await;
    assert!(
        outcomes.iter().all(PublishOutcome::is_confirmed),
        "{outcomes:?}"
    );
    let on1 = take(&machine, &q1, 1).await;
    let on2 = take(&other, &q2, 1).await;
    let uuid = |d: &lapin::message::Delivery| nova::decode(&d.data).unwrap().instances[0].uuid;
    assert_eq!(
        uuid(&on1[0]),
        casts[0].instances[0].uuid,
        "cell1's cast on cell1's broker"
    );
    assert_eq!(
        uuid(&on2[0]),
        casts[1].instances[0].uuid,
        "cell2's cast on cell2's broker"
    );
    let brokers = dispatcher.nova().unwrap().brokers().summary();
    assert_eq!(
        brokers.len(),
        2,
        "one connection per distinct broker: {brokers:?}"
    );

    // The same broker spelled as amqp.url spells it: no third connection.
    let same = cast("cmp-1", "amqp://guest:guest@127.0.0.1:5672/%2f");
    assert!(deliver(&dispatcher, &[same]).await[0].is_confirmed());
    assert_eq!(dispatcher.nova().unwrap().brokers().summary().len(), 2);
    take(&machine, &q1, 1).await;

    let mut own = own;
    drop(other);
    own.node.kill().await;
    let outcomes = deliver(&dispatcher, &[cast("cmp-1", BROKER), cast("cmp-2", &cell2)]).await;
    assert!(
        outcomes[0].is_confirmed(),
        "cell1 is untouched: {:?}",
        outcomes[0]
    );
    assert!(
        matches!(outcomes[1], PublishOutcome::Failed(_)),
        "cell2's broker is gone: {:?}",
        outcomes[1]
    );
    eprintln!(
        "nova cells: with cell2's broker killed, its cast failed with {:?}",
        outcomes[1]
    );
    take(&machine, &q1, 1).await;
    dispatcher.stop().await;
    ex1.remove(&machine).await;
}

/// The same through `herald serve` on Nova's real cells: cell1's
/// transport URL names the machine's broker (as amqp.url does), cell2's is
/// a template (filled from amqp.url, as Nova fills it) naming the test's own
/// node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_casts_each_cells_events_over_the_cells_broker() {
    if super::services::NovaBin::find().is_none() {
        return;
    }
    let mut own = OwnNode::start().await;
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..10];
    let (h1, h2) = (format!("c1-{tag}"), format!("c2-{tag}"));
    let rows = serde_json::json!({"instances": [
        {"key": "P", "cell": "cell1", "host": h1},
        {"key": "Q", "cell": "cell2", "host": h2},
    ]});
    let Some(cloud) = NovaCloud::create(Db::Mariadb, 2, &rows).await else {
        return;
    };
    let template = format!(
        "rabbit://{{username}}:{{password}}@127.0.0.1:{}/",
        own.node.amqp_port
    );
    set_transport_url(&cloud, "cell2", &template).await;
    let machine = broker().await;
    let other = own.node.connect().await;
    let mut ex1 = NovaExchange::declare(&machine).await;
    let mut ex2 = NovaExchange::declare_named(&other, ex1.name.clone()).await;
    let q1 = ex1.bind(&machine, &format!("compute-alt.{h1}")).await;
    let q2 = ex2.bind(&other, &format!("compute-alt.{h2}")).await;
    let exchange = ex1.name.clone();
    let app = TestApp::spawn_with(|c| {
        c.directory.backend = DirectoryBackend::Nova;
        c.directory.url = cloud.api_url();
        c.directory.nova_database_url = cloud.nova_database_url();
        c.amqp.wire = Wire::Nova;
        c.amqp.nova_exchange = exchange;
        c.amqp.nova_topic = NovaTopic::ComputeAlt;
    })
    .await;
    app.wait_ready().await;
    let body = serde_json::json!({"events": [
        {"name": "network-vif-plugged", "server_uuid": cloud.uuid("P"), "tag": "p"},
        {"name": "network-vif-plugged", "server_uuid": cloud.uuid("Q"), "tag": "q"},
    ]});
    let codes = |reply: crate::support::Reply| -> Vec<u64> {
        reply.body["events"]
            .as_array()
            .unwrap_or_else(|| panic!("{reply:?}"))
            .iter()
            .map(|e| e["code"].as_u64().unwrap())
            .collect()
    };
    let token = [("x-auth-token", ADMIN_TOKEN)];
    assert_eq!(codes(app.post_events(&body, &token).await), [200, 200]);
    let on1 = nova::decode(&take(&machine, &q1, 1).await[0].data).unwrap();
    let on2 = nova::decode(&take(&other, &q2, 1).await[0].data).unwrap();
    assert_eq!(
        on1.instances[0].uuid.to_string(),
        cloud.uuid("P"),
        "cell1's broker"
    );
    assert_eq!(
        on2.instances[0].uuid.to_string(),
        cloud.uuid("Q"),
        "cell2's broker"
    );
    let ready = app.wait_until(|r| r.status == 200, "/readyz").await;
    assert_eq!(
        ready.body["nova_brokers"].as_object().map(|b| b.len()),
        Some(2),
        "amqp.url and cell1 share one connection: {:?}",
        ready.body
    );

    let cell2 = format!("127.0.0.1:{}", own.node.amqp_port);
    let (ok, out) = check_config(&cloud, &ex1.name).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("cell2") && out.contains(&cell2) && out.contains("has exchange"),
        "{out}"
    );
    let (ok, out) = check_config(&cloud, "no-such-exchange").await;
    assert!(!ok && out.contains("amqp.nova_exchange"), "{out}");

    drop(other);
    own.node.kill().await;
    assert_eq!(
        codes(app.post_events(&body, &token).await),
        [200, 503],
        "cell2's broker is gone: its events only"
    );
    let (ok, out) = check_config(&cloud, &ex1.name).await;
    assert!(
        !ok && out.contains("cell2") && out.contains(&cell2),
        "{out}"
    );
    take(&machine, &q1, 1).await;
    app.stop().await;
    ex1.remove(&machine).await;
}

/// `herald check-config` on Nova's wire against `cloud`: whether it passed,
/// and what it wrote on stderr.
async fn check_config(cloud: &NovaCloud, exchange: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[[auth.tokens]]\ntoken = \"t\"\nroles = [\"admin\"]\n\
         [amqp]\nurl = \"{BROKER}\"\nwire = \"nova\"\nnova_exchange = \"{exchange}\"\n\
         connect_timeout = \"2s\"\n\
         [directory]\nbackend = \"nova\"\nurl = \"{}\"\nnova_database_url = \"{}\"\n",
        cloud.api_url(),
        cloud.nova_database_url()
    );
    let path = dir.path().join("herald.toml");
    std::fs::write(&path, text).unwrap();
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_herald"))
        .args(["check-config", "--config"])
        .arg(&path)
        .kill_on_drop(true)
        .output();
    let out = within(std::time::Duration::from_secs(60), "check-config", run)
        .await
        .expect("herald runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
