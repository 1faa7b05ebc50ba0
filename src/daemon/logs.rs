//! The daemon's recent log lines for `logs.tail`: a bounded in-memory ring fed by a tracing
//! layer ([`RingLayer`], installed next to the stderr logger). Each line is one JSON object,
//! encoded once; the ring forgets the oldest lines and tells a reader that fell behind.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Mutex, OnceLock};

use serde_json::{Map, Value, json};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, Layer};

use crate::core::sync::lock;
use crate::core::time::now_ms;

/// Lines kept; older ones are dropped.
pub const CAPACITY: usize = 2000;
/// Longest line kept, in bytes; longer messages are cut.
const MAX_LINE: usize = 4096;
const DEFAULT_LIMIT: usize = 200;
const MAX_LIMIT: usize = 1000;

pub struct LogRing {
    state: Mutex<Ring>,
}

struct Ring {
    lines: VecDeque<String>,
    /// Sequence number of the next line; the first kept line is `next - lines.len()`.
    next: u64,
}

pub use crate::core::protocol::logs::LogSlice as Slice;

impl LogRing {
    pub fn new() -> Self {
        Self { state: Mutex::new(Ring { lines: VecDeque::with_capacity(CAPACITY), next: 0 }) }
    }

    pub fn push(&self, mut line: String) {
        if line.len() > MAX_LINE {
            let mut end = MAX_LINE;
            while !line.is_char_boundary(end) {
                end -= 1;
            }
            line.truncate(end);
        }
        let mut ring = lock(&self.state);
        if ring.lines.len() == CAPACITY {
            ring.lines.pop_front();
        }
        ring.lines.push_back(line);
        ring.next += 1;
    }

    /// Lines from `cursor` on (the last `limit` when `cursor` is `None`), at most `limit`.
    pub fn read(&self, cursor: Option<u64>, limit: usize) -> Slice {
        let ring = lock(&self.state);
        let first = ring.next - ring.lines.len() as u64;
        let (start, truncated, reset) = match cursor {
            None => (ring.next.saturating_sub(limit as u64).max(first), false, false),
            Some(cursor) if cursor > ring.next => (first, false, true),
            Some(cursor) if cursor < first => (first, true, false),
            Some(cursor) => (cursor, false, false),
        };
        let skip = usize::try_from(start - first).unwrap_or(usize::MAX);
        let lines: Vec<String> = ring.lines.iter().skip(skip).take(limit).cloned().collect();
        Slice { cursor: start + lines.len() as u64, lines, truncated, reset }
    }
}

impl Default for LogRing {
    fn default() -> Self {
        Self::new()
    }
}

/// The process's ring, shared by the logging layer and the `logs.tail` method.
pub fn global() -> &'static LogRing {
    static RING: OnceLock<LogRing> = OnceLock::new();
    RING.get_or_init(LogRing::new)
}

/// `logs.tail {cursor?, limit?}` → `{cursor, lines[], truncated, reset}`.
pub fn tail(cursor: Option<u64>, limit: Option<u64>) -> Slice {
    let limit = limit.map_or(DEFAULT_LIMIT, |limit| usize::try_from(limit).unwrap_or(MAX_LIMIT)).clamp(1, MAX_LIMIT);
    global().read(cursor, limit)
}

/// A tracing layer that writes every event it sees into [`global`] as a JSON line.
pub struct RingLayer;

impl<S: tracing::Subscriber> Layer<S> for RingLayer {
    fn on_event(&self, event: &tracing::Event<'_>, _context: Context<'_, S>) {
        let mut visitor = FieldVisitor::default();
        event.record(&mut visitor);
        let metadata = event.metadata();
        let mut line = json!({
            "ts": now_ms(),
            "level": metadata.level().as_str(),
            "target": metadata.target(),
            "message": visitor.message,
        });
        if !visitor.fields.is_empty() {
            line["fields"] = Value::Object(visitor.fields);
        }
        global().push(line.to_string());
    }
}

#[derive(Default)]
struct FieldVisitor {
    message: String,
    fields: Map<String, Value>,
}

impl Visit for FieldVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, Value::String(value.to_owned()));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, json!(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, json!(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, json!(value));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.put(field, Value::String(text));
    }
}

impl FieldVisitor {
    fn put(&mut self, field: &Field, value: Value) {
        if field.name() == "message" {
            self.message = match value {
                Value::String(text) => text,
                other => other.to_string(),
            };
        } else {
            self.fields.insert(field.name().to_owned(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_follow_the_cursor_and_report_what_was_dropped() {
        let ring = LogRing::new();
        for n in 0..5 {
            ring.push(format!("line {n}"));
        }
        let last_two = ring.read(None, 2);
        assert_eq!(last_two.lines, ["line 3", "line 4"]);
        assert_eq!(last_two.cursor, 5);
        let from_one = ring.read(Some(1), 2);
        assert_eq!((from_one.lines.len(), from_one.cursor), (2, 3));
        assert!(ring.read(Some(5), 10).lines.is_empty());
        let ahead = ring.read(Some(99), 10);
        assert!(ahead.reset && ahead.lines.len() == 5);
    }

    #[test]
    fn the_ring_is_bounded_and_a_slow_reader_learns_it_missed_lines() {
        let ring = LogRing::new();
        for n in 0..CAPACITY + 10 {
            ring.push(format!("{n}"));
        }
        let slice = ring.read(Some(0), 5);
        assert!(slice.truncated);
        assert_eq!(slice.lines[0], "10");
        assert_eq!(slice.cursor, 15);
        ring.push("é".repeat(MAX_LINE));
        let long = ring.read(None, 1);
        assert!(long.lines[0].len() <= MAX_LINE);
    }

    #[test]
    fn the_limit_is_clamped() {
        assert!(tail(None, Some(0)).lines.len() <= 1);
        assert!(tail(None, Some(u64::MAX)).lines.len() <= MAX_LIMIT);
    }

    #[test]
    fn the_layer_records_message_level_target_and_fields() {
        use tracing_subscriber::layer::SubscriberExt;
        let subscriber = tracing_subscriber::registry().with(RingLayer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(address = "127.0.0.1:1", attempts = 3, "ring layer test line");
        });
        let found =
            global().read(None, MAX_LIMIT).lines.into_iter().rev().find(|line| line.contains("ring layer test line"));
        let line: Value = serde_json::from_str(&found.expect("the line was recorded")).unwrap();
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["fields"]["attempts"], 3);
        assert_eq!(line["fields"]["address"], "127.0.0.1:1");
    }
}
