//! The prompt's token budget: the model's context window less the reply's `max_tokens`, the
//! stable prefix (system prompt, summary, tool list) and a margin; and when a session's history
//! has grown enough to be compacted. Tokens are estimated from bytes, on the safe side: no
//! tokenizer is shipped, and the provider's own count (the usage it reports) is what is billed.

use crate::core::models;

/// Bytes per token assumed: English prose runs about 4, code and other scripts fewer, so 3
/// over-counts rather than under-counts.
const BYTES_PER_TOKEN: usize = 3;
/// Kept free of the window for what the estimate misses (message framing, tool-use blocks).
const MARGIN_PERCENT: u64 = 5;
/// Compaction starts once history fills this share of its budget…
const COMPACT_AT_PERCENT: u64 = 75;
/// …and keeps this share of it, newest messages, verbatim.
const KEEP_PERCENT: u64 = 25;

/// The estimated tokens of `text`.
pub fn estimate(text: &str) -> u64 {
    text.len().div_ceil(BYTES_PER_TOKEN) as u64
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The model's context window.
    pub context: u64,
    /// Tokens history may take in one request.
    pub history: u64,
}

impl Budget {
    /// The budget for `model` (or the operator's `context_tokens` override) given the reply's
    /// `max_tokens` and the estimated tokens of everything sent before the history.
    pub fn new(model: &str, context_override: Option<u32>, max_tokens: u32, prefix_tokens: u64) -> Self {
        let context = u64::from(context_override.unwrap_or_else(|| models::context_window(model)));
        let margin = context * MARGIN_PERCENT / 100;
        let history =
            context.saturating_sub(u64::from(max_tokens)).saturating_sub(prefix_tokens).saturating_sub(margin);
        Self { context, history }
    }

    /// Whether history of `tokens` should be compacted before the next request.
    pub fn needs_compaction(&self, tokens: u64) -> bool {
        tokens > self.history * COMPACT_AT_PERCENT / 100
    }

    /// Tokens of newest history kept verbatim by a compaction.
    pub fn kept_after_compaction(&self) -> u64 {
        self.history * KEEP_PERCENT / 100
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_leaves_room_for_the_reply_the_prefix_and_a_margin() {
        let budget = Budget::new("claude-sonnet-4-5", None, 4096, 10_000);
        assert_eq!(budget.context, 200_000);
        assert_eq!(budget.history, 200_000 - 4096 - 10_000 - 10_000);
        let small = Budget::new("claude-sonnet-4-5", Some(20_000), 1000, 2000);
        assert_eq!(small.history, 20_000 - 1000 - 2000 - 1000);
        assert!(!small.needs_compaction(12_000));
        assert!(small.needs_compaction(12_001));
        assert_eq!(small.kept_after_compaction(), 4000);
        let starved = Budget::new("x", Some(1000), 4096, 10);
        assert_eq!(starved.history, 0, "never negative");
    }

    #[test]
    fn estimates_round_up() {
        assert_eq!(estimate(""), 0);
        assert_eq!(estimate("abcd"), 2);
        assert_eq!(estimate(&"x".repeat(300)), 100);
    }
}
