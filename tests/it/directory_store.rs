//! The instance directory against real databases: SQLite in a temporary
//! directory and PostgreSQL in a fresh database per test, dropped afterwards.
//!
//! PostgreSQL is expected at `HERALD_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`, used to create and drop the
//! per-test databases); when it is down the tests fail, they do not skip.

mod dead_connections;
pub(crate) mod harness;
mod opening;

use std::collections::HashMap;

use herald::directory::{DirectoryError, Found, NewEntry};
use herald::model::{Caller, ServerId};

use self::harness::{Harness, assert_rfc3339_utc, entry, host, new_id, placed};

/// Declares `$name::sqlite` and `$name::postgres` running the test body `$name`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::Harness::sqlite().await.run(super::$name).await;
            }

            #[tokio::test]
            async fn postgres() {
                super::Harness::postgres().await.run(super::$name).await;
            }
        }
    )*};
}

on_both_backends!(
    schema_is_created_once_and_reopening_keeps_it,
    put_get_and_replace,
    delete_says_whether_it_deleted,
    lookup_answers_a_batch,
    lookup_takes_a_full_size_batch,
    list_orders_filters_and_pages,
    upsert_many_writes_and_replaces,
    upsert_many_is_all_or_nothing,
    corrupt_rows_are_errors,
    replicas_write_the_same_server_concurrently,
);

async fn schema_is_created_once_and_reopening_keeps_it(h: &Harness) {
    h.dir.ping().await.expect("ping");
    assert_eq!(h.count_rows().await, 0);
    h.dir
        .put(entry(new_id(), placed(Some("a"), None)))
        .await
        .expect("put");
    let again = h.reopen().await;
    again.ping().await.expect("ping after reopening");
    assert_eq!(
        again
            .list(None, 10, None)
            .await
            .expect("list")
            .entries
            .len(),
        1
    );
    again.close().await;
}

async fn put_get_and_replace(h: &Harness) {
    let id = new_id();
    assert_eq!(h.dir.get(id).await.expect("get unknown"), None);

    let first = placed(Some("compute-1"), Some(("compute-1", "compute-2")));
    let written = h.dir.put(entry(id, first.clone())).await.expect("put");
    assert_eq!(written.uuid, id);
    assert_eq!(written.host, first.host);
    assert_eq!(written.migration, first.migration);
    assert_rfc3339_utc(&written.updated_at);
    assert_eq!(h.dir.get(id).await.expect("get"), Some(written));

    let replaced = h
        .dir
        .put(entry(id, placed(None, None)))
        .await
        .expect("replace");
    let read = h
        .dir
        .get(id)
        .await
        .expect("get replaced")
        .expect("still there");
    assert_eq!(read, replaced);
    assert_eq!((read.host, read.migration), (None, None));
    assert_eq!(h.count_rows().await, 1);
}

async fn delete_says_whether_it_deleted(h: &Harness) {
    let id = new_id();
    let other = new_id();
    h.dir
        .put(entry(id, placed(Some("a"), None)))
        .await
        .expect("put");
    h.dir
        .put(entry(other, placed(Some("a"), None)))
        .await
        .expect("put other");
    assert!(h.dir.delete(id).await.expect("delete"));
    assert!(!h.dir.delete(id).await.expect("delete again"));
    assert!(!h.dir.delete(new_id()).await.expect("delete unknown"));
    assert_eq!(h.dir.get(id).await.expect("get"), None);
    assert!(h.dir.get(other).await.expect("get other").is_some());
}

async fn lookup_answers_a_batch(h: &Harness) {
    let (plain, migrating, unplaced, unknown) = (new_id(), new_id(), new_id(), new_id());
    let cases = [
        (plain, placed(Some("a"), None)),
        (migrating, placed(Some("a"), Some(("a", "b")))),
        (unplaced, placed(None, None)),
    ];
    for (id, p) in &cases {
        h.dir.put(entry(*id, p.clone())).await.expect("put");
    }
    let found = h
        .dir
        .lookup(
            &[plain, unknown, migrating, unplaced, plain],
            &Caller::admin(),
        )
        .await
        .expect("lookup");
    let expected: HashMap<ServerId, Found> = cases
        .into_iter()
        .map(|(id, p)| (id, Found::Placed(p)))
        .collect();
    assert_eq!(found, expected);
    assert!(
        h.dir
            .lookup(&[], &Caller::admin())
            .await
            .expect("empty lookup")
            .is_empty()
    );
    assert!(
        h.dir
            .lookup(&[unknown], &Caller::admin())
            .await
            .expect("unknown only")
            .is_empty()
    );
}

/// A 114 KB body holds at most about 2000 events.
async fn lookup_takes_a_full_size_batch(h: &Harness) {
    let known: Vec<NewEntry> = (0..50)
        .map(|i| entry(new_id(), placed(Some(&format!("h{i}")), None)))
        .collect();
    h.dir.upsert_many(&known).await.expect("seed");
    let mut ids: Vec<ServerId> = (0..2000).map(|_| new_id()).collect();
    ids.extend(known.iter().map(|e| e.uuid));
    let found = h.dir.lookup(&ids, &Caller::admin()).await.expect("lookup");
    assert_eq!(found.len(), known.len());
    for e in &known {
        assert_eq!(found[&e.uuid], Found::Placed(e.placement.clone()));
    }
}

async fn list_orders_filters_and_pages(h: &Harness) {
    let mut all: Vec<(ServerId, &str)> = (0..9)
        .map(|i| (new_id(), if i % 3 == 0 { "h2" } else { "h1" }))
        .collect();
    for (id, on) in &all {
        h.dir
            .put(entry(*id, placed(Some(on), None)))
            .await
            .expect("put");
    }
    all.sort();
    let ids =
        |page: &herald::directory::Page| page.entries.iter().map(|e| e.uuid).collect::<Vec<_>>();

    let whole = h.dir.list(None, 100, None).await.expect("list all");
    assert_eq!(
        ids(&whole),
        all.iter().map(|(id, _)| *id).collect::<Vec<_>>()
    );
    assert_eq!(
        whole.next_marker, None,
        "a page that is not full has no next marker"
    );

    // 9 entries by 3: three full pages, each with a marker, then an empty one.
    let mut seen = Vec::new();
    let mut marker = None;
    for _ in 0..3 {
        let page = h.dir.list(None, 3, marker).await.expect("page");
        assert_eq!(page.entries.len(), 3);
        assert_eq!(page.next_marker, page.entries.last().map(|e| e.uuid));
        seen.extend(ids(&page));
        marker = page.next_marker;
    }
    let last = h.dir.list(None, 3, marker).await.expect("past the end");
    assert!(last.entries.is_empty() && last.next_marker.is_none());
    assert_eq!(seen, ids(&whole));

    let h1: Vec<ServerId> = all
        .iter()
        .filter(|(_, on)| *on == "h1")
        .map(|(id, _)| *id)
        .collect();
    let by_host = h
        .dir
        .list(Some(&host("h1")), 100, None)
        .await
        .expect("by host");
    assert_eq!(ids(&by_host), h1);
    let first = h
        .dir
        .list(Some(&host("h1")), 4, None)
        .await
        .expect("by host, paged");
    assert_eq!(ids(&first), h1[..4]);
    let rest = h
        .dir
        .list(Some(&host("h1")), 4, first.next_marker)
        .await
        .expect("second page");
    assert_eq!(ids(&rest), h1[4..]);
    assert_eq!(rest.next_marker, None);
    assert!(
        h.dir
            .list(Some(&host("nowhere")), 10, None)
            .await
            .expect("no host")
            .entries
            .is_empty()
    );
}

async fn upsert_many_writes_and_replaces(h: &Harness) {
    let (a, b, c) = (new_id(), new_id(), new_id());
    let first = [
        entry(a, placed(Some("x"), None)),
        entry(b, placed(Some("x"), None)),
    ];
    assert_eq!(h.dir.upsert_many(&first).await.expect("first batch"), 2);
    let second = [
        entry(b, placed(Some("y"), Some(("y", "z")))),
        entry(c, placed(None, None)),
    ];
    assert_eq!(h.dir.upsert_many(&second).await.expect("second batch"), 2);
    assert_eq!(h.dir.upsert_many(&[]).await.expect("empty batch"), 0);

    let found = h
        .dir
        .lookup(&[a, b, c], &Caller::admin())
        .await
        .expect("lookup");
    assert_eq!(found[&a], Found::Placed(placed(Some("x"), None)));
    assert_eq!(
        found[&b],
        Found::Placed(placed(Some("y"), Some(("y", "z"))))
    );
    assert_eq!(found[&c], Found::Placed(placed(None, None)));
    let entry_b = h.dir.get(b).await.expect("get").expect("b exists");
    assert_rfc3339_utc(&entry_b.updated_at);
}

async fn upsert_many_is_all_or_nothing(h: &Harness) {
    h.dir.ping().await.expect("schema");
    let (kept, new_before, refused, new_after) = (new_id(), new_id(), new_id(), new_id());
    let original = h
        .dir
        .put(entry(kept, placed(Some("old"), None)))
        .await
        .expect("put");
    h.refuse_inserts_of(refused).await;

    let batch = [
        entry(new_before, placed(Some("n"), None)),
        entry(kept, placed(Some("changed"), None)),
        entry(refused, placed(Some("n"), None)),
        entry(new_after, placed(Some("n"), None)),
    ];
    let err = h
        .dir
        .upsert_many(&batch)
        .await
        .expect_err("the trigger refuses one row");
    assert!(matches!(err, DirectoryError::Query(_)), "{err:?}");

    assert_eq!(h.count_rows().await, 1, "nothing of the batch was written");
    assert_eq!(h.dir.get(kept).await.expect("get"), Some(original));
    assert!(
        h.dir
            .lookup(&[new_before, refused, new_after], &Caller::admin())
            .await
            .expect("lookup")
            .is_empty()
    );
}

async fn corrupt_rows_are_errors(h: &Harness) {
    h.dir.ping().await.expect("schema");
    let id = new_id();
    h.exec(format!(
        "INSERT INTO servers (uuid, host, source_compute, dest_compute, updated_at)
         VALUES ('{id}', 'bad host', NULL, NULL, 0)"
    ))
    .await;
    let corrupt = |r: Result<_, DirectoryError>| {
        matches!(
            r.as_ref().map_err(DirectoryError::unshared),
            Err(DirectoryError::Corrupt { .. })
        )
    };
    assert!(corrupt(h.dir.get(id).await.map(|_| ())));
    assert!(corrupt(
        h.dir.lookup(&[id], &Caller::admin()).await.map(|_| ())
    ));
    // Lookups running together may share a query: the corrupt row fails
    // only the one that asked for it.
    let fine = new_id();
    h.dir
        .put(entry(fine, placed(Some("ok"), None)))
        .await
        .expect("put");
    let (both, one) = ([id, fine], [fine]);
    let admin = Caller::admin();
    let (asked, other) = tokio::join!(h.dir.lookup(&both, &admin), h.dir.lookup(&one, &admin));
    assert!(corrupt(asked.map(|_| ())));
    assert!(other.expect("the other lookup").contains_key(&fine));
    assert!(corrupt(h.dir.list(None, 10, None).await.map(|_| ())));
    assert!(
        h.dir
            .delete(id)
            .await
            .expect("a corrupt row can still be deleted")
    );
}

/// Two replicas starting together (schema creation races) and writing the
/// same server at once: every write succeeds, one of them wins.
async fn replicas_write_the_same_server_concurrently(h: &Harness) {
    let other = h.reopen().await;
    let (a, b) = tokio::join!(h.dir.ping(), other.ping());
    a.and(b).expect("both replicas ready");
    let id = new_id();
    let writes = (0..20).map(|i| {
        let dir = if i % 2 == 0 { &h.dir } else { &other };
        dir.put(entry(id, placed(Some(&format!("h{i}")), None)))
    });
    for result in futures_util::future::join_all(writes).await {
        result.expect("concurrent put");
    }
    assert_eq!(h.count_rows().await, 1);
    other.close().await;
}
