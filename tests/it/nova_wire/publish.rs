//! Casts on the machine's broker: what a bound host receives (body and
//! properties as nova-api sends them), that an unbound host is that cast's
//! failure, and that Nova's exchange is only ever checked, never declared.

use lapin::options::ExchangeDeclareOptions;
use lapin::types::FieldTable;

use herald::dispatch::{Failure, PublishOutcome};
use herald::wire::nova;

use super::support::{NovaExchange, cast, deliver, nova_amqp, nova_dispatcher};
use crate::support::{BROKER, broker, drain};

#[tokio::test]
async fn a_bound_host_gets_novas_cast_and_an_unbound_host_is_refused() {
    let conn = broker().await;
    let mut exchange = NovaExchange::declare(&conn).await;
    let queue = exchange.bind(&conn, "compute-alt.cmp-a").await;
    let dispatcher = nova_dispatcher(&nova_amqp(BROKER, &exchange.name)).await;

    let casts = [cast("cmp-a", BROKER), cast("cmp-b", BROKER)];
    let outcomes = deliver(&dispatcher, &casts).await;
    assert!(outcomes[0].is_confirmed(), "{:?}", outcomes[0]);
    assert!(
        matches!(&outcomes[1], PublishOutcome::Failed(Failure::Unroutable(key)) if key == "compute-alt.cmp-b"),
        "an unbound host is that cast's failure: {:?}",
        outcomes[1]
    );

    let got = drain(&queue, 1).await;
    assert_eq!(got.len(), 1, "only cmp-a's cast is in its queue");
    let p = &got[0].properties;
    assert_eq!(
        p.content_type().as_ref().unwrap().as_str(),
        "application/json"
    );
    assert_eq!(p.content_encoding().as_ref().unwrap().as_str(), "utf-8");
    assert_eq!(*p.delivery_mode(), Some(2));
    let body = nova::decode(&got[0].data).unwrap();
    assert_eq!(body.method, "external_instance_event");
    assert_eq!(body.version, "6.0");
    assert_eq!(body.instances[0].uuid, casts[0].instances[0].uuid);
    assert_eq!(body.instances[0].id, Some(1));
    assert_eq!(body.events, casts[0].events);
    assert_eq!(
        p.message_id().as_ref().unwrap().as_str(),
        body.unique_id,
        "the message id is the cast's _unique_id"
    );

    dispatcher.stop().await;
    exchange.remove(&conn).await;
}

#[tokio::test]
async fn each_cast_has_a_fresh_unique_id() {
    let conn = broker().await;
    let mut exchange = NovaExchange::declare(&conn).await;
    let queue = exchange.bind(&conn, "compute-alt.cmp-a").await;
    let dispatcher = nova_dispatcher(&nova_amqp(BROKER, &exchange.name)).await;
    for _ in 0..3 {
        let outcomes = deliver(&dispatcher, &[cast("cmp-a", BROKER)]).await;
        assert!(outcomes[0].is_confirmed());
    }
    let ids: std::collections::HashSet<String> = drain(&queue, 3)
        .await
        .iter()
        .map(|d| nova::decode(&d.data).unwrap().unique_id)
        .collect();
    assert_eq!(
        ids.len(),
        3,
        "oslo drops a repeated _unique_id as a duplicate"
    );
    dispatcher.stop().await;
    exchange.remove(&conn).await;
}

#[tokio::test]
async fn a_missing_exchange_fails_the_casts_and_is_never_declared() {
    let name = format!("nova-test-missing-{}", uuid::Uuid::new_v4().simple());
    let amqp = nova_amqp(BROKER, &name);
    let dispatcher = super::support::start(&amqp);
    let outcomes = deliver(&dispatcher, &[cast("cmp-a", BROKER)]).await;
    assert!(
        matches!(
            outcomes[0],
            PublishOutcome::Failed(Failure::BrokerUnavailable)
        ),
        "{:?}",
        outcomes[0]
    );
    assert!(
        !dispatcher.is_ready(),
        "no usable link without Nova's exchange"
    );
    dispatcher.stop().await;
    // Passively: it is still not there (404 closes the channel).
    let channel = broker().await.create_channel().await.unwrap();
    let passive = ExchangeDeclareOptions {
        passive: true,
        ..ExchangeDeclareOptions::default()
    };
    let found = channel
        .exchange_declare(
            name.as_str().into(),
            lapin::ExchangeKind::Topic,
            passive,
            FieldTable::default(),
        )
        .await;
    assert!(found.is_err(), "herald declared Nova's exchange");
}

#[tokio::test]
async fn auto_casts_to_compute_until_the_cells_say_compute_alt() {
    let conn = broker().await;
    let mut exchange = NovaExchange::declare(&conn).await;
    let old = exchange.bind(&conn, "compute.cmp-a").await;
    let alt = exchange.bind(&conn, "compute-alt.cmp-a").await;
    let mut amqp = nova_amqp(BROKER, &exchange.name);
    amqp.nova_topic = herald::broker::NovaTopic::Auto;
    let dispatcher = nova_dispatcher(&amqp).await;
    let nova = dispatcher.nova().unwrap();
    assert!(deliver(&dispatcher, &[cast("cmp-a", BROKER)]).await[0].is_confirmed());
    nova.observe_compute_versions([Some(71), None]);
    assert!(deliver(&dispatcher, &[cast("cmp-a", BROKER)]).await[0].is_confirmed());
    nova.observe_compute_versions([Some(71), Some(66)]);
    assert!(deliver(&dispatcher, &[cast("cmp-a", BROKER)]).await[0].is_confirmed());
    assert_eq!(
        drain(&old, 2).await.len(),
        2,
        "before the first reading, and after an old compute"
    );
    assert_eq!(drain(&alt, 1).await.len(), 1);
    dispatcher.stop().await;
    exchange.remove(&conn).await;
}
