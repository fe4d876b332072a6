//! The queries herald runs on a cell database, as nova-api reads it:
//! `instances` ⟕ `instance_extra` for the batch's uuids mapped to the cell
//! (hidden rows excluded, deleted rows included, the caller's project only
//! unless the caller is admin), then the `migrations` rows the migration
//! contexts name (soft-deleted ones included).

use super::pool::{NovaPool, fetch_all, placeholders};

/// One `instances` row with its `instance_extra.migration_context`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstanceRow {
    pub uuid: String,
    pub id: i32,
    pub host: Option<String>,
    pub deleted: bool,
    pub project_id: Option<String>,
    pub user_id: Option<String>,
    pub vm_state: Option<String>,
    pub task_state: Option<String>,
    pub power_state: Option<i32>,
    /// The migration the context names; `Err` holds a context herald could
    /// not read (not JSON, or no `migration_id`).
    pub migration_id: Option<Result<i32, ()>>,
}

/// One `migrations` row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationColumns {
    pub id: i32,
    pub source_compute: Option<String>,
    pub dest_compute: Option<String>,
    pub cross_cell_move: bool,
}

type Row = (
    String,
    i32,
    Option<String>,
    Option<i32>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<i32>,
    Option<String>,
);

/// The rows of `uuids` the caller may see: every project's when `project`
/// is `None` (an admin caller), else that project's only.
pub async fn instances(
    pool: &NovaPool,
    uuids: &[String],
    project: Option<&str>,
) -> Result<Vec<InstanceRow>, sqlx::Error> {
    let dialect = pool.dialect();
    let mut sql = format!(
        "SELECT i.uuid, i.id, i.host, i.deleted, i.project_id, i.user_id, i.vm_state, \
         i.task_state, i.power_state, ie.migration_context \
         FROM instances i LEFT OUTER JOIN instance_extra ie ON ie.instance_uuid = i.uuid \
         WHERE i.uuid IN ({}) AND (i.hidden = false OR i.hidden IS NULL)",
        placeholders(dialect, 1, uuids.len())
    );
    let mut binds: Vec<&str> = uuids.iter().map(String::as_str).collect();
    if let Some(project) = project {
        sql.push_str(&format!(
            " AND i.project_id = {}",
            placeholders(dialect, uuids.len() + 1, 1)
        ));
        binds.push(project);
    }
    let rows = fetch_all!(pool, Row, sql, binds)?;
    Ok(rows.into_iter().map(instance).collect())
}

fn instance(row: Row) -> InstanceRow {
    let (uuid, id, host, deleted, project_id, user_id, vm_state, task_state, power_state, context) =
        row;
    InstanceRow {
        uuid,
        id,
        host,
        deleted: deleted.unwrap_or(0) != 0,
        project_id,
        user_id,
        vm_state,
        task_state,
        power_state,
        migration_id: context.as_deref().and_then(migration_id),
    }
}

/// The `migration_id` of a serialised MigrationContext
/// (`{"nova_object.data": {"migration_id": N, …}, …}`); `None` for a JSON
/// `null` (what Nova stores once a migration is done).
fn migration_id(context: &str) -> Option<Result<i32, ()>> {
    let value: serde_json::Value = match serde_json::from_str(context) {
        Ok(value) => value,
        Err(_) => return Some(Err(())),
    };
    if value.is_null() {
        return None;
    }
    let id = value
        .get("nova_object.data")
        .and_then(|data| data.get("migration_id"))
        .and_then(serde_json::Value::as_i64)
        .and_then(|id| i32::try_from(id).ok());
    Some(id.ok_or(()))
}

/// The `migrations` rows of `ids`, deleted or not.
pub async fn migrations(
    pool: &NovaPool,
    ids: &[i32],
) -> Result<Vec<MigrationColumns>, sqlx::Error> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT id, source_compute, dest_compute, cross_cell_move FROM migrations \
         WHERE id IN ({})",
        placeholders(pool.dialect(), 1, ids.len())
    );
    type Columns = (i32, Option<String>, Option<String>, Option<bool>);
    let rows = fetch_all!(pool, Columns, sql, ids.iter().copied())?;
    Ok(rows
        .into_iter()
        .map(
            |(id, source_compute, dest_compute, cross)| MigrationColumns {
                id,
                source_compute,
                dest_compute,
                cross_cell_move: cross.unwrap_or(false),
            },
        )
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migration_context_as_nova_stores_it() {
        let stored = r#"{"nova_object.name": "MigrationContext", "nova_object.namespace": "nova",
            "nova_object.version": "1.2", "nova_object.data": {"instance_uuid": "x",
            "migration_id": 42, "new_numa_topology": null}, "nova_object.changes": []}"#;
        assert_eq!(migration_id(stored), Some(Ok(42)));
        assert_eq!(migration_id("null"), None);
        assert_eq!(migration_id("{not json"), Some(Err(())));
        assert_eq!(migration_id(r#"{"nova_object.data": {}}"#), Some(Err(())));
    }
}
