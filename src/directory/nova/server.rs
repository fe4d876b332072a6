//! What a Nova-mode lookup hands on for each server it found: the instance
//! row's fields the Nova wire puts in its Instance primitive, the hosts the
//! events go to, and the cell the row lives in (whose database takes the
//! `instance_actions` row, and whose broker carries the cast).
//!
//! These types are the interface between the directory (which reads Nova's
//! databases) and the wire (which writes Nova's messages): they hold values
//! as Nova stored them, checked only where herald relies on them (host names
//! become routing keys).

use std::sync::Arc;

use crate::model::{HostName, Migration, Placement, ServerId};

/// One `cell_mappings` row of Nova's API database, as stored.
#[derive(Clone, PartialEq, Eq)]
pub struct CellMapping {
    /// `cell_mappings.uuid`; cell0's is `00000000-0000-0000-0000-000000000000`.
    pub uuid: String,
    /// `cell_mappings.name` (`cell0`, `cell1`…; may be NULL).
    pub name: Option<String>,
    /// `cell_mappings.database_connection` as stored: a URL in SQLAlchemy's
    /// form or a template (`{username}`…) that `directory.nova_database_url`
    /// fills. Holds a password: never logged.
    pub database_connection: String,
    /// `cell_mappings.transport_url` as stored: `rabbit://…`, a template
    /// that `amqp.url` fills, or `none:///` (cell0: no broker). May hold a
    /// password: never logged.
    pub transport_url: String,
    /// `cell_mappings.disabled` (Nova still answers events for such cells).
    pub disabled: bool,
}

impl CellMapping {
    /// cell0's fixed uuid: where instances that failed to schedule are kept.
    pub const CELL0_UUID: &'static str = "00000000-0000-0000-0000-000000000000";

    /// Whether this is cell0 (no broker, no host: its servers answer 422).
    pub fn is_cell0(&self) -> bool {
        self.uuid == Self::CELL0_UUID
    }

    /// The name if set, else the uuid: what logs call the cell.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.uuid)
    }
}

impl std::fmt::Debug for CellMapping {
    // The URLs hold passwords.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CellMapping")
            .field("uuid", &self.uuid)
            .field("name", &self.name)
            .field("disabled", &self.disabled)
            .finish_non_exhaustive()
    }
}

/// One instance as Nova's cell database holds it (`instances` ⟕
/// `instance_extra`), found for the caller: hidden rows are never found,
/// deleted ones are (as nova-api finds them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NovaServer {
    /// `instances.uuid`.
    pub uuid: ServerId,
    /// `instances.id`: the Instance primitive's `id`, which nova-compute
    /// cannot lazy-load.
    pub id: i32,
    /// `instances.host`; `None` (or empty in the database) when the
    /// instance is on no host yet: its events answer 422.
    pub host: Option<HostName>,
    /// `instances.project_id`.
    pub project_id: Option<String>,
    /// `instances.user_id`.
    pub user_id: Option<String>,
    /// `instances.vm_state` (`active`, `building`…).
    pub vm_state: Option<String>,
    /// `instances.task_state` (`None` when idle).
    pub task_state: Option<String>,
    /// `instances.power_state` (Nova's numbers: 1 running, 4 shutdown…).
    pub power_state: Option<i32>,
    /// `instances.deleted != 0` (soft-deleted; Nova still delivers).
    pub deleted: bool,
    /// The migration that `instance_extra.migration_context` names, if any.
    pub migration: Option<NovaMigration>,
    /// The cell whose database holds the row.
    pub cell: Arc<CellMapping>,
}

/// The migration a migration context points at (`migrations` row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NovaMigration {
    /// `migrations.id`, from the migration context.
    pub id: i32,
    /// `None`: no such row (Nova raises MigrationNotFound and answers 500;
    /// herald delivers to the instance's host only, and logs it).
    pub row: Option<MigrationRow>,
}

/// The hosts of a `migrations` row, whether or not it is soft-deleted (Nova
/// reads it with `read_deleted="yes"` and does not check its status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationRow {
    /// `migrations.source_compute`.
    pub source_compute: Option<HostName>,
    /// `migrations.dest_compute`.
    pub dest_compute: Option<HostName>,
    /// `migrations.cross_cell_move`: the two ends are in different cells.
    pub cross_cell_move: bool,
    /// For a cross-cell move: the cell of each end, from `host_mappings`
    /// (a host missing there is in the instance's own cell, as for Nova,
    /// which then falls back to the instance's cell).
    pub host_cells: Vec<(HostName, Arc<CellMapping>)>,
}

impl NovaServer {
    /// The hosts an event for this server goes to, each once, the
    /// instance's host first: empty when it has no host (or is in cell0).
    pub fn hosts(&self) -> Vec<HostName> {
        self.placement().delivery_hosts()
    }

    /// The cell whose broker carries the cast to `host`: for a cross-cell
    /// move the cell `host_mappings` gives that host, else the instance's.
    pub fn cell_of(&self, host: &HostName) -> &Arc<CellMapping> {
        self.migration
            .as_ref()
            .and_then(|m| m.row.as_ref())
            .filter(|row| row.cross_cell_move)
            .and_then(|row| row.host_cells.iter().find(|(h, _)| h == host))
            .map_or(&self.cell, |(_, cell)| cell)
    }

    /// Where herald's own wire delivers: the host, and the migration's ends.
    pub fn placement(&self) -> Placement {
        if self.cell.is_cell0() {
            return Placement {
                host: None,
                migration: None,
            };
        }
        let ends = self.migration.as_ref().and_then(|m| m.row.as_ref());
        let migration = ends.and_then(|row| {
            // A migration row without one of its ends still adds the other.
            let source = row
                .source_compute
                .clone()
                .or_else(|| row.dest_compute.clone())?;
            let dest = row.dest_compute.clone().unwrap_or_else(|| source.clone());
            Some(Migration {
                source_compute: source,
                dest_compute: dest,
            })
        });
        Placement {
            host: self.host.clone(),
            migration,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(name: &str) -> HostName {
        HostName::parse(name).unwrap()
    }

    fn cell(uuid: &str) -> Arc<CellMapping> {
        Arc::new(CellMapping {
            uuid: uuid.into(),
            name: None,
            database_connection: String::new(),
            transport_url: String::new(),
            disabled: false,
        })
    }

    fn server(host: Option<&str>, migration: Option<NovaMigration>, in_cell: &str) -> NovaServer {
        NovaServer {
            uuid: ServerId::parse("11111111-0000-0000-0000-00000000000a").unwrap(),
            id: 1,
            host: host.map(h),
            project_id: None,
            user_id: None,
            vm_state: None,
            task_state: None,
            power_state: None,
            deleted: false,
            migration,
            cell: cell(in_cell),
        }
    }

    fn moving(source: Option<&str>, dest: Option<&str>, cross: bool) -> Option<NovaMigration> {
        Some(NovaMigration {
            id: 7,
            row: Some(MigrationRow {
                source_compute: source.map(h),
                dest_compute: dest.map(h),
                cross_cell_move: cross,
                host_cells: vec![(h("b"), cell("other"))],
            }),
        })
    }

    #[test]
    fn hosts_are_the_host_and_the_migration_ends() {
        assert_eq!(server(Some("a"), None, "c1").hosts(), vec![h("a")]);
        let m = server(Some("a"), moving(Some("a"), Some("b"), false), "c1");
        assert_eq!(m.hosts(), vec![h("a"), h("b")]);
        let half = server(Some("a"), moving(None, Some("b"), false), "c1");
        assert_eq!(half.hosts(), vec![h("a"), h("b")]);
        let gone = server(Some("a"), Some(NovaMigration { id: 9, row: None }), "c1");
        assert_eq!(gone.hosts(), vec![h("a")]);
        assert!(
            server(None, moving(Some("a"), Some("b"), false), "c1")
                .hosts()
                .is_empty()
        );
        assert!(
            server(Some("a"), None, CellMapping::CELL0_UUID)
                .hosts()
                .is_empty()
        );
    }

    #[test]
    fn a_cross_cell_end_goes_through_its_own_cell() {
        let cross = server(Some("a"), moving(Some("a"), Some("b"), true), "c1");
        assert_eq!(cross.cell_of(&h("b")).uuid, "other");
        assert_eq!(cross.cell_of(&h("a")).uuid, "c1");
        let same = server(Some("a"), moving(Some("a"), Some("b"), false), "c1");
        assert_eq!(same.cell_of(&h("b")).uuid, "c1");
    }
}
