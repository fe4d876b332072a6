//! The SQLite backend: an embedded file (WAL, busy timeout) or one shared
//! `:memory:` database. The schema is created when the pool opens; writes
//! take turns behind one lock.

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use tokio::sync::Mutex;

use super::config::DirectoryConfig;
use super::error::{DirectoryError, classify};
use super::row::{Columns, RawRow};
use super::shared_lookup::QUERIES_AT_ONCE;
use super::sqlite_readers::Readers;
use super::{schema, sql};

/// How long a writer waits for another connection's lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, Clone)]
pub(crate) struct SqliteStore {
    pool: SqlitePool,
    /// Writes take turns: SQLite has one writer, and a transaction that
    /// upgrades from read to write fails at once ("database is locked")
    /// instead of waiting out the busy timeout.
    writer: Arc<Mutex<()>>,
    /// The lookups' own connections (a file database; `:memory:` has one
    /// connection, the pool's, and looks up through it).
    readers: Option<Arc<Readers>>,
}

impl SqliteStore {
    /// Opens (creating the file, its parent directory and the schema).
    pub async fn open(config: &DirectoryConfig) -> Result<Self, DirectoryError> {
        let url = config.url.trim();
        let memory = matches!(url, ":memory:" | "sqlite::memory:");
        let (pool, readers) = if memory {
            (memory_pool(config).await?, None)
        } else {
            let options = file_options(Path::new(url))?;
            let readers = Readers::new(options.clone(), QUERIES_AT_ONCE);
            (file_pool(config, options).await?, Some(Arc::new(readers)))
        };
        let store = Self {
            pool,
            writer: Arc::new(Mutex::new(())),
            readers,
        };
        store.create_schema().await?;
        Ok(store)
    }

    async fn create_schema(&self) -> Result<(), DirectoryError> {
        for statement in schema::SQLITE {
            sqlx::query(*statement)
                .execute(&self.pool)
                .await
                .map_err(classify)?;
        }
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), DirectoryError> {
        sqlx::query(sql::PING)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// Rows of `uuids` (distinct), in one query with one of two fixed
    /// statements: a single id (the usual lookup of an idle directory) by
    /// its key, several as one JSON array.
    pub async fn lookup(&self, uuids: &[String]) -> Result<Vec<RawRow>, DirectoryError> {
        let Some(readers) = &self.readers else {
            return rows_of(&self.pool, uuids).await.map_err(classify);
        };
        let mut reader = readers.take().await.map_err(classify)?;
        let rows = rows_of(&mut reader.connection, uuids).await;
        if rows.is_ok() {
            reader.keep();
        }
        rows.map_err(classify)
    }

    pub async fn get(&self, uuid: String) -> Result<Option<RawRow>, DirectoryError> {
        let query = sqlx::query_as::<_, RawRow>(sql::GET).bind(uuid);
        query.fetch_optional(&self.pool).await.map_err(classify)
    }

    pub async fn put(&self, row: Columns) -> Result<(), DirectoryError> {
        let _turn = self.writer.lock().await;
        upsert(row).execute(&self.pool).await.map_err(classify)?;
        Ok(())
    }

    pub async fn delete(&self, uuid: String) -> Result<bool, DirectoryError> {
        let _turn = self.writer.lock().await;
        let done = sqlx::query(sql::DELETE)
            .bind(uuid)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn list(
        &self,
        host: Option<String>,
        marker: Option<String>,
        limit: i64,
    ) -> Result<Vec<RawRow>, DirectoryError> {
        let mut query = sqlx::query_as::<_, RawRow>(sql::list(host.is_some(), marker.is_some()));
        for value in [host, marker].into_iter().flatten() {
            query = query.bind(value);
        }
        query
            .bind(limit)
            .fetch_all(&self.pool)
            .await
            .map_err(classify)
    }

    /// Writes every row in one transaction; dropping it on error rolls back.
    pub async fn upsert_many(&self, rows: Vec<Columns>) -> Result<u64, DirectoryError> {
        let _turn = self.writer.lock().await;
        let mut tx = self.pool.begin().await.map_err(classify)?;
        let mut written = 0;
        for row in rows {
            written += upsert(row)
                .execute(&mut *tx)
                .await
                .map_err(classify)?
                .rows_affected();
        }
        tx.commit().await.map_err(classify)?;
        Ok(written)
    }

    pub async fn close(&self) {
        if let Some(readers) = &self.readers {
            readers.close().await;
        }
        self.pool.close().await;
    }
}

/// The rows of `uuids` through `executor`. Boxed where made: sqlx's query
/// futures are large, and would otherwise be moved through every caller's
/// state.
async fn rows_of<'e, E>(executor: E, uuids: &'e [String]) -> Result<Vec<RawRow>, sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    match uuids {
        [one] => {
            let query = sqlx::query_as::<_, RawRow>(sql::GET).bind(one.as_str());
            let row = Box::pin(query.fetch_optional(executor)).await;
            row.map(|row| row.into_iter().collect())
        }
        _ => {
            let query = sqlx::query_as::<_, RawRow>(sql::LOOKUP_JSON).bind(json_array(uuids));
            Box::pin(query.fetch_all(executor)).await
        }
    }
}

/// `uuids` as a JSON array of strings. Canonical uuids need no escaping;
/// anything else is escaped by serde_json.
fn json_array(uuids: &[String]) -> String {
    let mut text = String::with_capacity(2 + uuids.len() * 39);
    text.push('[');
    for (i, uuid) in uuids.iter().enumerate() {
        if i > 0 {
            text.push(',');
        }
        if uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            text.push('"');
            text.push_str(uuid);
            text.push('"');
        } else {
            text.push_str(&serde_json::Value::from(uuid.as_str()).to_string());
        }
    }
    text.push(']');
    text
}

fn upsert(
    row: Columns,
) -> sqlx::query::Query<'static, sqlx::Sqlite, sqlx::sqlite::SqliteArguments> {
    sqlx::query(sql::UPSERT)
        .bind(row.uuid)
        .bind(row.host)
        .bind(row.source_compute)
        .bind(row.dest_compute)
        .bind(row.updated_at)
}

/// One connection, never closed: each SQLite connection to `:memory:` would
/// otherwise be its own database, and the last one closing erases it. It is
/// not pinged on acquire (it cannot drop).
async fn memory_pool(config: &DirectoryConfig) -> Result<SqlitePool, DirectoryError> {
    let options =
        SqliteConnectOptions::from_str("sqlite::memory:").map_err(DirectoryError::BadUrl)?;
    SqlitePoolOptions::new()
        .test_before_acquire(false)
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(config.acquire_timeout)
        .connect_with(options)
        .await
        .map_err(classify)
}

/// A file database's connection options (its parent directory created).
fn file_options(path: &Path) -> Result<SqliteConnectOptions, DirectoryError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| DirectoryError::CreateDir {
            path: parent.display().to_string(),
            source,
        })?;
    }
    Ok(SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // NORMAL is durable across application crashes in WAL mode.
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(BUSY_TIMEOUT))
}

async fn file_pool(
    config: &DirectoryConfig,
    options: SqliteConnectOptions,
) -> Result<SqlitePool, DirectoryError> {
    // A connection to a local file does not drop: pinging it on every
    // acquire would cost each lookup a round trip to its thread.
    SqlitePoolOptions::new()
        .test_before_acquire(false)
        .max_connections(config.max_connections)
        .acquire_timeout(config.acquire_timeout)
        .connect_with(options)
        .await
        .map_err(classify)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_arrays_are_what_serde_json_writes() {
        for uuids in [
            vec![],
            vec!["3df201cf-2451-44f2-8d25-a4ca826fc1f3".to_owned()],
            vec!["a-1".to_owned(), "quote\"and\\slash".to_owned()],
        ] {
            assert_eq!(
                json_array(&uuids),
                serde_json::Value::from(uuids.as_slice()).to_string()
            );
        }
    }
}
