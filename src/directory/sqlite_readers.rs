//! Connections of their own for the SQLite lookups of a file database.
//!
//! A pooled connection costs every query more than the query: the pool
//! pings the connection's thread when it goes back, from a task spawned to
//! take it there. The lookups (at most
//! [`super::shared_lookup::QUERIES_AT_ONCE`] at once) use plain
//! connections instead, one per slot, opened on first use and kept between
//! queries. A connection whose query failed or was cut short (a timeout)
//! is dropped, and the next lookup on its slot opens a new one, as the
//! pool would. Each query reads in its own transaction, so a lookup sees
//! every write committed before it started, whichever connection made it.

use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::ConnectOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use tokio::sync::{Mutex, MutexGuard};

/// The lookups' connections.
#[derive(Debug)]
pub(crate) struct Readers {
    options: SqliteConnectOptions,
    slots: Vec<Mutex<Option<SqliteConnection>>>,
    closed: AtomicBool,
}

impl Readers {
    /// `count` slots, each opened with `options` when first used.
    pub fn new(options: SqliteConnectOptions, count: usize) -> Self {
        Self {
            options,
            slots: (0..count.max(1)).map(|_| Mutex::new(None)).collect(),
            closed: AtomicBool::new(false),
        }
    }

    /// A connection of a free slot (opened now if it has none), and the
    /// slot to give it back to with [`Reader::keep`].
    pub async fn take(&self) -> Result<Reader<'_>, sqlx::Error> {
        if self.closed.load(Ordering::Acquire) {
            return Err(sqlx::Error::PoolClosed);
        }
        let mut slot = self.free_slot().await;
        let connection = match slot.take() {
            Some(connection) => connection,
            None => self.options.connect().await?,
        };
        Ok(Reader { slot, connection })
    }

    /// The first slot not in use, else (all busy) the first one's turn.
    async fn free_slot(&self) -> MutexGuard<'_, Option<SqliteConnection>> {
        for slot in &self.slots {
            if let Ok(guard) = slot.try_lock() {
                return guard;
            }
        }
        self.slots[0].lock().await
    }

    /// Closes every kept connection; later lookups fail as the pool's do.
    pub async fn close(&self) {
        self.closed.store(true, Ordering::Release);
        for slot in &self.slots {
            let connection = slot.lock().await.take();
            if let Some(connection) = connection {
                let _ = sqlx::Connection::close(connection).await;
            }
        }
    }
}

/// A slot's connection, taken out of it for one query.
pub(crate) struct Reader<'a> {
    slot: MutexGuard<'a, Option<SqliteConnection>>,
    pub connection: SqliteConnection,
}

impl Reader<'_> {
    /// Puts the connection back for the next lookup (after a query that
    /// worked; otherwise dropping the reader drops the connection).
    pub fn keep(self) {
        let Reader {
            mut slot,
            connection,
        } = self;
        *slot = Some(connection);
    }
}
