//! Failed-authentication limits per client address: a burst of failures locks the address out.

use crate::core::sync::lock;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct AuthLimiter {
    max_failures: u32,
    window: Duration,
    lockout: Duration,
    capacity: usize,
    /// Hands out [`Entry::order`].
    next_order: AtomicU64,
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    window_start: Instant,
    failures: u32,
    locked_until: Option<Instant>,
    /// When this window began, in arrival order: the smallest is the oldest.
    order: u64,
}

/// Addresses tracked at most; past this the oldest are forgotten, so memory stays bounded and
/// a new address is always counted.
const MAX_TRACKED: usize = 10_000;

impl Default for AuthLimiter {
    /// 10 failures a minute, then a 5-minute lockout.
    fn default() -> Self {
        Self::new(10, Duration::from_secs(60), Duration::from_secs(300))
    }
}

impl AuthLimiter {
    pub fn new(max_failures: u32, window: Duration, lockout: Duration) -> Self {
        Self {
            max_failures,
            window,
            lockout,
            capacity: MAX_TRACKED,
            next_order: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The same limits tracking at most `capacity` addresses.
    pub fn with_capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// `Some(wait)` while the address is locked out.
    pub fn locked(&self, address: IpAddr) -> Option<Duration> {
        let now = Instant::now();
        let entries = lock(&self.entries);
        let until = entries.get(&address)?.locked_until?;
        (until > now).then(|| until - now)
    }

    pub fn record_failure(&self, address: IpAddr) {
        let now = Instant::now();
        let mut entries = lock(&self.entries);
        if entries.len() >= self.capacity && !entries.contains_key(&address) {
            let horizon = self.window.max(self.lockout);
            entries.retain(|_, entry| {
                now.duration_since(entry.window_start) < horizon || entry.locked_until.is_some_and(|until| until > now)
            });
            while entries.len() >= self.capacity {
                let Some(oldest) = entries.iter().min_by_key(|(_, entry)| entry.order).map(|(key, _)| *key) else {
                    break;
                };
                entries.remove(&oldest);
            }
        }
        let fresh = || Entry {
            window_start: now,
            failures: 0,
            locked_until: None,
            order: self.next_order.fetch_add(1, Ordering::Relaxed),
        };
        let entry = entries.entry(address).or_insert_with(fresh);
        if now.duration_since(entry.window_start) > self.window {
            *entry = fresh();
        }
        entry.failures += 1;
        if entry.failures >= self.max_failures {
            entry.locked_until = Some(now + self.lockout);
        }
    }

    pub fn record_success(&self, address: IpAddr) {
        let mut entries = lock(&self.entries);
        if entries.get(&address).is_some_and(|entry| entry.locked_until.is_none()) {
            entries.remove(&address);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_out_after_the_limit_and_only_that_address() {
        let limiter = AuthLimiter::new(3, Duration::from_secs(60), Duration::from_secs(300));
        let attacker: IpAddr = [10, 0, 0, 1].into();
        let other: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..2 {
            limiter.record_failure(attacker);
        }
        assert!(limiter.locked(attacker).is_none());
        limiter.record_failure(attacker);
        assert!(limiter.locked(attacker).unwrap() > Duration::from_secs(290));
        assert!(limiter.locked(other).is_none());
        limiter.record_success(attacker);
        assert!(limiter.locked(attacker).is_some(), "a lockout is not lifted by a success");
    }

    #[test]
    fn a_full_table_forgets_the_oldest_and_still_counts_new_addresses() {
        let limiter = AuthLimiter::new(2, Duration::from_secs(60), Duration::from_secs(300)).with_capacity(3);
        let address = |last: u8| IpAddr::from([10, 0, 0, last]);
        for last in 1..=3 {
            limiter.record_failure(address(last));
        }
        let newcomer = address(9);
        limiter.record_failure(newcomer);
        limiter.record_failure(newcomer);
        assert!(limiter.locked(newcomer).is_some(), "a full table still counts a new address");
        let entries = limiter.entries.lock().unwrap();
        assert_eq!(entries.len(), 3);
        assert!(!entries.contains_key(&address(1)), "the oldest entry made room");
    }
}
