//! What replication reports: its state, last shipped change, lag, last error, and the bucket
//! operations of the last hour (R2 bills class A writes and class B reads per operation).

use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::core::sync::lock;
use crate::core::time::now_ms;

/// Requests counted per minute over a sliding hour.
#[derive(Debug, Default)]
pub struct Operations {
    minutes: Mutex<Minutes>,
}

#[derive(Debug, Default)]
struct Minutes {
    /// `(minute index since start, class A, class B)`, at most 60 entries.
    buckets: std::collections::VecDeque<(u64, u64, u64)>,
    total_a: u64,
    total_b: u64,
    started: Option<Instant>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationCounts {
    /// Writes, lists and deletes in the last 60 minutes.
    pub class_a_last_hour: u64,
    /// Reads in the last 60 minutes.
    pub class_b_last_hour: u64,
    pub class_a_total: u64,
    pub class_b_total: u64,
}

impl Operations {
    pub fn class_a(&self) {
        self.count(true);
    }

    pub fn class_b(&self) {
        self.count(false);
    }

    fn count(&self, write: bool) {
        let mut minutes = lock(&self.minutes);
        let minute = minutes.minute_now();
        minutes.expire(minute);
        match minutes.buckets.back_mut() {
            Some(last) if last.0 == minute => {}
            _ => minutes.buckets.push_back((minute, 0, 0)),
        }
        if let Some(last) = minutes.buckets.back_mut() {
            if write { last.1 += 1 } else { last.2 += 1 }
        }
        if write { minutes.total_a += 1 } else { minutes.total_b += 1 }
    }

    pub fn counts(&self) -> OperationCounts {
        let mut minutes = lock(&self.minutes);
        let minute = minutes.minute_now();
        minutes.expire(minute);
        OperationCounts {
            class_a_last_hour: minutes.buckets.iter().map(|bucket| bucket.1).sum(),
            class_b_last_hour: minutes.buckets.iter().map(|bucket| bucket.2).sum(),
            class_a_total: minutes.total_a,
            class_b_total: minutes.total_b,
        }
    }
}

impl Minutes {
    fn minute_now(&mut self) -> u64 {
        let started = *self.started.get_or_insert_with(Instant::now);
        started.elapsed().as_secs() / 60
    }

    fn expire(&mut self, minute: u64) {
        while self.buckets.front().is_some_and(|bucket| bucket.0 + 60 <= minute) {
            self.buckets.pop_front();
        }
    }
}

pub use crate::core::protocol::hello::ReplicationPhase as Phase;

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub phase: Phase,
    /// `endpoint/bucket/prefix`; never credentials.
    pub location: Option<String>,
    pub generation: u64,
    pub last_committed_seq: u64,
    pub last_shipped_seq: u64,
    pub last_shipped_at_ms: Option<i64>,
    /// Age of the oldest change not yet in the bucket (0 when everything is shipped).
    pub lag_ms: u64,
    pub last_error: Option<String>,
    pub last_error_at_ms: Option<i64>,
    pub last_snapshot_seq: Option<u64>,
    pub snapshots: usize,
    pub restored: Option<Restored>,
    pub operations: OperationCounts,
    pub shipping_window_ms: u64,
    /// Set while changes wait longer than the shipping window plus [`DEGRADED_AFTER`]: the
    /// gateway keeps serving, and says how far behind the bucket is.
    pub degraded: Option<String>,
}

/// How far past the shipping window the lag may grow before the gateway reports `degraded`.
pub const DEGRADED_AFTER: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Restored {
    /// `bucket`: the store came from the bucket; `local`: the local store was newer and kept;
    /// `empty`: the bucket was empty.
    pub source: &'static str,
    pub snapshot_seq: Option<u64>,
    pub changes_replayed: u64,
    pub workspace_files: usize,
    pub elapsed_ms: u64,
}

impl Status {
    pub fn off() -> Self {
        Self {
            phase: Phase::Off,
            location: None,
            generation: 0,
            last_committed_seq: 0,
            last_shipped_seq: 0,
            last_shipped_at_ms: None,
            lag_ms: 0,
            last_error: None,
            last_error_at_ms: None,
            last_snapshot_seq: None,
            snapshots: 0,
            restored: None,
            operations: OperationCounts::default(),
            shipping_window_ms: 0,
            degraded: None,
        }
    }

    /// Fills `degraded` from the lag: only an active shipper can be behind.
    pub fn assess(&mut self) {
        let limit = self.shipping_window_ms.saturating_add(millis(DEGRADED_AFTER));
        self.degraded = (self.phase == Phase::Active && self.lag_ms > limit)
            .then(|| format!("replication is {} s behind: changes wait in the local store", self.lag_ms / 1000));
    }

    pub fn error(&mut self, message: impl Into<String>) {
        self.last_error = Some(message.into());
        self.last_error_at_ms = Some(now_ms());
    }
}

/// Milliseconds in a duration, saturating.
pub fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_counted_by_class() {
        let operations = Operations::default();
        operations.class_a();
        operations.class_a();
        operations.class_b();
        let counts = operations.counts();
        assert_eq!((counts.class_a_last_hour, counts.class_b_last_hour), (2, 1));
        assert_eq!((counts.class_a_total, counts.class_b_total), (2, 1));
    }

    #[test]
    fn a_lag_past_the_window_and_thirty_seconds_is_degraded() {
        let mut status = Status { phase: Phase::Active, shipping_window_ms: 1000, ..Status::off() };
        status.lag_ms = 31_000;
        status.assess();
        assert_eq!(status.degraded, None);
        status.lag_ms = 31_001;
        status.assess();
        assert_eq!(status.degraded.as_deref(), Some("replication is 31 s behind: changes wait in the local store"));
        status.phase = Phase::Fenced;
        status.assess();
        assert_eq!(status.degraded, None);
    }

    #[test]
    fn minutes_older_than_an_hour_expire() {
        let mut minutes = Minutes::default();
        minutes.buckets.push_back((0, 5, 5));
        minutes.buckets.push_back((30, 1, 0));
        minutes.expire(60);
        assert_eq!(minutes.buckets.len(), 1);
    }
}
