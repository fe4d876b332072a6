//! The admin routes of the instance directory over HTTP, on a real serve
//! and SQLite file: create/replace, read, delete, pages, bulk upsert, and
//! the 400s that name what is wrong.

use http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::TestApp;

fn uuid(n: u32) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// The directory route of server `n`.
fn at(n: u32) -> String {
    format!("/directory/servers/{}", uuid(n))
}

#[tokio::test]
async fn a_server_is_stored_in_canonical_form_replaced_read_and_deleted() {
    let app = TestApp::spawn().await;
    let sent = "{00000000000040008000000000000001}";
    let put = app
        .request(
            Method::PUT,
            &format!("/directory/servers/{sent}"),
            Some(&json!({"host": "c1"})),
            &[],
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{:?}", put.body);
    let entry = &put.body["server"];
    assert_eq!(entry["uuid"], uuid(1), "stored and shown in canonical form");
    assert_eq!(entry["host"], "c1");
    assert_eq!(entry["migration"], Value::Null);
    assert!(entry["updated_at"].as_str().unwrap().ends_with('Z'));

    let moved = json!({"host": "c1", "migration": {"source_compute": "c1", "dest_compute": "c2"}});
    let put = app.request(Method::PUT, &at(1), Some(&moved), &[]).await;
    assert_eq!(
        put.body["server"]["migration"]["dest_compute"], "c2",
        "replaced"
    );
    let got = app.get(&at(1)).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["server"], put.body["server"]);

    let deleted = app.request(Method::DELETE, &at(1), None, &[]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    for method in [Method::GET, Method::DELETE] {
        let gone = app.request(method, &at(1), None, &[]).await;
        assert_eq!(gone.status, StatusCode::NOT_FOUND);
        assert_eq!(gone.body["itemNotFound"]["code"], 404);
    }
    app.stop().await;
}

#[tokio::test]
async fn bad_requests_name_the_problem() {
    let app = TestApp::spawn().await;
    let path = at(2);
    let cases = [
        (json!({}), "host"),
        (json!({"host": "c1", "colour": "red"}), "colour"),
        (
            json!({"host": "c1", "migration": {"source_compute": "a", "dest_compute": "b", "x": 1}}),
            "migration.x",
        ),
        (
            json!({"host": null, "migration": {"source_compute": "a"}}),
            "dest_compute",
        ),
        (json!({"host": 7}), "host"),
    ];
    for (body, needle) in cases {
        let reply = app.request(Method::PUT, &path, Some(&body), &[]).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        let message = reply.body["badRequest"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{needle} not in {message}");
    }
    let bad_path = app.get("/directory/servers/not-a-uuid").await;
    assert_eq!(bad_path.status, StatusCode::BAD_REQUEST);
    for query in ["limit=0", "limit=ten", "marker=nope"] {
        let reply = app.get(&format!("/directory/servers?{query}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query}");
    }
    let patch = app
        .request(Method::PATCH, &path, Some(&json!({"host": "c"})), &[])
        .await;
    assert_eq!(patch.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(patch.headers["allow"], "GET, PUT, DELETE");
    app.stop().await;
}

#[tokio::test]
async fn bulk_upsert_is_all_or_nothing_and_pages_follow_uuid_order() {
    let app = TestApp::spawn().await;
    let servers: Vec<Value> = (1..=7)
        .map(|n| json!({"uuid": uuid(n), "host": if n % 2 == 0 { "even" } else { "odd" }}))
        .collect();
    let bulk = app
        .request(
            Method::POST,
            "/directory/servers",
            Some(&json!({"servers": servers})),
            &[],
        )
        .await;
    assert_eq!(bulk.status, StatusCode::OK, "{:?}", bulk.body);
    assert_eq!(bulk.body["upserted"], 7);

    // All or nothing: one bad entry writes none of the batch.
    let mixed =
        json!({"servers": [{"uuid": uuid(8), "host": "odd"}, {"uuid": "bad", "host": "odd"}]});
    let refused = app
        .request(Method::POST, "/directory/servers", Some(&mixed), &[])
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused.body["badRequest"]["message"]
            .as_str()
            .unwrap()
            .contains("servers[1].uuid")
    );
    let absent = app.get(&at(8)).await;
    assert_eq!(absent.status, StatusCode::NOT_FOUND);

    // Pages of 3 in uuid order; next_marker only when the page is full.
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let query = match &marker {
            Some(m) => format!("/directory/servers?limit=3&marker={m}"),
            None => "/directory/servers?limit=3".to_owned(),
        };
        let page = app.get(&query).await;
        assert_eq!(page.status, StatusCode::OK);
        let entries = page.body["servers"].as_array().unwrap().clone();
        seen.extend(
            entries
                .iter()
                .map(|e| e["uuid"].as_str().unwrap().to_owned()),
        );
        match page.body["next_marker"].as_str() {
            Some(next) => {
                assert_eq!(entries.len(), 3);
                assert_eq!(entries.last().unwrap()["uuid"], next);
                marker = Some(next.to_owned());
            }
            None => {
                assert!(entries.len() < 3);
                break;
            }
        }
    }
    assert_eq!(seen, (1..=7).map(uuid).collect::<Vec<_>>());

    let even = app.get("/directory/servers?host=even").await;
    let hosts: Vec<_> = even.body["servers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["host"].clone())
        .collect();
    assert_eq!(hosts, vec![json!("even"); 3]);
    assert_eq!(even.body["next_marker"], Value::Null);
    let clamped = app.get("/directory/servers?limit=5000").await;
    assert_eq!(
        clamped.status,
        StatusCode::OK,
        "a limit above 1000 is taken as 1000"
    );
    app.stop().await;
}

#[tokio::test]
async fn parallel_bulk_writes_take_turns_and_1001_entries_are_refused() {
    let app = TestApp::spawn().await;
    let batch = |offset: u32| {
        let servers: Vec<Value> = (0..1000)
            .map(|n| json!({"uuid": uuid(offset * 1000 + n + 1), "host": "compute-000001"}))
            .collect();
        json!({ "servers": servers })
    };
    let bodies: Vec<Value> = (0..6).map(batch).collect();
    let replies = futures_util::future::join_all(
        bodies
            .iter()
            .map(|b| app.request(Method::POST, "/directory/servers", Some(b), &[])),
    )
    .await;
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
        assert_eq!(reply.body["upserted"], 1000);
    }
    // 6,000 entries: a limit past u32 is still "above 1000", so a full page.
    let page = app.get("/directory/servers?limit=4294967296").await;
    assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
    assert_eq!(page.body["servers"].as_array().unwrap().len(), 1000);
    assert!(
        page.body["next_marker"].is_string(),
        "{:?}",
        page.body["next_marker"]
    );
    let mut too_many = batch(7);
    too_many["servers"]
        .as_array_mut()
        .unwrap()
        .push(json!({"uuid": uuid(99_999), "host": "a"}));
    let reply = app
        .request(Method::POST, "/directory/servers", Some(&too_many), &[])
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{:?}", reply.body);
    let message = reply.body["badRequest"]["message"].as_str().unwrap();
    assert!(message.contains("servers"), "{message}");
    app.stop().await;
}
