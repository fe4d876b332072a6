//! PostgreSQL connections that die or go silent: cut while idle in the pool
//! (the pool no longer pings before every query, so the directory must find
//! a dead one out on use and read again, not answer 503 for a database that
//! is up), or frozen (every operation fails within its deadline, not hangs).

use std::time::Duration;

use herald::directory::config::DirectoryConfig;
use herald::directory::{Directory, DirectoryError};
use herald::model::{Caller, ServerId};

use super::harness::{Harness, entry, new_id, placed};
use crate::proxy::Proxy;
use crate::support::poll_until;

const WITHIN: Duration = Duration::from_secs(10);

#[tokio::test]
async fn postgres_reads_survive_connections_cut_while_idle() {
    Harness::postgres()
        .await
        .run(async |h: &Harness| {
            let (proxy, config, dir, id) = through_proxy(h, |_| {}).await;

            // Fill the pool: with the proxy frozen, every concurrent get (gets
            // are not shared) opens a connection of its own; thawed, all
            // complete and stay idle.
            proxy.freeze();
            let size = config.max_connections as usize;
            let filling = tokio::spawn({
                let dir = dir.clone();
                async move {
                    let gets = (0..size).map(|_| dir.get(id));
                    let results = futures_util::future::join_all(gets).await;
                    results.iter().all(Result::is_ok)
                }
            });
            poll_until("the pool holds all its connections", WITHIN, || {
                std::future::ready(proxy.connections() >= size)
            })
            .await;
            proxy.thaw();
            assert!(filling.await.expect("lookups"), "gets before the cut");

            proxy.cut();
            proxy.restore();
            for round in 0..3 {
                let found = dir
                    .lookup(&[id], &Caller::admin())
                    .await
                    .unwrap_or_else(|e| panic!("lookup {round} after the cut: {e}"));
                assert!(found.contains_key(&id));
                assert!(dir.get(id).await.expect("get after the cut").is_some());
            }
            dir.close().await;
        })
        .await;
}

/// A database that stops answering (connections open, nothing comes back)
/// is an outage: every operation fails within `directory.query_timeout`
/// instead of holding its request, and the directory answers again once
/// the database does.
#[tokio::test]
async fn postgres_that_stops_answering_fails_within_the_query_timeout() {
    Harness::postgres()
        .await
        .run(async |h: &Harness| {
            let (proxy, _, dir, id) = through_proxy(h, |c| {
                c.query_timeout = Duration::from_millis(500);
            })
            .await;

            proxy.freeze();
            for what in ["lookup", "get", "ping"] {
                times_out(&dir, id, what).await;
            }

            proxy.thaw();
            poll_until("the directory answers again", WITHIN, || async {
                dir.lookup(&[id], &Caller::admin())
                    .await
                    .is_ok_and(|found| found.contains_key(&id))
            })
            .await;
            dir.close().await;
        })
        .await;
}

/// A directory on the harness's database through a proxy the test
/// controls, `adjust`ed, holding one server.
async fn through_proxy(
    h: &Harness,
    adjust: impl FnOnce(&mut DirectoryConfig),
) -> (Proxy, DirectoryConfig, Directory, ServerId) {
    let proxy = Proxy::start("127.0.0.1:5432".parse().expect("address")).await;
    let mut config = h.config.clone();
    config.url = config
        .url
        .replace("127.0.0.1:5432", &proxy.addr.to_string());
    assert_ne!(
        config.url, h.config.url,
        "the directory goes through the proxy"
    );
    adjust(&mut config);
    let dir = Directory::open(&config)
        .await
        .expect("open through the proxy");
    let id = new_id();
    dir.put(entry(id, placed(Some("p"), None)))
        .await
        .expect("put");
    (proxy, config, dir, id)
}

/// Runs `what` against a frozen database: it must fail with a timeout (a
/// 503 for the API) well before the test's own deadline.
async fn times_out(dir: &Directory, id: ServerId, what: &str) {
    let outcome = tokio::time::timeout(WITHIN, async {
        match what {
            "lookup" => dir.lookup(&[id], &Caller::admin()).await.map(|_| ()),
            "get" => dir.get(id).await.map(|_| ()),
            _ => dir.ping().await,
        }
    })
    .await
    .unwrap_or_else(|_| panic!("{what} hung past {WITHIN:?}"));
    let error = outcome.expect_err("nothing answers while frozen");
    assert!(
        matches!(error.unshared(), DirectoryError::Timeout(_)),
        "{what}: {error:?}"
    );
    assert!(error.is_unavailable(), "{what}: a 503, not a 500");
}
