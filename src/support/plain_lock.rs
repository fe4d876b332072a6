//! Locking a mutex over plain data, poisoning ignored: the one place that
//! decides it for the modules whose locked data is changed in single steps
//! and whose holders never leave it half-updated (a panic elsewhere cannot
//! make it wrong, so refusing it would only turn one failure into many).

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `m`, taking the data even if another holder panicked.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
