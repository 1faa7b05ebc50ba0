//! Locking a std mutex shared between tasks. A panic ends one task (a connection, a turn, a
//! channel handler) and must not take the others down with a poisoned lock: every critical
//! section in molt leaves its data consistent at each step (maps, counters, status fields), so
//! the data behind a poisoned lock is still good and is used as is.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// Locks `mutex`, recovering the guard when a task panicked while holding it.
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_still_gives_its_data() {
        let shared = std::sync::Arc::new(Mutex::new(vec![1]));
        let held = std::sync::Arc::clone(&shared);
        let panicked = std::thread::spawn(move || {
            let mut guard = lock(&held);
            guard.push(2);
            panic!("a task panics while holding the lock");
        })
        .join();
        assert!(panicked.is_err());
        assert!(shared.is_poisoned());
        assert_eq!(*lock(&shared), [1, 2]);
    }
}
