//! Failed-authentication limits per client address: a burst of failures locks the address out.

use crate::core::sync::lock;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct AuthLimiter {
    max_failures: u32,
    window: Duration,
    lockout: Duration,
    entries: Mutex<HashMap<IpAddr, Entry>>,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    window_start: Instant,
    failures: u32,
    locked_until: Option<Instant>,
}

/// Addresses tracked at most; the oldest are forgotten past this, so memory stays bounded.
const MAX_TRACKED: usize = 10_000;

impl Default for AuthLimiter {
    /// 10 failures a minute, then a 5-minute lockout.
    fn default() -> Self {
        Self::new(10, Duration::from_secs(60), Duration::from_secs(300))
    }
}

impl AuthLimiter {
    pub fn new(max_failures: u32, window: Duration, lockout: Duration) -> Self {
        Self { max_failures, window, lockout, entries: Mutex::new(HashMap::new()) }
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
        if entries.len() >= MAX_TRACKED && !entries.contains_key(&address) {
            let horizon = self.window.max(self.lockout);
            entries.retain(|_, entry| now.duration_since(entry.window_start) < horizon);
            if entries.len() >= MAX_TRACKED {
                return;
            }
        }
        let entry = entries.entry(address).or_insert(Entry { window_start: now, failures: 0, locked_until: None });
        if now.duration_since(entry.window_start) > self.window {
            *entry = Entry { window_start: now, failures: 0, locked_until: None };
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
}
