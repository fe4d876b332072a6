//! Rows as stored, and their re-validation into domain types.
//!
//! A row is read back as plain text and integers and parsed again, so a
//! row written by hand or by an older version is an error, not a panic.

use time::OffsetDateTime;

use super::error::{CorruptRow, DirectoryError};
use super::{Entry, NewEntry};
use crate::model::{HostName, Migration, Placement, ServerId};

/// `(uuid, host, source_compute, dest_compute, updated_at)` as selected by
/// [`super::sql::COLUMNS`].
pub(crate) type RawRow = (String, Option<String>, Option<String>, Option<String>, i64);

/// The columns of one entry, ready to bind.
pub(crate) struct Columns {
    pub uuid: String,
    pub host: Option<String>,
    pub source_compute: Option<String>,
    pub dest_compute: Option<String>,
    pub updated_at: i64,
}

impl Columns {
    pub fn new(entry: &NewEntry, updated_at: i64) -> Self {
        let migration = entry.placement.migration.as_ref();
        Self {
            uuid: entry.uuid.canonical(),
            host: entry.placement.host.as_ref().map(|h| h.as_str().to_owned()),
            source_compute: migration.map(|m| m.source_compute.as_str().to_owned()),
            dest_compute: migration.map(|m| m.dest_compute.as_str().to_owned()),
            updated_at,
        }
    }
}

/// Now, in milliseconds since the Unix epoch (the stored `updated_at`).
pub(crate) fn now_ms() -> i64 {
    let ms = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    i64::try_from(ms).expect("milliseconds since 1970 fit an i64 for 292 million years")
}

/// Formats stored milliseconds as RFC 3339 UTC.
pub(crate) fn format_ms(ms: i64) -> Option<String> {
    let at = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok()?;
    Some(crate::support::timestamp::format_rfc3339(at))
}

/// The entry a write produces, without reading it back.
pub(crate) fn written(entry: NewEntry, updated_at: i64) -> Result<Entry, DirectoryError> {
    let uuid = entry.uuid;
    let updated_at = format_ms(updated_at)
        .ok_or_else(|| corrupt(&uuid.canonical(), CorruptRow::Timestamp(updated_at)))?;
    Ok(Entry {
        uuid,
        host: entry.placement.host,
        migration: entry.placement.migration,
        updated_at,
    })
}

/// Re-validates a stored row into an entry.
pub(crate) fn entry(row: RawRow) -> Result<Entry, DirectoryError> {
    let (uuid, host, source, dest, updated_at) = row;
    let parsed = parse(&uuid, host, source, dest, updated_at).map_err(|e| corrupt(&uuid, e))?;
    Ok(parsed)
}

/// Re-validates a stored row into a server id and its placement: the same
/// checks as [`entry`], without formatting the timestamp nobody reads.
pub(crate) fn placement(row: RawRow) -> Result<(ServerId, Placement), DirectoryError> {
    let (uuid, host, source, dest, updated_at) = row;
    let checked = placed(&uuid, host, source, dest).and_then(|(id, placement)| {
        let at = i128::from(updated_at) * 1_000_000;
        OffsetDateTime::from_unix_timestamp_nanos(at)
            .map(|_| (id, placement))
            .map_err(|_| CorruptRow::Timestamp(updated_at))
    });
    checked.map_err(|e| corrupt(&uuid, e))
}

fn parse(
    uuid: &str,
    host: Option<String>,
    source: Option<String>,
    dest: Option<String>,
    updated_at: i64,
) -> Result<Entry, CorruptRow> {
    let (id, placement) = placed(uuid, host, source, dest)?;
    let updated_at = format_ms(updated_at).ok_or(CorruptRow::Timestamp(updated_at))?;
    Ok(Entry {
        uuid: id,
        host: placement.host,
        migration: placement.migration,
        updated_at,
    })
}

/// The id and placement columns, checked.
fn placed(
    uuid: &str,
    host: Option<String>,
    source: Option<String>,
    dest: Option<String>,
) -> Result<(ServerId, Placement), CorruptRow> {
    let id = ServerId::parse(uuid)
        .filter(|id| id.is_canonical(uuid))
        .ok_or(CorruptRow::Uuid)?;
    let host = host.map(|h| host_name("host", &h)).transpose()?;
    let migration = match (source, dest) {
        (None, None) => None,
        (Some(s), Some(d)) => Some(Migration {
            source_compute: host_name("source_compute", &s)?,
            dest_compute: host_name("dest_compute", &d)?,
        }),
        _ => return Err(CorruptRow::HalfMigration),
    };
    Ok((id, Placement { host, migration }))
}

fn host_name(column: &'static str, text: &str) -> Result<HostName, CorruptRow> {
    HostName::parse(text).map_err(|source| CorruptRow::Host { column, source })
}

fn corrupt(uuid: &str, source: CorruptRow) -> DirectoryError {
    DirectoryError::Corrupt {
        uuid: uuid.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "3df201cf-2451-44f2-8d25-a4ca826fc1f3";

    fn row(uuid: &str, host: Option<&str>, s: Option<&str>, d: Option<&str>) -> RawRow {
        let own = |v: Option<&str>| v.map(str::to_owned);
        (
            uuid.to_owned(),
            own(host),
            own(s),
            own(d),
            1_795_773_600_123,
        )
    }

    #[test]
    fn valid_rows_round_trip() {
        let e = entry(row(ID, Some("a"), Some("a"), Some("b"))).unwrap();
        assert_eq!(e.uuid.canonical(), ID);
        assert_eq!(e.migration.unwrap().dest_compute.as_str(), "b");
        assert_eq!(e.updated_at, "2026-11-27T10:00:00.123Z");
    }

    #[test]
    fn corrupt_rows_are_errors() {
        let bad = [
            row("nope", None, None, None),
            row(&ID.to_uppercase(), None, None, None),
            row(ID, Some("a b"), None, None),
            row(ID, Some("a"), Some("a"), None),
            row(ID, None, Some("a"), Some("#")),
        ];
        for r in bad {
            assert!(matches!(
                entry(r.clone()),
                Err(DirectoryError::Corrupt { .. })
            ));
            assert!(matches!(placement(r), Err(DirectoryError::Corrupt { .. })));
        }
        let mut r = row(ID, None, None, None);
        r.4 = i64::MAX;
        for checked in [entry(r.clone()).map(|_| ()), placement(r).map(|_| ())] {
            assert!(matches!(
                checked,
                Err(DirectoryError::Corrupt {
                    source: CorruptRow::Timestamp(_),
                    ..
                })
            ));
        }
    }
}
