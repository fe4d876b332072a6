//! One test-owned node killed with -9 and started again under a steady
//! stream of requests: 503s while it is gone (never a wrong 200), 200s soon
//! after it takes connections again, and every event answered 200 is in the
//! queue exactly once after the restart. Serve runs with its default
//! reconnect backoff, so the figure is what a deployment gets.

use std::sync::Arc;

use super::driver::{Driver, check_delivery, ms, serve_with_host, signed_ms, tags_in};
use crate::broker_node::OwnNode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_200_again_soon_after_its_node_restarts() {
    let mut own = OwnNode::start().await;
    let (app, server, queue) = serve_with_host(&own.node, "solo-host", |_| {}).await;
    let driver = Driver::start(&app, &server, 4);
    driver.wait_for_more(200, 50, "before the kill").await;

    own.node.kill().await;
    let killed = tokio::time::Instant::now();
    driver
        .wait_for_more(503, 20, "while the node is gone")
        .await;
    let down_200s = driver.count(200);
    // The node cannot take a connection before it is started again.
    let restarting = tokio::time::Instant::now();
    assert_eq!(
        driver.count_between(200, killed + std::time::Duration::from_secs(1), restarting),
        0,
        "no 200 while the node was down"
    );
    own.node.restart().await;
    let up = tokio::time::Instant::now();
    driver.wait_for_more(200, 50, "after the restart").await;
    let first_200 = driver.first_since(200, restarting).unwrap();
    let answers = driver.stop().await;
    eprintln!(
        "failover: solo kill -9 + restart: node down {} ms; the test saw it take connections {} ms \
         after starting it, serve's first 200 came {} ms after that; {} answered 200 before the \
         kill, {} in all, {} answered 503",
        ms(killed, restarting),
        ms(restarting, up),
        signed_ms(up, first_200),
        down_200s,
        answers.iter().filter(|a| a.code == 200).count(),
        answers.iter().filter(|a| a.code == 503).count(),
    );

    let ok = answers.iter().filter(|a| a.code == 200).count();
    let tags = tags_in(&own.node.connect().await, &queue, ok).await;
    let maybe = check_delivery(&answers, &tags, "solo restart");
    eprintln!("failover: solo: 0 lost of {ok} answered 200; {maybe} answered 503 arrived anyway");
    Arc::try_unwrap(app).ok().unwrap().stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_node_is_503_at_the_confirm_timeout_and_loses_nothing() {
    const FREEZE: std::time::Duration = std::time::Duration::from_secs(8);
    let own = OwnNode::start().await;
    let (app, server, queue) = serve_with_host(&own.node, "frozen-host", |c| {
        c.dispatch.confirm_timeout = std::time::Duration::from_secs(2);
    })
    .await;
    let driver = Driver::start(&app, &server, 4);
    driver.wait_for_more(200, 50, "before the freeze").await;

    own.node.freeze();
    let frozen = tokio::time::Instant::now();
    driver
        .wait_for_more(503, 4, "while the node is frozen")
        .await;
    let first_503 = tokio::time::Instant::now();
    // The freeze lasts its time whatever the driver sees: this wait is the
    // scenario, not a synchronisation.
    tokio::time::sleep_until(frozen + FREEZE).await;
    own.node.thaw();
    let thawed = tokio::time::Instant::now();
    let first_200 = driver.wait_for_more(200, 1, "after the thaw").await;
    driver.wait_for_more(200, 50, "after the thaw").await;
    let answers = driver.stop().await;
    let ok = answers.iter().filter(|a| a.code == 200).count();
    let tags = tags_in(&own.node.connect().await, &queue, ok).await;
    let maybe = check_delivery(&answers, &tags, "freeze");
    eprintln!(
        "failover: solo 8 s freeze: first 503 {} ms after the freeze (confirm timeout 2 s); \
         first 200 {} ms after the thaw; 0 lost of {ok} answered 200; {} answered 503, {maybe} \
         of them arrived anyway",
        ms(frozen, first_503),
        ms(thawed, first_200),
        answers.len() - ok
    );
    Arc::try_unwrap(app).ok().unwrap().stop().await;
}
