//! Why the directory could not answer, and how a driver error is classified.
//!
//! Every variant keeps its cause as a `#[source]`; nothing is flattened
//! into a string.

use std::sync::Arc;

use crate::model::HostNameError;

/// Why the directory could not answer. Every variant means "unavailable" to
/// the API (whole-request 503), never a wrong answer.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The database could not be reached in time (no connection within
    /// `acquire_timeout`, connection refused or lost, SQLite busy).
    #[error("directory database unreachable")]
    Unavailable(#[source] sqlx::Error),
    /// The database answered with an error.
    #[error("directory query failed")]
    Query(#[source] sqlx::Error),
    /// `directory.url` cannot be understood by the chosen backend.
    #[error("directory url is not usable")]
    BadUrl(#[source] sqlx::Error),
    /// The SQLite file's parent directory cannot be created.
    #[error("cannot create directory {path}")]
    CreateDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The failure of a query shared by several requests' lookups.
    #[error(transparent)]
    Shared(Arc<DirectoryError>),
    /// The operation did not finish within `directory.query_timeout`.
    #[error("the directory did not answer within {0:?}")]
    Timeout(std::time::Duration),
    /// The shared query a lookup waited on ended without an answer (the
    /// runtime is shutting down).
    #[error("the directory query was abandoned")]
    Abandoned,
    /// `directory.url` is not a Nova database URL herald can use.
    #[error("directory.url is not usable")]
    NovaUrl(#[source] super::nova::url::UrlError),
    /// A Nova cell's database cannot be reached at all (its URL).
    #[error("a Nova cell's database cannot be reached")]
    Cell(#[source] super::nova::CellError),
    /// The directory is Nova's: herald reads it and never writes it.
    #[error("the instance directory is Nova's; herald only reads it")]
    ReadOnly,
    /// A stored row no longer holds valid values (written by something else).
    #[error("directory row {uuid:?} is corrupt")]
    Corrupt {
        uuid: String,
        #[source]
        source: CorruptRow,
    },
}

/// What is wrong with a stored row.
#[derive(Debug, thiserror::Error)]
pub enum CorruptRow {
    #[error("the uuid is not a canonical UUID")]
    Uuid,
    #[error("column {column}")]
    Host {
        column: &'static str,
        #[source]
        source: HostNameError,
    },
    #[error("a migration has only one of source_compute and dest_compute")]
    HalfMigration,
    #[error("updated_at {0} ms is not a representable instant")]
    Timestamp(i64),
}

impl DirectoryError {
    /// The error itself, seen through a shared query's wrapper.
    pub fn unshared(&self) -> &DirectoryError {
        match self {
            Self::Shared(inner) => inner.unshared(),
            other => other,
        }
    }

    /// Whether the failure is about reaching the database rather than the
    /// query itself; both are a 503 for the API, this only helps logs.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable(_) | Self::Abandoned | Self::Timeout(_) | Self::Cell(_) => true,
            Self::Shared(inner) => inner.is_unavailable(),
            _ => false,
        }
    }
}

/// Sorts a driver error into "could not reach" and "query failed".
pub(crate) fn classify(error: sqlx::Error) -> DirectoryError {
    if is_connectivity(&error) {
        DirectoryError::Unavailable(error)
    } else {
        DirectoryError::Query(error)
    }
}

fn is_connectivity(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| is_unavailable_code(&code)),
        _ => false,
    }
}

/// PostgreSQL connection exceptions (08), resource limits (53), operator
/// intervention (57P); SQLite busy/locked (5, 6).
fn is_unavailable_code(code: &str) -> bool {
    code.starts_with("08")
        || code.starts_with("53")
        || code.starts_with("57P")
        || matches!(code, "5" | "6")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connectivity_errors_are_unavailable() {
        assert!(classify(sqlx::Error::PoolTimedOut).is_unavailable());
        assert!(classify(sqlx::Error::PoolClosed).is_unavailable());
        assert!(!classify(sqlx::Error::RowNotFound).is_unavailable());
        assert!(is_unavailable_code("08006"));
        assert!(is_unavailable_code("57P01"));
        assert!(!is_unavailable_code("23505"));
    }
}
