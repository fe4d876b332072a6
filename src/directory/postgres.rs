//! The PostgreSQL backend, shared by several `serve` replicas. The pool
//! connects lazily, so start-up succeeds while the database is down; the
//! schema is created on the first successful use and retried until then.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::Connection;

use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions};
use tokio::sync::OnceCell;

use super::config::DirectoryConfig;
use super::error::{DirectoryError, classify};
use super::row::{Columns, RawRow};
use super::{schema, sql};

use crate::support::error_chain::error_chain;

/// A pooled connection idle this long is pinged before it is handed out.
const PING_WHEN_IDLE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub(crate) struct PgStore {
    pool: PgPool,
    /// Set once the schema exists; an error leaves it unset for a retry.
    schema: Arc<OnceCell<()>>,
}

impl PgStore {
    /// Builds the pool without connecting; fails only on a bad URL.
    pub fn open(config: &DirectoryConfig) -> Result<Self, DirectoryError> {
        let url = config.url.trim();
        // The parser ignores the scheme; a `mysql://` URL must not reach a PostgreSQL server.
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            let reason = "expected a postgres:// or postgresql:// URL";
            return Err(DirectoryError::BadUrl(sqlx::Error::Configuration(
                reason.into(),
            )));
        }
        let options = PgConnectOptions::from_str(url).map_err(DirectoryError::BadUrl)?;
        let (options, weakness) = super::db_tls::settle(url, options);
        if let Some(weakness) = weakness {
            tracing::warn!("{}", weakness.message());
        }
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(config.acquire_timeout)
            // Not a ping before every query (a second round trip per
            // lookup): only a connection idle long enough to have been cut
            // unseen is checked. One that died while busy is caught by the
            // ping sqlx runs when a connection is released.
            .test_before_acquire(false)
            .before_acquire(|conn, meta| {
                Box::pin(async move {
                    if meta.idle_for >= PING_WHEN_IDLE {
                        conn.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_lazy_with(options);
        Ok(Self {
            pool,
            schema: Arc::new(OnceCell::new()),
        })
    }

    /// Creates the schema if this process has not yet done so.
    pub async fn ensure_schema(&self) -> Result<(), DirectoryError> {
        self.schema
            .get_or_try_init(|| create_schema(&self.pool))
            .await?;
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), DirectoryError> {
        self.ensure_schema().await?;
        sqlx::query(sql::PING)
            .execute(&self.pool)
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// Is a pooled session encrypted? (`check-config` shows what `prefer` got.)
    pub async fn encrypted(&self) -> Result<bool, DirectoryError> {
        let ssl: Option<bool> =
            sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                .fetch_optional(&self.pool)
                .await
                .map_err(classify)?;
        Ok(ssl.unwrap_or(false))
    }

    /// Rows of `uuids` (distinct), in one query whatever their number.
    pub async fn lookup(&self, uuids: &[String]) -> Result<Vec<RawRow>, DirectoryError> {
        self.ensure_schema().await?;
        read_retrying(&self.pool, || {
            sqlx::query_as::<_, RawRow>(sql::LOOKUP_ANY)
                .bind(uuids)
                .fetch_all(&self.pool)
        })
        .await
    }

    pub async fn get(&self, uuid: String) -> Result<Option<RawRow>, DirectoryError> {
        self.ensure_schema().await?;
        read_retrying(&self.pool, || {
            sqlx::query_as::<_, RawRow>(sql::GET)
                .bind(uuid.as_str())
                .fetch_optional(&self.pool)
        })
        .await
    }

    pub async fn put(&self, row: Columns) -> Result<(), DirectoryError> {
        self.ensure_schema().await?;
        upsert(row).execute(&self.pool).await.map_err(classify)?;
        Ok(())
    }

    pub async fn delete(&self, uuid: String) -> Result<bool, DirectoryError> {
        self.ensure_schema().await?;
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
        self.ensure_schema().await?;
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
        self.ensure_schema().await?;
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
        self.pool.close().await;
    }
}

/// Runs a read, and runs it again when it failed on a connection that was
/// already dead (the server restarted or cut it while it sat in the pool):
/// the pool discards that one, and a read is safe to repeat. Every pooled
/// connection may be dead, so up to one attempt more than the pool holds;
/// a dead connection fails at once, and the last attempt opens a new one.
async fn read_retrying<T, F, Fut>(pool: &PgPool, read: F) -> Result<T, DirectoryError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, sqlx::Error>>,
{
    let attempts = pool.options().get_max_connections() + 1;
    let mut attempt = 1;
    loop {
        // Boxed: sqlx's query futures are large, and this one is moved
        // through every caller's state otherwise.
        match Box::pin(read()).await {
            Err(error) if attempt < attempts && died_with_its_connection(&error) => {
                tracing::debug!(error = %error_chain(&error), attempt, "directory read failed on a dead connection; reading again");
                attempt += 1;
            }
            result => return result.map_err(classify),
        }
    }
}

/// The connection broke under the query (I/O, TLS, or the server saying it
/// is shutting the session down), as opposed to the query failing or the
/// pool having no connection to give.
fn died_with_its_connection(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|code| code.starts_with("08") || code == "57P01"),
        _ => false,
    }
}

/// Creates the table and index under a transaction-scoped advisory lock, so
/// replicas starting together do not race in the catalogue.
async fn create_schema(pool: &PgPool) -> Result<(), DirectoryError> {
    let mut tx = pool.begin().await.map_err(classify)?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(schema::POSTGRES_LOCK_KEY)
        .execute(&mut *tx)
        .await
        .map_err(classify)?;
    for statement in schema::POSTGRES {
        sqlx::query(*statement)
            .execute(&mut *tx)
            .await
            .map_err(classify)?;
    }
    tx.commit().await.map_err(classify)
}

fn upsert(row: Columns) -> sqlx::query::Query<'static, sqlx::Postgres, PgArguments> {
    sqlx::query(sql::UPSERT)
        .bind(row.uuid)
        .bind(row.host)
        .bind(row.source_compute)
        .bind(row.dest_compute)
        .bind(row.updated_at)
}
