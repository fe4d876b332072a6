//! The pools to Nova's cell databases, one per cell, opened on first use.
//!
//! Every lookup's API query returns each cell's mapping as it is now, so a
//! pool is looked up by the cell's uuid *and* its stored
//! `database_connection`: a cell herald has not seen gets a pool at once,
//! and one whose URL changed gets a new pool (the old one is closed in the
//! background). No list of cells is cached that could go stale.

use std::collections::HashMap;
use std::sync::Mutex;

use super::pool::{NovaPool, PoolSettings};
use super::server::CellMapping;
use super::template::{self, TemplateError};
use super::url::{self, UrlError};
use crate::support::plain_lock::lock;

/// Why a cell's database cannot be reached at all (before any query).
#[derive(Debug, thiserror::Error)]
pub enum CellError {
    /// The stored URL is a template and `directory.nova_database_url` is empty.
    #[error("its database_connection is a template and directory.nova_database_url is not set")]
    NoTemplateSource,
    #[error("its database_connection template cannot be filled")]
    Template(#[source] TemplateError),
    #[error("its database_connection is not usable")]
    Url(#[source] UrlError),
    #[error("sqlx refuses its database_connection")]
    Options(#[source] sqlx::Error),
}

/// The URL a cell's database is reached at, as Nova would reach it.
pub fn cell_url(cell: &CellMapping, source: Option<&str>) -> Result<url::SqlxUrl, CellError> {
    let stored = cell.database_connection.as_str();
    let filled = if template::is_template(stored) {
        let source = source.ok_or(CellError::NoTemplateSource)?;
        template::fill(stored, source).map_err(CellError::Template)?
    } else {
        stored.to_owned()
    };
    url::to_sqlx(&filled).map_err(CellError::Url)
}

/// One pool per cell, keyed by the cell's uuid.
#[derive(Debug)]
pub struct CellPools {
    /// `directory.nova_database_url`: what fills templated URLs.
    source: Option<String>,
    settings: PoolSettings,
    /// By cell uuid: the stored URL the pool was opened for, and the pool.
    pools: Mutex<HashMap<String, (String, NovaPool)>>,
}

impl CellPools {
    pub fn new(source: Option<String>, settings: PoolSettings) -> Self {
        Self {
            source,
            settings,
            pools: Mutex::default(),
        }
    }

    /// The pool of `cell`, opened now if this is the first use of the cell
    /// or of its current URL.
    pub fn pool(&self, cell: &CellMapping) -> Result<NovaPool, CellError> {
        if let Some((stored, pool)) = lock(&self.pools).get(&cell.uuid)
            && *stored == cell.database_connection
        {
            return Ok(pool.clone());
        }
        let url = cell_url(cell, self.source.as_deref())?;
        if !url.dropped.is_empty() {
            tracing::info!(cell = cell.label(), dropped = ?url.dropped, "parameters of the cell's database URL that sqlx does not read are left out");
        }
        let pool = NovaPool::open(&url, self.settings).map_err(CellError::Options)?;
        let old = {
            let mut pools = lock(&self.pools);
            // Another lookup may have opened it meanwhile: use that one (ours
            // never connected, so dropping it costs nothing).
            if let Some((stored, theirs)) = pools.get(&cell.uuid)
                && *stored == cell.database_connection
            {
                return Ok(theirs.clone());
            }
            pools.insert(
                cell.uuid.clone(),
                (cell.database_connection.clone(), pool.clone()),
            )
        };
        tracing::info!(cell = cell.label(), "opened a pool to the cell's database");
        if let Some((_, old)) = old {
            tokio::spawn(async move { old.close().await });
        }
        Ok(pool)
    }

    /// Closes every pool, waiting for connections in use.
    pub async fn close(&self) {
        let pools: Vec<NovaPool> = lock(&self.pools).drain().map(|(_, (_, p))| p).collect();
        for pool in pools {
            pool.close().await;
        }
    }
}
