//! One round of tool calls: every call the model asked for at once runs concurrently, each
//! within its timeout, each result cut to the size limit, answered in the order asked. Dropping
//! the round (an abort) drops every call still running.

use std::time::Duration;

use futures_util::future::join_all;

use super::{Registry, ToolContext, ToolOutput};
use crate::core::asker::Rights;
use crate::daemon::providers::{ToolImage, ToolUse};

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
    pub images: Vec<ToolImage>,
}

/// Images in one result at most, and their base64 bytes together at most: a picture costs
/// the model's context like text does.
const MAX_IMAGES: usize = 4;
const MAX_IMAGE_BYTES: usize = 5 * 1024 * 1024;

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
        let (output, is_error) = match registry.permitted(&call.name, rights) {
            Err(refusal) => {
                tracing::info!(tool = %call.name, ?rights, "a tool call was refused");
                (ToolOutput::from(refusal.to_string()), true)
            }
            Ok(tool) => {
                let limit = tool.call_timeout(limits.call_timeout);
                match tokio::time::timeout(limit, tool.call_output(call.input.clone(), context)).await {
                    Ok(Ok(output)) => (output, false),
                    Ok(Err(error)) => (ToolOutput::from(error.to_string()), true),
                    Err(_) => {
                        let text = format!("`{}` did not finish within {}", call.name, spoken(limit));
                        (ToolOutput::from(text), true)
                    }
                }
            }
        };
        let (text, images) = bounded_images(output);
        let outcome = CallOutcome { call: call.clone(), result: cut(text, limits.max_result_bytes), is_error, images };
        on_done(&outcome);
        outcome
    });
    join_all(runs).await
}

/// The output's images within [`MAX_IMAGES`] and [`MAX_IMAGE_BYTES`]; those left out are
/// named in the text.
pub(super) fn bounded_images(output: ToolOutput) -> (String, Vec<ToolImage>) {
    let ToolOutput { mut text, images } = output;
    let mut kept = Vec::new();
    let mut bytes = 0;
    let mut dropped = 0;
    for image in images {
        if kept.len() < MAX_IMAGES && bytes + image.data.len() <= MAX_IMAGE_BYTES {
            bytes += image.data.len();
            kept.push(image);
        } else {
            dropped += 1;
        }
    }
    if dropped > 0 {
        text.push_str(&format!("\n[{dropped} more image(s) left out: too many or too large]"));
    }
    (text, kept)
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
