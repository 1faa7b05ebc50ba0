//! One round of tool calls: every call the model asked for at once runs concurrently, each
//! within its timeout, each result cut to the size limit, answered in the order asked. Dropping
//! the round (an abort) drops every call still running.

use std::time::Duration;

use futures_util::future::join_all;

use super::{Registry, ToolContext};
use crate::core::asker::Rights;
use crate::daemon::providers::ToolUse;

#[derive(Debug, Clone, Copy)]
pub struct RoundLimits {
    pub call_timeout: Duration,
    pub max_result_bytes: usize,
}

/// A call and how it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct CallOutcome {
    pub call: ToolUse,
    pub result: String,
    pub is_error: bool,
}

/// Runs `calls` for `rights`; `on_start` and `on_done` see each call begin and end, in the
/// order they happen.
pub async fn run_round(
    registry: &Registry,
    calls: &[ToolUse],
    rights: Rights,
    context: &ToolContext,
    limits: RoundLimits,
    on_start: &(dyn Fn(&ToolUse) + Send + Sync),
    on_done: &(dyn Fn(&CallOutcome) + Send + Sync),
) -> Vec<CallOutcome> {
    let runs = calls.iter().map(|call| async move {
        on_start(call);
        let (result, is_error) = match registry.permitted(&call.name, rights) {
            Err(refusal) => {
                tracing::info!(tool = %call.name, ?rights, "a tool call was refused");
                (refusal.to_string(), true)
            }
            Ok(tool) => match tokio::time::timeout(limits.call_timeout, tool.call(call.input.clone(), context)).await {
                Ok(Ok(result)) => (result, false),
                Ok(Err(error)) => (error.to_string(), true),
                Err(_) => (format!("`{}` did not finish within {}", call.name, spoken(limits.call_timeout)), true),
            },
        };
        let outcome = CallOutcome { call: call.clone(), result: cut(result, limits.max_result_bytes), is_error };
        on_done(&outcome);
        outcome
    });
    join_all(runs).await
}

/// `60 s`, or `50 ms` below a second.
pub(super) fn spoken(duration: Duration) -> String {
    match duration.as_millis() {
        millis if millis % 1000 == 0 => format!("{} s", millis / 1000),
        millis => format!("{millis} ms"),
    }
}

/// `text` within `max_bytes`, cut on a character boundary with a note saying so.
pub fn cut(text: String, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[cut: the result was {} bytes; only the first {end} are shown]", &text[..end], text.len())
}
