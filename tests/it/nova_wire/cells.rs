//! Cells with brokers of their own: each cell's casts travel over its own
//! broker (one connection per distinct broker), and one broker's outage
//! fails only its cells' casts. The second cell's broker is a RabbitMQ node
//! of the test's own (`broker_node.rs`, nextest group `broker-nodes`).

use herald::dispatch::PublishOutcome;
use herald::wire::nova;

use super::support::{NovaExchange, cast, deliver, nova_amqp, nova_dispatcher, take};
use crate::broker_node::OwnNode;
use crate::support::{BROKER, broker};

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
