//! The instance directory: where each server is (its host, an ongoing
//! migration). SQLite (embedded) or PostgreSQL (shared), behind one type.
//!
//! # Layout
//! - this file: the [`Directory`] handle, dispatching to a backend, and the
//!   entry types;
//! - `error`: [`DirectoryError`] and the classification of driver errors;
//! - `found`: what a batch lookup says about each server;
//! - `sqlite`, `postgres`: one backend each, speaking plain columns
//!   (`sqlite_readers`: the SQLite lookups' own connections);
//! - `nova`: Nova mode, read-only lookups in Nova's own databases;
//! - [`db_tls`]: the databases' TLS as their URLs ask for it (sslmode, ssl-mode);
//! - `schema`, `sql`: the DDL and query texts;
//! - `row`: stored rows re-validated into domain types.

pub mod config;
pub mod db_tls;
mod error;
pub mod found;
pub mod nova;
mod postgres;
mod row;
mod schema;
mod shared_lookup;
mod sql;
mod sqlite;
mod sqlite_readers;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use self::config::{DirectoryBackend, DirectoryConfig};
pub use self::error::{CorruptRow, DirectoryError};
pub use self::found::{Found, Lookup};
use self::nova::NovaDirectory;
use self::postgres::PgStore;
use self::row::Columns;
use self::shared_lookup::SharedLookups;
use self::sqlite::SqliteStore;
use crate::model::{Caller, HostName, Migration, Placement, ServerId};

/// One directory entry as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub uuid: ServerId,
    pub host: Option<HostName>,
    pub migration: Option<Migration>,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

/// An entry to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    pub uuid: ServerId,
    pub placement: Placement,
}

/// A page of `list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub entries: Vec<Entry>,
    /// The last uuid of the page when the page is full, else `None`.
    pub next_marker: Option<ServerId>,
}

/// Handle to the directory; cheap to clone.
#[derive(Debug, Clone)]
pub struct Directory {
    backend: Backend,
    /// Batch lookups of concurrent requests share queries through here.
    lookups: Arc<SharedLookups>,
    /// Bound on every operation (`directory.query_timeout`).
    query_timeout: Duration,
}

#[derive(Debug, Clone)]
enum Backend {
    Sqlite(SqliteStore),
    Postgres(PgStore),
    Nova(Arc<NovaDirectory>),
}

/// Runs the same call on whichever backend is configured, within
/// `directory.query_timeout`.
macro_rules! on_backend {
    ($self:ident, $store:ident => $call:expr) => {
        within($self.query_timeout, async {
            match &$self.backend {
                Backend::Sqlite($store) => $call,
                Backend::Postgres($store) => $call,
                Backend::Nova(_) => Err(DirectoryError::ReadOnly),
            }
        })
        .await
    };
}

/// The shared queue's query on `store` (SQLite's or PostgreSQL's), within
/// `limit`, boxed. A closure per backend, so each boxed query is only as
/// large as its own backend's.
macro_rules! fetch_from {
    ($store:expr, $limit:expr) => {{
        let store = $store.clone();
        let limit = $limit;
        Arc::new(move |uuids: Vec<String>| {
            let store = store.clone();
            Box::pin(within(limit, async move { store.lookup(&uuids).await }))
                as futures_util::future::BoxFuture<'static, _>
        })
    }};
}

/// `work`, or [`DirectoryError::Timeout`] once `limit` has passed.
async fn within<T>(
    limit: Duration,
    work: impl Future<Output = Result<T, DirectoryError>>,
) -> Result<T, DirectoryError> {
    tokio::time::timeout(limit, work)
        .await
        .unwrap_or(Err(DirectoryError::Timeout(limit)))
}

impl Directory {
    /// Opens the pool. Never fails because the database is down (PostgreSQL
    /// connects lazily and creates the schema on first use); fails only on a
    /// bad URL or an unusable SQLite path.
    pub async fn open(config: &DirectoryConfig) -> Result<Self, DirectoryError> {
        let backend = match config.backend {
            DirectoryBackend::Sqlite => Backend::Sqlite(SqliteStore::open(config).await?),
            DirectoryBackend::Postgres => Backend::Postgres(PgStore::open(config)?),
            DirectoryBackend::Nova => Backend::Nova(Arc::new(NovaDirectory::open(config)?)),
        };
        let query_timeout = config.query_timeout;
        let fetch: shared_lookup::Fetch = match &backend {
            Backend::Sqlite(store) => fetch_from!(store, query_timeout),
            Backend::Postgres(store) => fetch_from!(store, query_timeout),
            // Never called: Nova lookups do not go through the shared queue.
            Backend::Nova(_) => Arc::new(|_| Box::pin(async { Ok(Vec::new()) })),
        };
        Ok(Self {
            backend,
            lookups: Arc::new(SharedLookups::new(fetch)),
            query_timeout,
        })
    }

    /// A fresh, private in-memory SQLite directory, for tests of other modules.
    pub async fn open_in_memory() -> Result<Self, DirectoryError> {
        let config = DirectoryConfig {
            url: ":memory:".into(),
            ..DirectoryConfig::default()
        };
        Self::open(&config).await
    }

    /// What the directory says about each server of `ids` that `caller`
    /// may see, in one query per database whatever the count. herald's own
    /// backends ignore the caller and share queries with concurrent
    /// requests (`shared_lookup`); Nova's scopes by the caller's project.
    pub async fn lookup(
        &self,
        ids: &[ServerId],
        caller: &Caller,
    ) -> Result<Lookup, DirectoryError> {
        if ids.is_empty() {
            return Ok(Lookup::new());
        }
        let distinct: BTreeSet<ServerId> = ids.iter().copied().collect();
        if let Backend::Nova(nova) = &self.backend {
            // Boxed: Nova's lookup (several databases) is a large future.
            return Box::pin(nova.lookup(&distinct, caller)).await;
        }
        let uuids: Vec<String> = distinct.iter().map(ServerId::canonical).collect();
        let found = self.lookups.find(uuids.clone()).await?;
        let mut placements = HashMap::with_capacity(uuids.len());
        for uuid in &uuids {
            match found.get(uuid) {
                Some(Ok((id, placement))) => {
                    placements.insert(*id, Found::Placed(placement.clone()));
                }
                Some(Err(corrupt)) => return Err(DirectoryError::Shared(Arc::clone(corrupt))),
                None => {}
            }
        }
        Ok(placements)
    }

    /// Nova mode's directory, when `directory.backend = "nova"`.
    pub fn nova(&self) -> Option<&Arc<NovaDirectory>> {
        match &self.backend {
            Backend::Nova(nova) => Some(nova),
            _ => None,
        }
    }

    pub async fn get(&self, id: ServerId) -> Result<Option<Entry>, DirectoryError> {
        let found = on_backend!(self, store => store.get(id.canonical()).await)?;
        found.map(row::entry).transpose()
    }

    /// Creates or replaces.
    pub async fn put(&self, entry: NewEntry) -> Result<Entry, DirectoryError> {
        let updated_at = row::now_ms();
        let columns = Columns::new(&entry, updated_at);
        on_backend!(self, store => store.put(columns).await)?;
        row::written(entry, updated_at)
    }

    /// `true` when an entry was deleted.
    pub async fn delete(&self, id: ServerId) -> Result<bool, DirectoryError> {
        on_backend!(self, store => store.delete(id.canonical()).await)
    }

    /// Ordered by uuid; `limit` already clamped to 1..=1000 by the caller.
    pub async fn list(
        &self,
        host: Option<&HostName>,
        limit: u32,
        marker: Option<ServerId>,
    ) -> Result<Page, DirectoryError> {
        let host = host.map(|h| h.as_str().to_owned());
        let marker = marker.map(|m| m.canonical());
        let rows = on_backend!(self, store => store.list(host.clone(), marker.clone(), i64::from(limit)).await)?;
        let entries = rows
            .into_iter()
            .map(row::entry)
            .collect::<Result<Vec<_>, _>>()?;
        let full = limit > 0 && entries.len() == limit as usize;
        let next_marker = if full {
            entries.last().map(|e| e.uuid)
        } else {
            None
        };
        Ok(Page {
            entries,
            next_marker,
        })
    }

    /// All or nothing, in one transaction. Returns the number written.
    pub async fn upsert_many(&self, entries: &[NewEntry]) -> Result<u64, DirectoryError> {
        let updated_at = row::now_ms();
        let rows: Vec<Columns> = entries
            .iter()
            .map(|e| Columns::new(e, updated_at))
            .collect();
        on_backend!(self, store => store.upsert_many(rows).await)
    }

    /// Whether the database answers (for `/readyz`). On PostgreSQL it also
    /// creates the schema if needed, so awaiting it means "ready": tests and
    /// start-up checks await this instead of sleeping.
    pub async fn ping(&self) -> Result<(), DirectoryError> {
        if let Backend::Nova(nova) = &self.backend {
            return nova.ping().await;
        }
        on_backend!(self, store => store.ping().await)
    }

    /// Whether the database session is encrypted: what PostgreSQL says of
    /// herald's session; `None` for SQLite (a file) and Nova mode (many).
    pub async fn encrypted(&self) -> Result<Option<bool>, DirectoryError> {
        match &self.backend {
            Backend::Sqlite(_) | Backend::Nova(_) => Ok(None),
            Backend::Postgres(store) => store.encrypted().await.map(Some),
        }
    }

    /// `directory.url`'s TLS settings in effect, for `check-config`.
    pub fn describe_tls(config: &DirectoryConfig) -> String {
        match config.backend {
            DirectoryBackend::Sqlite => "directory: SQLite (a local file, no TLS)".to_owned(),
            DirectoryBackend::Postgres => db_tls::describe_url(&config.url),
            DirectoryBackend::Nova => {
                "directory: Nova's databases, TLS as each URL asks (ssl-mode / sslmode)".to_owned()
            }
        }
    }

    /// Closes every pooled connection, waiting for those in use.
    pub async fn close(&self) {
        match &self.backend {
            Backend::Sqlite(store) => store.close().await,
            Backend::Postgres(store) => store.close().await,
            Backend::Nova(nova) => nova.close().await,
        }
    }
}
