//! Locking the std mutexes that hold Folio's short-lived shared state.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, taking the data even if another thread panicked while
/// holding it: every critical section in Folio is a single read, insert,
/// remove or replace, so a panic elsewhere cannot leave it half-updated.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
