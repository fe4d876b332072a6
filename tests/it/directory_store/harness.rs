//! The test harness: a directory on a fresh database plus a raw connection
//! to it, and small fixtures. SQLite lives in a temporary directory;
//! PostgreSQL gets a database of its own, dropped afterwards even when the
//! test panics.

use std::panic::AssertUnwindSafe;
use std::str::FromStr;
use std::time::Duration;

use futures_util::FutureExt;
use herald::directory::config::{DirectoryBackend, DirectoryConfig};
use herald::directory::{Directory, NewEntry};
use herald::model::{HostName, Migration, Placement, ServerId};
use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};
use tempfile::TempDir;
use uuid::Uuid;

const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A directory under test plus a raw connection to the same database, for
/// what the directory must not do itself (triggers, corrupt rows).
pub struct Harness {
    pub dir: Directory,
    pub config: DirectoryConfig,
    pub raw: Raw,
    cleanup: Cleanup,
}

pub enum Raw {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

enum Cleanup {
    TempDir(TempDir),
    Database { maintenance: PgPool, name: String },
}

impl Harness {
    pub async fn sqlite() -> Self {
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

    pub async fn postgres() -> Self {
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
    pub async fn run(self, test: impl AsyncFnOnce(&Harness)) {
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
    pub async fn reopen(&self) -> Directory {
        Directory::open(&self.config)
            .await
            .expect("reopen the directory")
    }

    pub async fn exec(&self, sql: String) {
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

    pub async fn count_rows(&self) -> i64 {
        let sql = "SELECT COUNT(*) FROM servers";
        let found = match &self.raw {
            Raw::Sqlite(pool) => sqlx::query_as::<_, (i64,)>(sql).fetch_one(pool).await,
            Raw::Postgres(pool) => sqlx::query_as::<_, (i64,)>(sql).fetch_one(pool).await,
        };
        found.expect("count rows").0
    }

    /// Makes any insert of `id` fail inside the database.
    pub async fn refuse_inserts_of(&self, id: ServerId) {
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

pub fn config(backend: DirectoryBackend, url: &str) -> DirectoryConfig {
    DirectoryConfig {
        backend,
        url: url.to_owned(),
        max_connections: 4,
        acquire_timeout: Duration::from_secs(5),
        query_timeout: Duration::from_secs(10),
        nova_database_url: String::new(),
    }
}

pub fn new_id() -> ServerId {
    ServerId::from_uuid(Uuid::new_v4())
}

pub fn host(name: &str) -> HostName {
    HostName::parse(name).expect("valid host name")
}

pub fn placed(on: Option<&str>, migration: Option<(&str, &str)>) -> Placement {
    Placement {
        host: on.map(host),
        migration: migration.map(|(s, d)| Migration {
            source_compute: host(s),
            dest_compute: host(d),
        }),
    }
}

pub fn entry(uuid: ServerId, placement: Placement) -> NewEntry {
    NewEntry { uuid, placement }
}

/// `2026-11-27T10:00:00.123Z`
pub fn assert_rfc3339_utc(text: &str) {
    let shape = "dddd-dd-ddTdd:dd:dd.dddZ";
    let fits = text.len() == shape.len()
        && text
            .chars()
            .zip(shape.chars())
            .all(|(c, s)| if s == 'd' { c.is_ascii_digit() } else { c == s });
    assert!(fits, "{text} is not RFC 3339 UTC with milliseconds");
}
