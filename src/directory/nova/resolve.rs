//! Puts a batch's answers together (pure): for each mapped uuid, the row
//! its cell returned with its migration's hosts, "not yet in a cell", "its
//! cell did not answer", or nothing (404), as nova-api decides it.

use std::collections::HashMap;
use std::sync::Arc;

use super::api_db::MappingRow;
use super::cell_db::{InstanceRow, MigrationColumns};
use super::server::{CellMapping, MigrationRow, NovaMigration, NovaServer};
use crate::directory::found::{Found, Lookup};
use crate::model::{Caller, HostName, ServerId};

/// What one cell's database answered; `None` when it did not.
#[derive(Debug, Default)]
pub struct CellAnswer {
    pub rows: Vec<InstanceRow>,
    pub migrations: Vec<MigrationColumns>,
}

/// Everything a batch's queries returned.
#[derive(Debug, Default)]
pub struct Answers {
    pub mappings: Vec<MappingRow>,
    /// By cell uuid; `None`: that cell's database did not answer.
    pub cells: HashMap<String, Option<CellAnswer>>,
    /// `host_mappings` of the cross-cell moves' hosts.
    pub host_cells: HashMap<String, Arc<CellMapping>>,
}

/// The batch's [`Lookup`].
pub fn resolve(answers: &Answers, caller: &Caller) -> Lookup {
    let mut found = Lookup::with_capacity(answers.mappings.len());
    for mapping in &answers.mappings {
        let Some(id) = ServerId::parse(&mapping.instance_uuid) else {
            continue;
        };
        let Some(cell) = &mapping.cell else {
            // Not in a cell yet: the mapping's project is all there is to
            // scope a non-admin caller by.
            if caller.is_admin() || caller.project_id.as_deref() == Some(&mapping.project_id) {
                found.insert(id, Found::Unscheduled);
            }
            continue;
        };
        let outcome = match answers.cells.get(&cell.uuid) {
            Some(Some(answer)) => answer
                .rows
                .iter()
                .find(|row| row.uuid == mapping.instance_uuid)
                .map(|row| server(id, row, cell, answer, &answers.host_cells)),
            _ => Some(Found::Unavailable),
        };
        if let Some(outcome) = outcome {
            found.insert(id, outcome);
        }
    }
    found
}

/// A row as the wire needs it; [`Found::Unavailable`] when a host is not a
/// name herald can route to.
fn server(
    id: ServerId,
    row: &InstanceRow,
    cell: &Arc<CellMapping>,
    answer: &CellAnswer,
    host_cells: &HashMap<String, Arc<CellMapping>>,
) -> Found {
    let Ok(host) = host(&row.host) else {
        tracing::warn!(server = %id, cell = cell.label(), "instances.host is not a usable host name");
        return Found::Unavailable;
    };
    let migration = match row.migration_id {
        None => None,
        Some(Err(())) => {
            tracing::warn!(server = %id, cell = cell.label(), "instance_extra.migration_context cannot be read; delivering to the host only");
            None
        }
        Some(Ok(migration_id)) => {
            let columns = answer.migrations.iter().find(|m| m.id == migration_id);
            if columns.is_none() {
                tracing::warn!(server = %id, migration_id, cell = cell.label(), "the migration context names a migration that is gone; delivering to the host only (nova-api answers 500)");
            }
            match columns.map(|m| migration_row(m, host_cells)).transpose() {
                Ok(row) => Some(NovaMigration {
                    id: migration_id,
                    row,
                }),
                Err(()) => {
                    tracing::warn!(server = %id, migration_id, cell = cell.label(), "a migration host is not a usable host name");
                    return Found::Unavailable;
                }
            }
        }
    };
    Found::Nova(Arc::new(NovaServer {
        uuid: id,
        id: row.id,
        host,
        project_id: row.project_id.clone(),
        user_id: row.user_id.clone(),
        vm_state: row.vm_state.clone(),
        task_state: row.task_state.clone(),
        power_state: row.power_state,
        deleted: row.deleted,
        migration,
        cell: Arc::clone(cell),
    }))
}

fn migration_row(
    m: &MigrationColumns,
    host_cells: &HashMap<String, Arc<CellMapping>>,
) -> Result<MigrationRow, ()> {
    let source_compute = host(&m.source_compute)?;
    let dest_compute = host(&m.dest_compute)?;
    let host_cells = if m.cross_cell_move {
        [&source_compute, &dest_compute]
            .into_iter()
            .flatten()
            .filter_map(|h| Some((h.clone(), Arc::clone(host_cells.get(h.as_str())?))))
            .collect()
    } else {
        Vec::new()
    };
    Ok(MigrationRow {
        source_compute,
        dest_compute,
        cross_cell_move: m.cross_cell_move,
        host_cells,
    })
}

/// NULL or empty is no host (Nova tests `instance.host` for truth).
fn host(column: &Option<String>) -> Result<Option<HostName>, ()> {
    match column.as_deref() {
        None | Some("") => Ok(None),
        Some(name) => HostName::parse(name).map(Some).map_err(|_| ()),
    }
}
