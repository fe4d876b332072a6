//! Several `serve` replicas sharing one PostgreSQL directory: what one
//! replica writes, another uses for routing, at once.

use http::{Method, StatusCode};
use serde_json::json;

use crate::directory_store::harness::Harness;
use crate::support::{TestApp, drain};

#[tokio::test]
async fn what_one_replica_writes_in_postgres_the_other_routes_by_at_once() {
    Harness::postgres()
        .await
        .run(async |h| {
            let directory = h.config.clone();
            let mut a = TestApp::spawn_with(|c| c.directory = directory.clone()).await;
            let amqp = a.config.amqp.clone();
            let b = TestApp::spawn_with(|c| {
                c.directory = directory.clone();
                c.amqp = amqp;
            })
            .await;
            a.wait_ready().await;
            b.wait_ready().await;

            let (server, queue) = a.place_on("shared-host").await;
            let event = json!({"events": [{"name": "network-vif-plugged", "server_uuid": server, "tag": "p"}]});
            let reply = b.post_events(&event, &[]).await;
            assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
            assert_eq!(drain(&queue, 1).await.len(), 1);

            let deleted = b.request(Method::DELETE, &format!("/directory/servers/{server}"), None, &[]).await;
            assert_eq!(deleted.status, StatusCode::NO_CONTENT);
            let reply = a.post_events(&event, &[]).await;
            assert_eq!(reply.status, StatusCode::MULTI_STATUS);
            assert_eq!(reply.body["events"][0]["code"], 404);
            b.stop().await;
            a.stop().await;
        })
        .await;
}
