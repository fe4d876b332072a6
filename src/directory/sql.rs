//! Query texts shared by both backends (sqlx maps `$N` on SQLite too), and
//! the few built at runtime from constant fragments only.

use sqlx::AssertSqlSafe;

/// The columns every read selects, in [`super::row::RawRow`] order.
pub(crate) const COLUMNS: &str = "uuid, host, source_compute, dest_compute, updated_at";

pub(crate) const GET: &str =
    "SELECT uuid, host, source_compute, dest_compute, updated_at FROM servers WHERE uuid = $1";

/// Creates or replaces; safe for concurrent writers of the same uuid.
pub(crate) const UPSERT: &str =
    "INSERT INTO servers (uuid, host, source_compute, dest_compute, updated_at)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (uuid) DO UPDATE SET
         host = excluded.host,
         source_compute = excluded.source_compute,
         dest_compute = excluded.dest_compute,
         updated_at = excluded.updated_at";

pub(crate) const DELETE: &str = "DELETE FROM servers WHERE uuid = $1";

pub(crate) const PING: &str = "SELECT 1";

/// PostgreSQL batch lookup: one statement whatever the batch size.
pub(crate) const LOOKUP_ANY: &str =
    "SELECT uuid, host, source_compute, dest_compute, updated_at FROM servers WHERE uuid = ANY($1)";

/// SQLite batch lookup: the ids travel as one JSON array, so one prepared
/// statement serves every batch size (and no batch meets SQLite's limit on
/// bound variables).
pub(crate) const LOOKUP_JSON: &str = "SELECT uuid, host, source_compute, dest_compute, updated_at \
     FROM servers WHERE uuid IN (SELECT value FROM json_each($1))";

/// A `list` query. Binds, in order: the host if `by_host`, the marker if
/// `after_marker`, then the limit.
pub(crate) fn list(by_host: bool, after_marker: bool) -> AssertSqlSafe<String> {
    let mut conditions = Vec::new();
    let mut next = 1;
    if by_host {
        conditions.push(format!("host = ${next}"));
        next += 1;
    }
    if after_marker {
        conditions.push(format!("uuid > ${next}"));
        next += 1;
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", conditions.join(" AND "))
    };
    AssertSqlSafe(format!(
        "SELECT {COLUMNS} FROM servers{filter} ORDER BY uuid LIMIT ${next}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_numbers_its_placeholders_in_bind_order() {
        assert!(
            list(false, false)
                .0
                .ends_with("FROM servers ORDER BY uuid LIMIT $1")
        );
        assert!(
            list(true, false)
                .0
                .contains("WHERE host = $1 ORDER BY uuid LIMIT $2")
        );
        assert!(
            list(false, true)
                .0
                .contains("WHERE uuid > $1 ORDER BY uuid LIMIT $2")
        );
        assert!(
            list(true, true)
                .0
                .contains("WHERE host = $1 AND uuid > $2 ORDER BY uuid LIMIT $3")
        );
    }

    #[test]
    fn lookups_select_the_row_columns() {
        assert!(LOOKUP_JSON.starts_with(&format!("SELECT {COLUMNS} ")));
        assert!(GET.starts_with(&format!("SELECT {COLUMNS} ")));
        assert!(LOOKUP_ANY.starts_with(&format!("SELECT {COLUMNS} ")));
    }
}
