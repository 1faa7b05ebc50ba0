//! What the gateway knows of models by name: list prices per million tokens (the estimated cost
//! of a session, in `/status` and `molt chat`) and context windows (the prompt's token budget),
//! matched by model-name prefix. Estimates only; the provider's invoice is the truth.
//!
//! Source: the public pricing pages of Anthropic (`docs.claude.com/en/docs/about-claude/pricing`)
//! and OpenAI (`openai.com/api/pricing`), standard (non-batch) rates in US dollars as published
//! in November 2025. Cache writes are Anthropic's 5-minute rate; OpenAI bills no cache writes.
//! A model that is not in the table (a local Ollama model, a newer release) shows no cost.

use crate::core::protocol::Usage;

/// US dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Price {
    pub input: f64,
    pub output: f64,
    pub cache_read: f64,
    pub cache_write: f64,
}

const fn price(input: f64, output: f64, cache_read: f64, cache_write: f64) -> Price {
    Price { input, output, cache_read, cache_write }
}

/// Model names as the providers spell them; a name matches itself and its dated or suffixed
/// forms (`claude-sonnet-4-5-20250929`, `gpt-4o-mini-2024-07-18`). Longer names first, so
/// `gpt-4o-mini` is not priced as `gpt-4o`. A later version (`claude-sonnet-4-6`) does not
/// match an earlier one: it shows no cost rather than a wrong one.
const TABLE: &[(&str, Price)] = &[
    ("claude-opus-4-5", price(5.0, 25.0, 0.50, 6.25)),
    ("claude-opus-4-1", price(15.0, 75.0, 1.50, 18.75)),
    ("claude-opus-4-0", price(15.0, 75.0, 1.50, 18.75)),
    ("claude-opus-4-20250514", price(15.0, 75.0, 1.50, 18.75)),
    ("claude-sonnet-4-5", price(3.0, 15.0, 0.30, 3.75)),
    ("claude-sonnet-4-0", price(3.0, 15.0, 0.30, 3.75)),
    ("claude-sonnet-4-20250514", price(3.0, 15.0, 0.30, 3.75)),
    ("claude-3-7-sonnet", price(3.0, 15.0, 0.30, 3.75)),
    ("claude-haiku-4-5", price(1.0, 5.0, 0.10, 1.25)),
    ("claude-3-5-haiku", price(0.80, 4.0, 0.08, 1.0)),
    ("gpt-4.1-mini", price(0.40, 1.60, 0.10, 0.0)),
    ("gpt-4.1-nano", price(0.10, 0.40, 0.025, 0.0)),
    ("gpt-4.1", price(2.0, 8.0, 0.50, 0.0)),
    ("gpt-4o-mini", price(0.15, 0.60, 0.075, 0.0)),
    ("gpt-4o", price(2.50, 10.0, 1.25, 0.0)),
    ("gpt-5-mini", price(0.25, 2.0, 0.025, 0.0)),
    ("gpt-5-nano", price(0.05, 0.40, 0.005, 0.0)),
    ("gpt-5", price(1.25, 10.0, 0.125, 0.0)),
];

/// Whether `model` is `known` or one of its dated or suffixed forms, ignoring a provider prefix
/// (`anthropic/claude-…` through AI Gateway).
fn matches(model: &str, known: &str) -> bool {
    let name = model.rsplit('/').next().unwrap_or(model).to_ascii_lowercase();
    name.strip_prefix(known).is_some_and(|rest| rest.is_empty() || rest.starts_with('-') || rest.starts_with(':'))
}

/// The price of a model.
pub fn lookup(model: &str) -> Option<Price> {
    TABLE.iter().find(|(known, _)| matches(model, known)).map(|(_, price)| *price)
}

/// Context windows in tokens by model family, from the providers' model pages; the first match
/// wins, so longer names come first. `:` also separates a local model's tag (`llama3.1:8b`).
const CONTEXT: &[(&str, u32)] = &[
    ("claude", 200_000),
    ("gpt-4.1", 1_047_576),
    ("gpt-4o", 128_000),
    ("gpt-4-turbo", 128_000),
    ("gpt-5", 400_000),
    ("o1", 200_000),
    ("o3", 200_000),
    ("o4-mini", 200_000),
    ("llama3.1", 128_000),
    ("llama3.2", 128_000),
    ("llama3.3", 128_000),
    ("qwen2.5", 32_768),
    ("mistral", 32_768),
];

/// What is assumed of a model the table does not know: small enough for most local servers.
pub const UNKNOWN_CONTEXT_TOKENS: u32 = 32_000;

/// The context window of `model`, in tokens.
pub fn context_window(model: &str) -> u32 {
    let name = model.rsplit('/').next().unwrap_or(model).to_ascii_lowercase();
    CONTEXT.iter().find(|(known, _)| name.starts_with(known)).map_or(UNKNOWN_CONTEXT_TOKENS, |(_, tokens)| *tokens)
}

/// The cost of one reply in US dollars, when the model is priced.
pub fn cost(model: &str, usage: &Usage) -> Option<f64> {
    let price = lookup(model)?;
    let millions = |tokens: u64| tokens as f64 / 1_000_000.0;
    Some(
        millions(usage.input_tokens) * price.input
            + millions(usage.output_tokens) * price.output
            + millions(usage.cache_read_tokens) * price.cache_read
            + millions(usage.cache_write_tokens) * price.cache_write,
    )
}

/// `$0.0123` below a dollar, `$1.23` above.
pub fn format_usd(amount: f64) -> String {
    if amount < 1.0 { format!("${amount:.4}") } else { format!("${amount:.2}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_by_prefix_and_ignores_provider_and_date() {
        let usage = Usage { input_tokens: 1_000_000, output_tokens: 100_000, ..Usage::default() };
        assert_eq!(cost("claude-sonnet-4-5-20250929", &usage), Some(3.0 + 1.5));
        assert_eq!(cost("anthropic/claude-sonnet-4-5", &usage), Some(4.5));
        assert_eq!(lookup("gpt-4o-mini").map(|price| price.input), Some(0.15));
        assert_eq!(lookup("gpt-4o").map(|price| price.input), Some(2.50));
        assert_eq!(cost("llama3.2", &usage), None);
        assert_eq!(lookup("claude-sonnet-4-6"), None, "a newer version is not priced as an older one");
        assert_eq!(lookup("gpt-5.1"), None);
        assert_eq!(lookup("claude-opus-4-1-20250805").map(|price| price.output), Some(75.0));
    }

    #[test]
    fn context_windows_by_family_and_a_small_default() {
        assert_eq!(context_window("claude-sonnet-4-5-20250929"), 200_000);
        assert_eq!(context_window("anthropic/claude-haiku-4-5"), 200_000);
        assert_eq!(context_window("gpt-4o-mini"), 128_000);
        assert_eq!(context_window("gpt-4.1-mini"), 1_047_576);
        assert_eq!(context_window("llama3.1:8b"), 128_000);
        assert_eq!(context_window("some-local-model"), UNKNOWN_CONTEXT_TOKENS);
        assert!(matches("llama3.2:1b", "llama3.2"));
    }

    #[test]
    fn counts_cache_tokens_at_their_own_rates() {
        let usage = Usage { cache_read_tokens: 1_000_000, cache_write_tokens: 1_000_000, ..Usage::default() };
        assert_eq!(cost("claude-sonnet-4-5", &usage), Some(0.30 + 3.75));
        assert_eq!(format_usd(0.012_34), "$0.0123");
        assert_eq!(format_usd(12.5), "$12.50");
    }
}
