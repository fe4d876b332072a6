//! Nova mode's directory (`directory.backend = "nova"`): read-only lookups
//! in Nova's own databases, as nova-api makes them for
//! `POST /os-server-external-events` (`reference/nova-mode.md` §A).
//!
//! A batch costs one query on the API database (`instance_mappings` ⟕
//! `cell_mappings`), then, per cell and concurrently, one on `instances` ⟕
//! `instance_extra` and one on `migrations` when a row has a migration
//! context, and one more on the API database's `host_mappings` only for
//! cross-cell moves. The API database not answering is the whole request's
//! 503; a cell's database not answering is its servers' 503 only.
//!
//! # Layout
//! - `server`: what a lookup hands on per server (the wire's interface);
//! - `api_db`, `cell_db`: the SQL, per database;
//! - `resolve`: the answers put together, as nova-api decides (pure);
//! - `cells`: a pool per cell, opened on first use;
//! - `pool`: one pool type and query runner for MySQL/MariaDB and PostgreSQL;
//! - `url`, `template`: Nova's URL forms and cell mapping templates;
//! - `writes`: what the Nova wire writes and reads besides lookups
//!   (`instance_actions` rows, the lowest nova-compute version).

mod api_db;
mod cell_db;
mod cells;
pub mod pool;
mod resolve;
pub mod server;
pub mod template;
pub mod url;
pub mod writes;

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;

pub use self::cells::CellError;
use self::cells::CellPools;
pub use self::pool::NovaPool;
use self::pool::PoolSettings;
use self::resolve::{Answers, CellAnswer, Oddity};
pub use self::server::{CellMapping, MigrationRow, NovaMigration, NovaServer};
use super::config::DirectoryConfig;
use super::error::{DirectoryError, classify};
use super::found::Lookup;
use crate::model::{Caller, ServerId};
use crate::support::rate_log::{RateLog, Verdict};

/// At most one full log line per kind of trouble this often; the rest are
/// counted into a summary (every batch for a server meets the same row).
const LOG_EVERY: Duration = Duration::from_secs(60);

/// Nova's API database and a pool per cell database.
#[derive(Debug)]
pub struct NovaDirectory {
    api: NovaPool,
    cells: CellPools,
    query_timeout: Duration,
    /// Cells whose database did not answer.
    cell_down_log: RateLog,
    /// Rows herald had to work around ([`Oddity`]).
    oddity_log: RateLog,
}

impl NovaDirectory {
    /// Builds the pools without connecting; fails only on a URL herald
    /// cannot use (naming it).
    pub fn open(config: &DirectoryConfig) -> Result<Self, DirectoryError> {
        let url = url::to_sqlx(&config.url).map_err(DirectoryError::NovaUrl)?;
        if !url.dropped.is_empty() {
            tracing::info!(dropped = ?url.dropped, "parameters of directory.url that sqlx does not read are left out");
        }
        let settings = PoolSettings {
            max_connections: config.max_connections,
            acquire_timeout: config.acquire_timeout,
        };
        let api = NovaPool::open(&url, settings).map_err(DirectoryError::BadUrl)?;
        let source = Some(config.nova_database_url.trim())
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        Ok(Self {
            api,
            cells: CellPools::new(source, settings),
            query_timeout: config.query_timeout,
            cell_down_log: RateLog::new(LOG_EVERY),
            oddity_log: RateLog::new(LOG_EVERY),
        })
    }

    /// What Nova's databases say about `ids` (distinct, canonical), as
    /// `caller` may see them.
    pub async fn lookup(
        &self,
        ids: &BTreeSet<ServerId>,
        caller: &Caller,
    ) -> Result<Lookup, DirectoryError> {
        let uuids: Vec<String> = ids.iter().map(ServerId::canonical).collect();
        let mappings = self.on_api(api_db::mappings(&self.api, &uuids)).await?;
        let mut by_cell: HashMap<String, (Arc<CellMapping>, Vec<String>)> = HashMap::new();
        for mapping in &mappings {
            if let Some(cell) = &mapping.cell {
                by_cell
                    .entry(cell.uuid.clone())
                    .or_insert_with(|| (Arc::clone(cell), Vec::new()))
                    .1
                    .push(mapping.instance_uuid.clone());
            }
        }
        let project = (!caller.is_admin()).then_some(caller.project_id.as_deref());
        let answers = join_all(
            by_cell
                .into_values()
                .map(|(cell, uuids)| self.ask_cell(cell, uuids, project)),
        )
        .await;
        let mut answers = Answers {
            mappings,
            cells: answers.into_iter().collect(),
            host_cells: HashMap::new(),
        };
        let hosts = cross_cell_hosts(&answers);
        if !hosts.is_empty() {
            let found = self.on_api(api_db::host_cells(&self.api, &hosts)).await?;
            answers.host_cells = found.into_iter().collect();
        }
        let (found, oddities) = resolve::resolve(&answers, caller);
        for oddity in oddities {
            self.log_oddity(&oddity);
        }
        Ok(found)
    }

    fn log_oddity(&self, oddity: &Oddity) {
        match self.oddity_log.hit(std::time::Instant::now()) {
            Verdict::Log => match oddity {
                Oddity::MigrationGone {
                    server,
                    migration_id,
                } => {
                    tracing::warn!(%server, migration_id, "the migration context names a migration row that is gone; delivering to the instance's host only (nova-api answers 500)")
                }
                Oddity::UnreadableContext { server } => {
                    tracing::warn!(%server, "instance_extra.migration_context cannot be read; delivering to the instance's host only")
                }
                Oddity::UnusableHost { server } => {
                    tracing::warn!(%server, "a host column is not a usable host name; the server's events get 503")
                }
            },
            Verdict::Counted => {}
            Verdict::Summary(n) => {
                tracing::warn!(count = n, last = ?oddity, "Nova rows worked around since the last such line")
            }
        }
    }

    /// One cell's rows for `uuids`; `None` (and a log line) when its
    /// database cannot be reached or does not answer in time. `project`:
    /// `None` for an admin caller, else the caller's project (`Some(None)`:
    /// a non-admin caller without a project sees nothing, as in Nova).
    async fn ask_cell(
        &self,
        cell: Arc<CellMapping>,
        uuids: Vec<String>,
        project: Option<Option<&str>>,
    ) -> (String, Option<CellAnswer>) {
        let answer = match project {
            Some(None) => Ok(CellAnswer::default()),
            Some(Some(project)) => self.query_cell(&cell, &uuids, Some(project)).await,
            None => self.query_cell(&cell, &uuids, None).await,
        };
        match answer {
            Ok(answer) => (cell.uuid.clone(), Some(answer)),
            Err(error) => {
                let error = crate::support::error_chain::error_chain(&error);
                match self.cell_down_log.hit(std::time::Instant::now()) {
                    Verdict::Log => {
                        tracing::warn!(cell = cell.label(), %error, "a cell database did not answer; its events get 503")
                    }
                    Verdict::Counted => {}
                    Verdict::Summary(n) => {
                        tracing::warn!(count = n, cell = cell.label(), %error, "cell databases that did not answer since the last such line")
                    }
                }
                (cell.uuid.clone(), None)
            }
        }
    }

    async fn query_cell(
        &self,
        cell: &CellMapping,
        uuids: &[String],
        project: Option<&str>,
    ) -> Result<CellAnswer, DirectoryError> {
        let pool = self.cells.pool(cell).map_err(DirectoryError::Cell)?;
        within(self.query_timeout, async {
            let rows = cell_db::instances(&pool, uuids, project)
                .await
                .map_err(classify)?;
            let ids: BTreeSet<i32> = rows
                .iter()
                .filter_map(|r| r.migration_id.and_then(Result::ok))
                .collect();
            let ids: Vec<i32> = ids.into_iter().collect();
            let migrations = cell_db::migrations(&pool, &ids).await.map_err(classify)?;
            Ok(CellAnswer { rows, migrations })
        })
        .await
    }

    /// Runs a query on the API database within `directory.query_timeout`.
    async fn on_api<T>(
        &self,
        work: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, DirectoryError> {
        within(self.query_timeout, async { work.await.map_err(classify) }).await
    }

    /// Every cell mapping, as stored now.
    pub async fn cells(&self) -> Result<Vec<Arc<CellMapping>>, DirectoryError> {
        self.on_api(api_db::cells(&self.api)).await
    }

    /// The pool of `cell`'s database (opened on first use): the Nova wire
    /// writes `instance_actions` through it.
    pub fn cell_pool(&self, cell: &CellMapping) -> Result<NovaPool, CellError> {
        self.cells.pool(cell)
    }

    /// Writes `rows` in `cell`'s database, all or none, within
    /// `directory.query_timeout` (the Nova wire, before it casts).
    pub async fn record_actions(
        &self,
        cell: &CellMapping,
        rows: &[writes::ActionRow],
    ) -> Result<(), DirectoryError> {
        let pool = self.cells.pool(cell).map_err(DirectoryError::Cell)?;
        within(self.query_timeout, async {
            writes::insert_actions(&pool, rows).await.map_err(classify)
        })
        .await
    }

    /// Each cell's lowest nova-compute service version (`None`: it has
    /// none), or why its database did not say.
    pub async fn compute_versions(
        &self,
    ) -> Result<Vec<Result<Option<i64>, DirectoryError>>, DirectoryError> {
        let cells = self.cells().await?;
        let reads = cells.iter().map(|cell| async {
            let pool = self.cells.pool(cell).map_err(DirectoryError::Cell)?;
            within(self.query_timeout, async {
                writes::lowest_compute_version(&pool)
                    .await
                    .map_err(classify)
            })
            .await
        });
        Ok(join_all(reads).await)
    }

    /// Whether the API database answers (`/readyz`).
    pub async fn ping(&self) -> Result<(), DirectoryError> {
        self.on_api(self.api.ping()).await
    }

    /// Each cell and whether its database answers (`check-config`).
    pub async fn check_cells(
        &self,
    ) -> Result<Vec<(Arc<CellMapping>, Result<(), DirectoryError>)>, DirectoryError> {
        let cells = self.cells().await?;
        let checks = cells.iter().map(|cell| async {
            let pool = self.cells.pool(cell).map_err(DirectoryError::Cell)?;
            within(self.query_timeout, async {
                pool.ping().await.map_err(classify)
            })
            .await
        });
        let results = join_all(checks).await;
        Ok(cells.into_iter().zip(results).collect())
    }

    pub async fn close(&self) {
        self.api.close().await;
        self.cells.close().await;
    }
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

/// The hosts of the cross-cell migrations among the answers.
fn cross_cell_hosts(answers: &Answers) -> Vec<String> {
    let hosts: BTreeSet<&String> = answers
        .cells
        .values()
        .flatten()
        .flat_map(|answer| &answer.migrations)
        .filter(|m| m.cross_cell_move)
        .flat_map(|m| [&m.source_compute, &m.dest_compute])
        .flatten()
        .collect();
    hosts.into_iter().cloned().collect()
}
