//! `logs.tail`'s answer: the gateway's recent log lines from a cursor on.

use serde::{Deserialize, Serialize};

/// The answer to one `logs.tail` request. Each line is one JSON log record, as text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSlice {
    pub cursor: u64,
    pub lines: Vec<String>,
    /// Lines between the reader's cursor and the oldest kept one were dropped.
    #[serde(default)]
    pub truncated: bool,
    /// The cursor was ahead of the gateway's log (it restarted): reading began again.
    #[serde(default)]
    pub reset: bool,
}
