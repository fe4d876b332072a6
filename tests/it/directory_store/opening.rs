//! Opening a directory: what each backend creates or refuses before any
//! query (a SQLite file in WAL mode, one in-memory database per pool, an
//! unreachable PostgreSQL that fails fast, bad URLs and paths).

use std::time::Duration;

use herald::directory::config::DirectoryBackend;
use herald::directory::{Directory, DirectoryError};
use herald::model::{Caller, ServerId};

use super::harness::{Harness, Raw, config, entry, host, new_id, placed};

#[tokio::test]
async fn sqlite_file_is_created_with_its_parent_in_wal_mode() {
    Harness::sqlite()
        .await
        .run(async |h: &Harness| {
            assert!(std::path::Path::new(&h.config.url).is_file());
            let Raw::Sqlite(pool) = &h.raw else {
                unreachable!("a SQLite harness")
            };
            let (mode,): (String,) = sqlx::query_as("PRAGMA journal_mode")
                .fetch_one(pool)
                .await
                .expect("pragma");
            assert_eq!(mode, "wal");
        })
        .await;
}

#[tokio::test]
async fn sqlite_memory_is_one_database_for_the_whole_pool() {
    let dir = Directory::open_in_memory().await.expect("open :memory:");
    let ids: Vec<ServerId> = (0..10).map(|_| new_id()).collect();
    // Concurrent operations: with a pool of separate in-memory databases some
    // would miss the table or each other's rows.
    let puts = ids
        .iter()
        .map(|id| dir.put(entry(*id, placed(Some("m"), None))));
    for result in futures_util::future::join_all(puts).await {
        result.expect("put");
    }
    let batch = [entry(new_id(), placed(None, None))];
    assert_eq!(dir.upsert_many(&batch).await.expect("upsert_many"), 1);
    assert_eq!(
        dir.lookup(&ids, &Caller::admin())
            .await
            .expect("lookup")
            .len(),
        10
    );
    assert_eq!(
        dir.list(None, 100, None).await.expect("list").entries.len(),
        11
    );
    assert!(dir.delete(ids[0]).await.expect("delete"));
    assert_eq!(
        dir.list(Some(&host("m")), 100, None)
            .await
            .expect("list")
            .entries
            .len(),
        9
    );
    dir.ping().await.expect("ping");

    let other = Directory::open_in_memory()
        .await
        .expect("a second :memory:");
    assert!(
        other
            .list(None, 10, None)
            .await
            .expect("list")
            .entries
            .is_empty(),
        "each open is private"
    );
}

#[tokio::test]
async fn unreachable_postgres_fails_fast() {
    let mut config = config(
        DirectoryBackend::Postgres,
        "postgres://postgres@127.0.0.1:1/x",
    );
    config.acquire_timeout = Duration::from_secs(1);
    let dir = Directory::open(&config)
        .await
        .expect("open does not connect");
    let outcome = tokio::time::timeout(
        Duration::from_secs(10),
        dir.lookup(&[new_id()], &Caller::admin()),
    )
    .await
    .expect("lookup must not hang");
    let err = outcome.expect_err("nothing listens on port 1");
    assert!(err.is_unavailable(), "{err:?}");
    let err = dir.ping().await.expect_err("ping fails too");
    assert!(err.is_unavailable(), "{err:?}");
}

#[tokio::test]
async fn bad_urls_and_paths_fail_to_open() {
    let bad_url = config(DirectoryBackend::Postgres, "mysql://nope");
    assert!(matches!(
        Directory::open(&bad_url).await,
        Err(DirectoryError::BadUrl(_))
    ));

    let tmp = tempfile::tempdir().expect("temporary directory");
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"").expect("write a plain file");
    let under_file = file.join("herald.sqlite3");
    let unusable = config(
        DirectoryBackend::Sqlite,
        under_file.to_str().expect("utf-8 temp path"),
    );
    assert!(matches!(
        Directory::open(&unusable).await,
        Err(DirectoryError::CreateDir { .. })
    ));
}
