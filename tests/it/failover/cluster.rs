//! A 3-node quorum cluster under a steady stream of requests: the node
//! serve uses is killed (serve moves to the next node of `amqp.url`), a
//! follower is killed, then the majority is lost and regained. Every event
//! answered 200 arrives exactly once; no 200 while the queue has no majority.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use herald::broker::QueueType;
use herald::broker::nodes::BrokerUrls;

use tokio::time::Instant;

use super::driver::{Driver, bind_queue, check_delivery, ms, serve_on, signed_ms, tags_in};
use crate::broker_node::Cluster;
use crate::support::{HeraldChild, TestApp, new_uuid, within};

const CONFIRM_TIMEOUT: Duration = Duration::from_secs(3);

/// The node serve's /readyz names.
async fn serve_node(app: &TestApp) -> String {
    let ready = app.get("/readyz").await;
    ready.body["broker_node"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The index of the node leading `queue`, asked of node `via`.
fn leader(cluster: &Cluster, via: usize, queue: &str) -> usize {
    let out = cluster.nodes[via].ctl(&["list_queues", "--no-table-headers", "name", "leader"]);
    let line = out
        .lines()
        .find(|l| l.starts_with(queue))
        .unwrap_or_else(|| panic!("{queue} not listed: {out}"));
    let leader = line.split_whitespace().nth(1).unwrap_or_default();
    cluster
        .nodes
        .iter()
        .position(|n| n.name == leader)
        .unwrap_or_else(|| panic!("leader {leader} is none of the cluster's nodes"))
}

fn index_of(cluster: &Cluster, label: &str) -> usize {
    cluster
        .nodes
        .iter()
        .position(|n| n.label() == label)
        .unwrap_or_else(|| panic!("serve names {label:?}, none of the cluster's nodes"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_keeps_every_200_across_node_losses_of_a_quorum_cluster() {
    let mut cluster = Cluster::start().await;
    let urls = cluster.urls();
    let app = serve_on(BrokerUrls::Many(urls), |c| {
        c.dispatch.confirm_timeout = CONFIRM_TIMEOUT
    })
    .await;
    assert_eq!(serve_node(&app).await, cluster.nodes[0].label());
    let server = new_uuid();
    app.put_server(&server, Some("cluster-host"), None).await;
    // Declared through the second node, so the queue's leader is not serve's node.
    let queue = bind_queue(
        &cluster.nodes[1].connect().await,
        &app,
        "cluster-host",
        true,
    )
    .await;
    let app = Arc::new(app);
    let driver = Driver::start(&app, &server, 4);
    driver.wait_for_more(200, 50, "before any loss").await;

    // 1. The node serve is connected to dies.
    cluster.nodes[0].kill().await;
    let killed = Instant::now();
    let resumed = driver
        .wait_for_more(200, 1, "after serve's node died")
        .await;
    driver.wait_for_more(200, 50, "on another node").await;
    let now_on = serve_node(&app).await;
    assert_ne!(
        now_on,
        cluster.nodes[0].label(),
        "serve moved to another node"
    );
    eprintln!(
        "failover: cluster, serve's node killed: first 200 {} ms after the kill, now on {now_on}; \
         {} answered 503 in between",
        ms(killed, resumed),
        driver.count_between(503, killed, resumed)
    );
    cluster.nodes[0].restart().await;

    // 2. A follower (neither serve's node nor the queue's leader) dies.
    let on = index_of(&cluster, &serve_node(&app).await);
    let lead = leader(&cluster, on, &queue);
    let follower = (0..3).find(|i| *i != on && *i != lead).unwrap();
    let before = driver.count(503);
    cluster.nodes[follower].kill().await;
    driver.wait_for_more(200, 50, "after a follower died").await;
    eprintln!(
        "failover: cluster, follower killed: {} answered 503 (confirms in flight), 200s went on",
        driver.count(503) - before
    );

    // 3. The majority is lost: only serve's node is left.
    let other = (0..3).find(|i| *i != on && *i != follower).unwrap();
    cluster.nodes[other].kill().await;
    let minority = Instant::now();
    driver.wait_for_more(503, 8, "without a majority").await;
    // No majority until the second node is started again.
    let restarting = Instant::now();
    assert_eq!(
        driver.count_between(200, minority + Duration::from_secs(1), restarting),
        0,
        "no 200 while the queue has no majority"
    );
    cluster.nodes[follower].restart().await;
    let quorum_back = Instant::now();
    driver
        .wait_for_more(200, 50, "after the majority returned")
        .await;
    let again = driver.first_since(200, restarting).unwrap();
    eprintln!(
        "failover: cluster, majority lost for {} ms: {} answered 503, no 200; first 200 {} ms \
         after the test saw the second node take connections again",
        ms(minority, restarting),
        driver.count_between(503, minority, restarting),
        signed_ms(quorum_back, again)
    );
    cluster.nodes[other].restart().await;

    let answers = driver.stop().await;
    let ok = answers.iter().filter(|a| a.code == 200).count();
    let conn = cluster.nodes[on].connect().await;
    let tags = tags_in(&conn, &queue, ok).await;
    let maybe = check_delivery(&answers, &tags, "cluster");
    eprintln!(
        "failover: cluster: 0 lost and none twice of {ok} answered 200; {} answered 503, \
         {maybe} of them arrived anyway",
        answers.len() - ok
    );
    Arc::try_unwrap(app).ok().unwrap().stop().await;
}

/// Reads the agent's lines until every tag in `want` was printed, counting
/// how often each tag came.
async fn printed(
    lines: &mut tokio::sync::mpsc::UnboundedReceiver<serde_json::Value>,
    want: &HashSet<String>,
) -> HashMap<String, usize> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let what = format!("the agent printed all {} events answered 200", want.len());
    within(Duration::from_secs(60), &what, async {
        while !want.iter().all(|t| seen.contains_key(t)) {
            let line = lines.recv().await.expect("the agent's stdout is open");
            let tag = line["tag"].as_str().unwrap_or_default().to_owned();
            *seen.entry(tag).or_default() += 1;
        }
    })
    .await;
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_consumes_again_on_another_node_when_its_node_dies() {
    let mut cluster = Cluster::start().await;
    let urls = cluster.urls();
    // serve prefers the second node, the agent the first: only the agent's node dies.
    let serve_urls = vec![urls[1].clone(), urls[2].clone(), urls[0].clone()];
    let app = TestApp::ready_with(|c| c.amqp.url = BrokerUrls::Many(serve_urls)).await;
    let server = new_uuid();
    app.put_server(&server, Some("agent-host"), None).await;
    let mut config = app.config.clone();
    config.amqp.url = BrokerUrls::Many(urls);
    config.queue.queue_type = QueueType::Quorum;
    let mut agent = HeraldChild::agent(&config, "agent-host");
    let mut lines = agent.lines();
    let app = Arc::new(app);
    let driver = Driver::start(&app, &server, 2);
    driver
        .wait_for_more(200, 30, "the agent's queue is bound")
        .await;

    cluster.nodes[0].kill().await;
    let killed = Instant::now();
    driver
        .wait_for_more(200, 50, "after the agent's node died")
        .await;
    let answers = driver.stop().await;
    let want: HashSet<String> = answers
        .iter()
        .filter(|a| a.code == 200)
        .map(|a| a.tag.clone())
        .collect();
    let seen = printed(&mut lines, &want).await;
    let twice: Vec<_> = want.iter().filter(|t| seen[*t] > 1).collect();
    assert!(twice.is_empty(), "printed twice: {twice:?}");
    eprintln!(
        "failover: cluster, agent's node killed: every one of {} events answered 200 printed \
         once, the last {} ms after the kill",
        want.len(),
        ms(killed, Instant::now())
    );
    agent.kill().await;
    Arc::try_unwrap(app).ok().unwrap().stop().await;
}
