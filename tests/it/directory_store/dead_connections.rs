//! PostgreSQL connections cut while they sit idle in the pool: the pool no
//! longer pings before every query, so the directory must find a dead one
//! out on use and read again, not answer 503 for a database that is up.

use std::time::Duration;

use herald::directory::Directory;

use super::harness::{Harness, entry, new_id, placed};
use crate::proxy::Proxy;
use crate::support::poll_until;

const WITHIN: Duration = Duration::from_secs(10);

#[tokio::test]
async fn postgres_reads_survive_connections_cut_while_idle() {
    Harness::postgres()
        .await
        .run(async |h: &Harness| {
            let proxy = Proxy::start("127.0.0.1:5432".parse().expect("address")).await;
            let mut config = h.config.clone();
            config.url = config
                .url
                .replace("127.0.0.1:5432", &proxy.addr.to_string());
            assert_ne!(
                config.url, h.config.url,
                "the directory goes through the proxy"
            );
            let dir = Directory::open(&config)
                .await
                .expect("open through the proxy");
            let id = new_id();
            dir.put(entry(id, placed(Some("p"), None)))
                .await
                .expect("put");

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
                    .lookup(&[id])
                    .await
                    .unwrap_or_else(|e| panic!("lookup {round} after the cut: {e}"));
                assert!(found.contains_key(&id));
                assert!(dir.get(id).await.expect("get after the cut").is_some());
            }
            dir.close().await;
        })
        .await;
}
