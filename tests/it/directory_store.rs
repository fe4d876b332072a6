//! The instance directory against real databases: SQLite in a temporary
//! directory and PostgreSQL in a fresh database per test, dropped afterwards.
//!
//! PostgreSQL is expected at `HERALD_TEST_PG_URL` (default
//! `postgres://postgres@127.0.0.1:5432/postgres`, used to create and drop the
//! per-test databases); when it is down the tests fail, they do not skip.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::str::FromStr;
use std::time::{Duration, Instant};

use futures_util::FutureExt;
use herald::config::{DirectoryBackend, DirectoryConfig};
use herald::directory::{Directory, DirectoryError, NewEntry};
use herald::model::{HostName, Migration, Placement, ServerId};
use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use tempfile::TempDir;
use uuid::Uuid;

const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A directory under test plus a raw connection to the same database, for
/// what the directory must not do itself (triggers, corrupt rows).
struct Harness {
    dir: Directory,
    config: DirectoryConfig,
    raw: Raw,
    cleanup: Cleanup,
}

enum Raw {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

enum Cleanup {
    TempDir(TempDir),
    Database { maintenance: PgPool, name: String },
}

impl Harness {
    async fn sqlite() -> Self {
        let tmp = tempfile::tempdir().expect("temporary directory");
        // A parent that does not exist yet: open must create it.
        let path = tmp.path().join("var").join("herald.sqlite3");
        let config = config(
            DirectoryBackend::Sqlite,
            path.to_str().expect("utf-8 temp path"),
        );
        let dir = Directory::open(&config)
            .await
            .expect("open sqlite directory");
        let raw = SqlitePool::connect_with(SqliteConnectOptions::new().filename(&path))
            .await
            .expect("raw sqlite connection");
        Self {
            dir,
            config,
            raw: Raw::Sqlite(raw),
            cleanup: Cleanup::TempDir(tmp),
        }
    }

    async fn postgres() -> Self {
        let maintenance = maintenance_pool().await;
        let name = format!("herald_test_{}", Uuid::new_v4().simple());
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&maintenance)
            .await
            .expect("create the test database");
        let options = pg_options().database(&name);
        let url = format!(
            "{}/{name}",
            pg_url().rsplit_once('/').expect("a URL with a database").0
        );
        let config = config(DirectoryBackend::Postgres, &url);
        let dir = Directory::open(&config)
            .await
            .expect("open postgres directory");
        let raw = PgPool::connect_with(options)
            .await
            .expect("raw postgres connection");
        Self {
            dir,
            config,
            raw: Raw::Postgres(raw),
            cleanup: Cleanup::Database { maintenance, name },
        }
    }

    /// Runs `test`, then cleans up whether or not it panicked.
    async fn run(self, test: impl AsyncFnOnce(&Harness)) {
        let outcome = AssertUnwindSafe(test(&self)).catch_unwind().await;
        self.finish().await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }

    async fn finish(self) {
        self.dir.close().await;
        match self.raw {
            Raw::Sqlite(pool) => pool.close().await,
            Raw::Postgres(pool) => pool.close().await,
        }
        match self.cleanup {
            Cleanup::TempDir(tmp) => tmp.close().expect("remove the temporary directory"),
            Cleanup::Database { maintenance, name } => {
                sqlx::query(AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .execute(&maintenance)
                .await
                .expect("drop the test database");
                maintenance.close().await;
            }
        }
    }

    /// Another directory on the same database, as a second replica would open it.
    async fn reopen(&self) -> Directory {
        Directory::open(&self.config)
            .await
            .expect("reopen the directory")
    }

    async fn exec(&self, sql: String) {
        let done = match &self.raw {
            Raw::Sqlite(pool) => sqlx::query(AssertSqlSafe(sql))
                .execute(pool)
                .await
                .map(|_| ()),
            Raw::Postgres(pool) => sqlx::query(AssertSqlSafe(sql))
                .execute(pool)
                .await
                .map(|_| ()),
        };
        done.expect("raw statement");
    }

    async fn count_rows(&self) -> i64 {
        let sql = "SELECT COUNT(*) FROM servers";
        let found = match &self.raw {
            Raw::Sqlite(pool) => sqlx::query_as::<_, (i64,)>(sql).fetch_one(pool).await,
            Raw::Postgres(pool) => sqlx::query_as::<_, (i64,)>(sql).fetch_one(pool).await,
        };
        found.expect("count rows").0
    }

    /// Makes any insert of `id` fail inside the database.
    async fn refuse_inserts_of(&self, id: ServerId) {
        match self.raw {
            Raw::Sqlite(_) => {
                self.exec(format!(
                    "CREATE TRIGGER refuse BEFORE INSERT ON servers WHEN NEW.uuid = '{id}'
                     BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                ))
                .await
            }
            Raw::Postgres(_) => {
                self.exec(format!(
                    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
                     BEGIN IF NEW.uuid = '{id}' THEN RAISE EXCEPTION 'refused by the test'; END IF;
                     RETURN NEW; END $$"
                ))
                .await;
                self.exec(
                    "CREATE TRIGGER refuse BEFORE INSERT ON servers FOR EACH ROW EXECUTE FUNCTION refuse()"
                        .into(),
                )
                .await
            }
        }
    }
}

fn pg_url() -> String {
    std::env::var("HERALD_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_PG_URL.to_owned())
}

fn pg_options() -> PgConnectOptions {
    PgConnectOptions::from_str(&pg_url()).expect("HERALD_TEST_PG_URL is a postgres:// URL")
}

async fn maintenance_pool() -> PgPool {
    let url = pg_url();
    PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(pg_options())
        .await
        .unwrap_or_else(|e| {
            panic!(
                "PostgreSQL is not reachable at {url} ({e}); start it with \
                 `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` \
                 or set HERALD_TEST_PG_URL"
            )
        })
}

fn config(backend: DirectoryBackend, url: &str) -> DirectoryConfig {
    DirectoryConfig {
        backend,
        url: url.to_owned(),
        max_connections: 4,
        acquire_timeout: Duration::from_secs(5),
    }
}

fn new_id() -> ServerId {
    ServerId::from_uuid(Uuid::new_v4())
}

fn host(name: &str) -> HostName {
    HostName::parse(name).expect("valid host name")
}

fn placed(on: Option<&str>, migration: Option<(&str, &str)>) -> Placement {
    Placement {
        host: on.map(host),
        migration: migration.map(|(s, d)| Migration {
            source_compute: host(s),
            dest_compute: host(d),
        }),
    }
}

fn entry(uuid: ServerId, placement: Placement) -> NewEntry {
    NewEntry { uuid, placement }
}

/// `2026-11-27T10:00:00.123Z`
fn assert_rfc3339_utc(text: &str) {
    let shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    let fits = text.len() == shape.len()
        && text
            .chars()
            .zip(shape.chars())
            .all(|(c, s)| if s == 'd' { c.is_ascii_digit() } else { c == s });
    assert!(fits, "{text} is not RFC 3339 UTC with milliseconds");
}

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
        .lookup(&[plain, unknown, migrating, unplaced, plain])
        .await
        .expect("lookup");
    let expected: HashMap<ServerId, Placement> = cases.into_iter().collect();
    assert_eq!(found, expected);
    assert!(h.dir.lookup(&[]).await.expect("empty lookup").is_empty());
    assert!(
        h.dir
            .lookup(&[unknown])
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
    let found = h.dir.lookup(&ids).await.expect("lookup");
    assert_eq!(found.len(), known.len());
    for e in &known {
        assert_eq!(found[&e.uuid], e.placement);
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

    let found = h.dir.lookup(&[a, b, c]).await.expect("lookup");
    assert_eq!(found[&a], placed(Some("x"), None));
    assert_eq!(found[&b], placed(Some("y"), Some(("y", "z"))));
    assert_eq!(found[&c], placed(None, None));
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
            .lookup(&[new_before, refused, new_after])
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
    let corrupt = |r: Result<_, DirectoryError>| matches!(r, Err(DirectoryError::Corrupt { .. }));
    assert!(corrupt(h.dir.get(id).await.map(|_| ())));
    assert!(corrupt(h.dir.lookup(&[id]).await.map(|_| ())));
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
    assert_eq!(dir.lookup(&ids).await.expect("lookup").len(), 10);
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
    let started = Instant::now();
    let outcome = tokio::time::timeout(Duration::from_secs(10), dir.lookup(&[new_id()]))
        .await
        .expect("lookup must not hang");
    let err = outcome.expect_err("nothing listens on port 1");
    assert!(err.is_unavailable(), "{err:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "took {:?}",
        started.elapsed()
    );
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
