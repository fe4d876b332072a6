//! The Nova wire's own statements on a cell database: the `instance_actions`
//! rows nova-api writes before it casts `volume-extended` and
//! `power-update` (nova-compute looks the row up and, without it, skips the
//! event and every later one of the cast), and the lowest nova-compute
//! service version (what `nova_topic = "auto"` follows). herald writes
//! nothing else in Nova's databases.

use super::pool::{NovaPool, fetch_all};
use super::url::Dialect;

/// One `instance_actions` row, as `InstanceAction.action_start` makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRow {
    /// `extend_volume`, `start` or `stop`.
    pub action: &'static str,
    pub instance_uuid: String,
    /// The cast's `_context_request_id`: how nova-compute finds the row.
    pub request_id: String,
    pub user_id: Option<String>,
    pub project_id: Option<String>,
    /// The context's timestamp (`start_time` and `updated_at`), UTC.
    pub start_time: time::PrimitiveDateTime,
}

/// Inserts `rows` (one statement, so they are written together or not at
/// all); `created_at` is now, `deleted` 0, `finish_time` and `message` NULL.
pub async fn insert_actions(pool: &NovaPool, rows: &[ActionRow]) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let dialect = pool.dialect();
    let now = {
        let now = time::OffsetDateTime::now_utc();
        datetime(time::PrimitiveDateTime::new(now.date(), now.time()))
    };
    let mut values = Vec::with_capacity(rows.len());
    let mut binds: Vec<Option<String>> = Vec::with_capacity(rows.len() * 8);
    for row in rows {
        let first = binds.len() + 1;
        let at = |i: usize, timestamp: bool| placeholder(dialect, first + i, timestamp);
        values.push(format!(
            "({}, {}, {}, {}, {}, {}, {}, {}, 0)",
            at(0, true),
            at(1, true),
            at(2, false),
            at(3, false),
            at(4, false),
            at(5, false),
            at(6, false),
            at(7, true),
        ));
        let start = datetime(row.start_time);
        binds.extend([
            Some(now.clone()),
            Some(start.clone()),
            Some(row.action.to_owned()),
            Some(row.instance_uuid.clone()),
            Some(row.request_id.clone()),
            row.user_id.clone(),
            row.project_id.clone(),
            Some(start),
        ]);
    }
    let sql = format!(
        "INSERT INTO instance_actions (created_at, updated_at, action, instance_uuid, \
         request_id, user_id, project_id, start_time, deleted) VALUES {}",
        values.join(", ")
    );
    match pool {
        NovaPool::Mysql(pool) => {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for value in binds {
                query = query.bind(value);
            }
            query.execute(pool).await.map(drop)
        }
        NovaPool::Postgres(pool) => {
            let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
            for value in binds {
                query = query.bind(value);
            }
            query.execute(pool).await.map(drop)
        }
    }
}

/// The lowest `services.version` of the cell's nova-compute services that
/// are not deleted or forced down (Nova's `service_get_minimum_version`);
/// `None` when the cell has none.
pub async fn lowest_compute_version(pool: &NovaPool) -> Result<Option<i64>, sqlx::Error> {
    // `binary` is reserved in MySQL; after a table name it is a plain column.
    let sql = "SELECT MIN(services.version) FROM services WHERE services.binary = 'nova-compute' \
               AND services.deleted = 0 AND services.forced_down = false"
        .to_owned();
    let rows = fetch_all!(pool, (Option<i32>,), sql, std::iter::empty::<i32>())?;
    Ok(rows.first().and_then(|(v,)| *v).map(i64::from))
}

/// A placeholder; timestamps are bound as text and cast (sqlx here has no
/// date types), which both dialects read as a naive UTC `DATETIME`.
fn placeholder(dialect: Dialect, n: usize, timestamp: bool) -> String {
    match (dialect, timestamp) {
        (Dialect::Mysql, false) => "?".to_owned(),
        (Dialect::Mysql, true) => "CAST(? AS DATETIME(6))".to_owned(),
        (Dialect::Postgres, false) => format!("${n}"),
        (Dialect::Postgres, true) => format!("CAST(${n} AS TIMESTAMP)"),
    }
}

/// `2026-12-07 10:11:12.345678`: what both databases parse as a DATETIME.
fn datetime(at: time::PrimitiveDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day] [hour]:[minute]:[second].[subsecond digits:6]"
    );
    at.format(&format)
        .expect("the fixed format has only components every date has")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_cast_timestamps_per_dialect() {
        assert_eq!(placeholder(Dialect::Mysql, 3, false), "?");
        assert_eq!(
            placeholder(Dialect::Mysql, 3, true),
            "CAST(? AS DATETIME(6))"
        );
        assert_eq!(placeholder(Dialect::Postgres, 3, false), "$3");
        assert_eq!(
            placeholder(Dialect::Postgres, 3, true),
            "CAST($3 AS TIMESTAMP)"
        );
        let at = time::macros::datetime!(2026-12-07 10:11:12.345678);
        assert_eq!(datetime(at), "2026-12-07 10:11:12.345678");
    }
}
