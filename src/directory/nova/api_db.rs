//! The queries herald runs on Nova's API database, exactly as nova-api
//! reads it (`reference/nova-mode.md` §A): the batch's instance mappings
//! with their cells in one query, the cells of hosts for cross-cell moves,
//! and the list of cells.

use std::sync::Arc;

use super::pool::{NovaPool, fetch_all, placeholders};
use super::server::CellMapping;

/// One `instance_mappings` row with its `cell_mappings` row (if any).
#[derive(Debug, Clone)]
pub struct MappingRow {
    pub instance_uuid: String,
    /// The mapping's project (what a non-admin caller is checked against
    /// while the instance has no cell yet).
    pub project_id: String,
    /// `None`: `cell_id` is NULL (the instance is still being scheduled).
    pub cell: Option<Arc<CellMapping>>,
}

type CellColumns = (
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<bool>,
);

/// The mappings of `uuids` (canonical), in one query: no filter on
/// `queued_for_delete` or `disabled`, as nova-api has none.
pub async fn mappings(pool: &NovaPool, uuids: &[String]) -> Result<Vec<MappingRow>, sqlx::Error> {
    let sql = format!(
        "SELECT im.instance_uuid, im.project_id, cm.uuid, cm.name, cm.database_connection, \
         cm.transport_url, cm.disabled \
         FROM instance_mappings im LEFT OUTER JOIN cell_mappings cm ON cm.id = im.cell_id \
         WHERE im.instance_uuid IN ({})",
        placeholders(pool.dialect(), 1, uuids.len())
    );
    type Row = (
        String,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<bool>,
    );
    let rows = fetch_all!(pool, Row, sql, uuids)?;
    Ok(rows
        .into_iter()
        .map(
            |(instance_uuid, project_id, uuid, name, db, mq, disabled)| MappingRow {
                instance_uuid,
                project_id,
                cell: cell((uuid, name, db, mq, disabled)),
            },
        )
        .collect())
}

/// The cell of each of `hosts` that `host_mappings` knows.
pub async fn host_cells(
    pool: &NovaPool,
    hosts: &[String],
) -> Result<Vec<(String, Arc<CellMapping>)>, sqlx::Error> {
    if hosts.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT hm.host, cm.uuid, cm.name, cm.database_connection, cm.transport_url, cm.disabled \
         FROM host_mappings hm JOIN cell_mappings cm ON cm.id = hm.cell_id \
         WHERE hm.host IN ({})",
        placeholders(pool.dialect(), 1, hosts.len())
    );
    type Row = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<bool>,
    );
    let rows = fetch_all!(pool, Row, sql, hosts)?;
    Ok(rows
        .into_iter()
        .filter_map(|(host, uuid, name, db, mq, disabled)| {
            Some((host, cell((uuid, name, db, mq, disabled))?))
        })
        .collect())
}

/// Every cell, in the order Nova made them.
pub async fn cells(pool: &NovaPool) -> Result<Vec<Arc<CellMapping>>, sqlx::Error> {
    let sql = "SELECT uuid, name, database_connection, transport_url, disabled \
               FROM cell_mappings ORDER BY id"
        .to_owned();
    let rows = fetch_all!(pool, CellColumns, sql, std::iter::empty::<String>())?;
    Ok(rows.into_iter().filter_map(cell).collect())
}

/// A cell from its columns; `None` when the join found no cell.
fn cell((uuid, name, db, mq, disabled): CellColumns) -> Option<Arc<CellMapping>> {
    Some(Arc::new(CellMapping {
        uuid: uuid?,
        name,
        database_connection: db.unwrap_or_default(),
        transport_url: mq.unwrap_or_default(),
        disabled: disabled.unwrap_or(false),
    }))
}
