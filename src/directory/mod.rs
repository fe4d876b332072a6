//! The instance directory: where each server is (its host, an ongoing
//! migration). SQLite (embedded) or PostgreSQL (shared), behind one type.
//!
//! STUB: the real implementation is being written; signatures are the contract.

use std::collections::HashMap;

use serde::Serialize;

use crate::config::DirectoryConfig;
use crate::model::{HostName, Migration, Placement, ServerId};

/// Why the directory could not answer. Every variant means "unavailable" to
/// the API (whole-request 503), never a wrong answer.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("directory database unreachable: {0}")]
    Unavailable(#[source] sqlx::Error),
    #[error("directory query failed: {0}")]
    Query(#[source] sqlx::Error),
}

/// One directory entry as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    pub uuid: ServerId,
    pub host: Option<HostName>,
    pub migration: Option<Migration>,
    /// RFC 3339 UTC.
    pub updated_at: String,
}

/// An entry to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEntry {
    pub uuid: ServerId,
    pub placement: Placement,
}

/// A page of `list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub entries: Vec<Entry>,
    /// The last uuid of the page when the page is full, else `None`.
    pub next_marker: Option<ServerId>,
}

/// Handle to the directory; cheap to clone.
#[derive(Debug, Clone)]
pub struct Directory {}

impl Directory {
    /// Opens the pool. Never fails because the database is down (PostgreSQL
    /// connects lazily and creates the schema on first use); fails only on a
    /// bad URL or an unusable SQLite path.
    pub async fn open(_config: &DirectoryConfig) -> Result<Self, DirectoryError> {
        todo!()
    }

    /// Placement of each known server of `ids`, in ONE query whatever the count.
    pub async fn lookup(
        &self,
        _ids: &[ServerId],
    ) -> Result<HashMap<ServerId, Placement>, DirectoryError> {
        todo!()
    }

    pub async fn get(&self, _id: ServerId) -> Result<Option<Entry>, DirectoryError> {
        todo!()
    }

    /// Creates or replaces.
    pub async fn put(&self, _entry: NewEntry) -> Result<Entry, DirectoryError> {
        todo!()
    }

    /// `true` when an entry was deleted.
    pub async fn delete(&self, _id: ServerId) -> Result<bool, DirectoryError> {
        todo!()
    }

    /// Ordered by uuid; `limit` already clamped to 1..=1000 by the caller.
    pub async fn list(
        &self,
        _host: Option<&HostName>,
        _limit: u32,
        _marker: Option<ServerId>,
    ) -> Result<Page, DirectoryError> {
        todo!()
    }

    /// All or nothing, in one transaction. Returns the number written.
    pub async fn upsert_many(&self, _entries: &[NewEntry]) -> Result<u64, DirectoryError> {
        todo!()
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), DirectoryError> {
        todo!()
    }
}
