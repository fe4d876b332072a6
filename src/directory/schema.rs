//! The `servers` table, as each backend creates it on start-up or first use.
//!
//! `updated_at` is epoch milliseconds (BIGINT) so both backends store the
//! same thing and it comes back as RFC 3339 UTC without time-zone games.

/// SQLite: byte-wise (BINARY) text comparison is the default, so `ORDER BY
/// uuid` matches the canonical UUID order.
pub(crate) const SQLITE: &[&str] = &[
    "CREATE TABLE IF NOT EXISTS servers (
        uuid TEXT NOT NULL PRIMARY KEY,
        host TEXT NULL,
        source_compute TEXT NULL,
        dest_compute TEXT NULL,
        updated_at BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS servers_host_uuid ON servers (host, uuid)",
];

/// PostgreSQL: `COLLATE "C"` keeps ordering and `uuid > marker` byte-wise
/// whatever the database locale.
pub(crate) const POSTGRES: &[&str] = &[
    r#"CREATE TABLE IF NOT EXISTS servers (
        uuid TEXT COLLATE "C" NOT NULL PRIMARY KEY,
        host TEXT NULL,
        source_compute TEXT NULL,
        dest_compute TEXT NULL,
        updated_at BIGINT NOT NULL
    )"#,
    "CREATE INDEX IF NOT EXISTS servers_host_uuid ON servers (host, uuid)",
];

/// Serialises schema creation between replicas starting together:
/// concurrent `CREATE TABLE IF NOT EXISTS` can still collide in PostgreSQL's
/// catalogue. An arbitrary constant, the same in every replica.
pub(crate) const POSTGRES_LOCK_KEY: i64 = 0x6865_7261_6c64; // "herald"
