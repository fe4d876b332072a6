//! A bounded, lazily connecting pool to one of Nova's databases, MySQL/
//! MariaDB or PostgreSQL, and the one way queries run on either: the same
//! SQL text with the dialect's placeholders, rows decoded into the same Rust
//! types (MariaDB's `tinyint(1)` and PostgreSQL's `boolean` both decode as
//! `bool`, their `INT`s as `i32`).

use std::time::Duration;

use sqlx::Connection;
use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::url::{Dialect, SqlxUrl};

/// A pooled connection idle this long is pinged before it is handed out,
/// so one the server cut while it sat in the pool is not the query's.
const PING_WHEN_IDLE: Duration = Duration::from_secs(1);

/// How each of Nova's databases is pooled (`[directory]`'s settings).
#[derive(Debug, Clone, Copy)]
pub struct PoolSettings {
    /// Connections per database at most (`directory.max_connections`).
    pub max_connections: u32,
    /// Wait for a connection at most (`directory.acquire_timeout`).
    pub acquire_timeout: Duration,
}

/// A pool to one of Nova's databases; cheap to clone (the pool is shared).
/// The Nova wire writes `instance_actions` through a cell's pool.
#[derive(Debug, Clone)]
pub enum NovaPool {
    Mysql(MySqlPool),
    Postgres(PgPool),
}

impl NovaPool {
    /// Builds the pool without connecting; fails only on a URL sqlx refuses.
    pub fn open(url: &SqlxUrl, settings: PoolSettings) -> Result<Self, sqlx::Error> {
        Ok(match url.dialect {
            Dialect::Mysql => {
                let options: MySqlConnectOptions = url.url.parse()?;
                Self::Mysql(
                    MySqlPoolOptions::new()
                        .max_connections(settings.max_connections)
                        .acquire_timeout(settings.acquire_timeout)
                        .test_before_acquire(false)
                        .before_acquire(|conn, meta| {
                            Box::pin(async move {
                                if meta.idle_for >= PING_WHEN_IDLE {
                                    conn.ping().await?;
                                }
                                Ok(true)
                            })
                        })
                        .connect_lazy_with(options),
                )
            }
            Dialect::Postgres => {
                let options: PgConnectOptions = url.url.parse()?;
                Self::Postgres(
                    PgPoolOptions::new()
                        .max_connections(settings.max_connections)
                        .acquire_timeout(settings.acquire_timeout)
                        .test_before_acquire(false)
                        .before_acquire(|conn, meta| {
                            Box::pin(async move {
                                if meta.idle_for >= PING_WHEN_IDLE {
                                    conn.ping().await?;
                                }
                                Ok(true)
                            })
                        })
                        .connect_lazy_with(options),
                )
            }
        })
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Self::Mysql(_) => Dialect::Mysql,
            Self::Postgres(_) => Dialect::Postgres,
        }
    }

    /// One round trip on a pooled connection.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        match self {
            Self::Mysql(pool) => pool.acquire().await?.ping().await,
            Self::Postgres(pool) => pool.acquire().await?.ping().await,
        }
    }

    /// Closes every connection, waiting for those in use.
    pub async fn close(&self) {
        match self {
            Self::Mysql(pool) => pool.close().await,
            Self::Postgres(pool) => pool.close().await,
        }
    }
}

/// `count` placeholders for an `IN (…)` list, numbered from `first` where
/// the dialect numbers them.
pub fn placeholders(dialect: Dialect, first: usize, count: usize) -> String {
    let one = |i: usize| match dialect {
        Dialect::Mysql => "?".to_owned(),
        Dialect::Postgres => format!("${}", first + i),
    };
    (0..count).map(one).collect::<Vec<_>>().join(", ")
}

/// Runs `$sql` (a `String` built for the pool's dialect) with each value of
/// `$binds` bound in turn, and decodes every row as `$row`.
macro_rules! fetch_all {
    ($pool:expr, $row:ty, $sql:expr, $binds:expr) => {{
        let sql = $sql;
        match $pool {
            $crate::directory::nova::pool::NovaPool::Mysql(pool) => {
                let mut query = sqlx::query_as::<_, $row>(sqlx::AssertSqlSafe(sql));
                for value in $binds {
                    query = query.bind(value);
                }
                query.fetch_all(pool).await
            }
            $crate::directory::nova::pool::NovaPool::Postgres(pool) => {
                let mut query = sqlx::query_as::<_, $row>(sqlx::AssertSqlSafe(sql));
                for value in $binds {
                    query = query.bind(value);
                }
                query.fetch_all(pool).await
            }
        }
    }};
}
pub(crate) use fetch_all;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_per_dialect() {
        assert_eq!(placeholders(Dialect::Mysql, 1, 3), "?, ?, ?");
        assert_eq!(placeholders(Dialect::Postgres, 2, 3), "$2, $3, $4");
        assert_eq!(placeholders(Dialect::Postgres, 1, 0), "");
    }
}
