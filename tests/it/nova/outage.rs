//! Nova's API database not answering is the whole request's 503 and
//! `/readyz`'s 503, on either database's URL form (no cloud needed: the
//! port is closed).

use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::json;

use herald::directory::config::DirectoryBackend;

use crate::support::{TestApp, new_uuid};

#[tokio::test]
async fn an_api_database_that_does_not_answer_is_a_whole_request_503() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    for url in [
        format!("mysql+pymysql://nova:pw@127.0.0.1:{port}/nova_api?charset=utf8"),
        format!("postgresql+psycopg2://nova:pw@127.0.0.1:{port}/nova_api"),
    ] {
        let app = TestApp::spawn_with(|c| {
            c.directory.backend = DirectoryBackend::Nova;
            c.directory.url = url.clone();
            c.directory.acquire_timeout = Duration::from_millis(300);
        })
        .await;
        let events = json!({"events": [{"name": "network-changed", "server_uuid": new_uuid()}]});
        let reply = app.post_events(&events, &[]).await;
        assert_eq!(
            reply.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{url}: {reply:?}"
        );
        assert_eq!(reply.body["serviceUnavailable"]["code"], 503);
        let ready = app.request(Method::GET, "/readyz", None, &[]).await;
        assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE, "{url}");
        app.stop().await;
    }
}
