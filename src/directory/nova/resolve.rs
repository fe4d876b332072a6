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

/// Something odd in Nova's rows that the answer works around; the caller
/// logs it (rate-limited: the same row comes back with every batch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Oddity {
    /// The migration context names a migration that is gone: delivered to
    /// the host only (nova-api answers 500).
    MigrationGone { server: ServerId, migration_id: i32 },
    /// The migration context is not a MigrationContext: host only.
    UnreadableContext { server: ServerId },
    /// A host column holds a name that cannot be a routing key: 503.
    UnusableHost { server: ServerId },
}

/// The batch's [`Lookup`], and what was odd on the way.
pub fn resolve(answers: &Answers, caller: &Caller) -> (Lookup, Vec<Oddity>) {
    let mut odd = Vec::new();
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
                .map(|row| server(id, row, cell, answer, &answers.host_cells, &mut odd)),
            _ => Some(Found::Unavailable),
        };
        if let Some(outcome) = outcome {
            found.insert(id, outcome);
        }
    }
    (found, odd)
}

/// A row as the wire needs it; [`Found::Unavailable`] when a host is not a
/// name herald can route to.
fn server(
    id: ServerId,
    row: &InstanceRow,
    cell: &Arc<CellMapping>,
    answer: &CellAnswer,
    host_cells: &HashMap<String, Arc<CellMapping>>,
    odd: &mut Vec<Oddity>,
) -> Found {
    let Ok(host) = host(&row.host) else {
        odd.push(Oddity::UnusableHost { server: id });
        return Found::Unavailable;
    };
    let migration = match row.migration_id {
        None => None,
        Some(Err(())) => {
            odd.push(Oddity::UnreadableContext { server: id });
            None
        }
        Some(Ok(migration_id)) => {
            let columns = answer.migrations.iter().find(|m| m.id == migration_id);
            if columns.is_none() {
                odd.push(Oddity::MigrationGone {
                    server: id,
                    migration_id,
                });
            }
            match columns.map(|m| migration_row(m, host_cells)).transpose() {
                Ok(row) => Some(NovaMigration {
                    id: migration_id,
                    row,
                }),
                Err(()) => {
                    odd.push(Oddity::UnusableHost { server: id });
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

#[cfg(test)]
mod tests {
    use super::*;

    const U1: &str = "11111111-0000-0000-0000-000000000001";
    const U2: &str = "11111111-0000-0000-0000-000000000002";

    fn cell(uuid: &str) -> Arc<CellMapping> {
        Arc::new(CellMapping {
            uuid: uuid.into(),
            name: Some(uuid.into()),
            database_connection: String::new(),
            transport_url: String::new(),
            disabled: false,
        })
    }

    fn mapping(uuid: &str, project: &str, in_cell: Option<&str>) -> MappingRow {
        MappingRow {
            instance_uuid: uuid.into(),
            project_id: project.into(),
            cell: in_cell.map(cell),
        }
    }

    fn row(uuid: &str, host: Option<&str>, migration_id: Option<Result<i32, ()>>) -> InstanceRow {
        InstanceRow {
            uuid: uuid.into(),
            id: 5,
            host: host.map(str::to_owned),
            deleted: false,
            project_id: Some("p1".into()),
            user_id: Some("u1".into()),
            vm_state: Some("active".into()),
            task_state: None,
            power_state: Some(1),
            migration_id,
        }
    }

    fn member() -> Caller {
        Caller {
            user_id: Some("u".into()),
            project_id: Some("p1".into()),
            roles: vec!["service".into()],
        }
    }

    fn id(uuid: &str) -> ServerId {
        ServerId::parse(uuid).unwrap()
    }

    #[test]
    fn unscheduled_mappings_are_scoped_by_their_project() {
        let answers = Answers {
            mappings: vec![mapping(U1, "p1", None), mapping(U2, "p2", None)],
            ..Answers::default()
        };
        let (found, _) = resolve(&answers, &member());
        assert_eq!(found.get(&id(U1)), Some(&Found::Unscheduled));
        assert_eq!(found.get(&id(U2)), None);
        let (found, _) = resolve(&answers, &Caller::admin());
        assert_eq!(found.get(&id(U2)), Some(&Found::Unscheduled));
    }

    #[test]
    fn a_cell_that_did_not_answer_is_unavailable_and_a_missing_row_unknown() {
        let answers = Answers {
            mappings: vec![
                mapping(U1, "p1", Some("down")),
                mapping(U2, "p1", Some("up")),
            ],
            cells: HashMap::from([
                ("down".to_owned(), None),
                ("up".to_owned(), Some(CellAnswer::default())),
            ]),
            ..Answers::default()
        };
        let (found, _) = resolve(&answers, &member());
        assert_eq!(found.get(&id(U1)), Some(&Found::Unavailable));
        assert_eq!(found.get(&id(U2)), None);
    }

    #[test]
    fn rows_become_servers_and_oddities_are_told() {
        let answer = CellAnswer {
            rows: vec![
                row(U1, Some("cmp-1"), Some(Ok(9))),
                row(U2, Some("bad host"), None),
            ],
            migrations: vec![],
        };
        let answers = Answers {
            mappings: vec![mapping(U1, "p1", Some("c1")), mapping(U2, "p1", Some("c1"))],
            cells: HashMap::from([("c1".to_owned(), Some(answer))]),
            ..Answers::default()
        };
        let (found, odd) = resolve(&answers, &member());
        let Some(Found::Nova(server)) = found.get(&id(U1)) else {
            panic!("{found:?}");
        };
        assert_eq!(server.id, 5);
        assert_eq!(server.migration, Some(NovaMigration { id: 9, row: None }));
        assert_eq!(server.hosts(), vec![HostName::parse("cmp-1").unwrap()]);
        assert_eq!(found.get(&id(U2)), Some(&Found::Unavailable));
        assert_eq!(
            odd,
            vec![
                Oddity::MigrationGone {
                    server: id(U1),
                    migration_id: 9
                },
                Oddity::UnusableHost { server: id(U2) }
            ]
        );
    }

    #[test]
    fn an_empty_host_is_no_host() {
        let answers = Answers {
            mappings: vec![mapping(U1, "p1", Some("c1"))],
            cells: HashMap::from([(
                "c1".to_owned(),
                Some(CellAnswer {
                    rows: vec![row(U1, Some(""), None)],
                    migrations: vec![],
                }),
            )]),
            ..Answers::default()
        };
        let (found, _) = resolve(&answers, &member());
        assert_eq!(found[&id(U1)].placement().unwrap().host, None);
    }
}
