//! Owns `PromptCache`: Anthropic's prompt cache as its documentation describes it, for the fake
//! to report `cache_read_input_tokens` / `cache_creation_input_tokens` the way the API would.
//! The prompt is the blocks `tools` → `system` → `messages` in order; a block with
//! `cache_control` is a breakpoint, at most four per request. A request reads the longest
//! cached prefix found at a breakpoint or at any block boundary up to 20 blocks before one,
//! writes every breakpoint's prefix past it, and is billed the rest as plain input. Prefixes
//! shorter than 1,024 tokens are not cached; entries live 5 minutes from their last use.
//! Tokens are counted as the block's JSON bytes / 4.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

pub const MAX_BREAKPOINTS: usize = 4;
const LOOKBACK_BLOCKS: usize = 20;
const MIN_CACHEABLE_TOKENS: u64 = 1024;
const TTL: Duration = Duration::from_secs(300);

/// How one request's prompt tokens split.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Accounted {
    pub input_tokens: u64,
    pub cache_read_input_tokens: u64,
    pub cache_creation_input_tokens: u64,
}

impl Accounted {
    pub fn total(&self) -> u64 {
        self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens
    }
}

#[derive(Default)]
pub struct PromptCache {
    /// Prefix hash → when it was last written or read.
    entries: Mutex<HashMap<u64, Instant>>,
}

/// One block of the prompt: the hash of the prefix through it, tokens through it, and whether
/// it carries `cache_control`.
struct Boundary {
    prefix_hash: u64,
    tokens: u64,
    breakpoint: bool,
}

/// Content as blocks: a string is one text block, as the API reads it.
fn as_blocks(content: &Value) -> Vec<Value> {
    match content {
        Value::String(text) => vec![serde_json::json!({"type": "text", "text": text})],
        Value::Array(blocks) => blocks.clone(),
        _ => Vec::new(),
    }
}

/// The request's blocks in cache order.
fn blocks(body: &Value) -> Vec<Value> {
    let mut blocks: Vec<Value> = body["tools"].as_array().cloned().unwrap_or_default();
    blocks.extend(as_blocks(&body["system"]));
    for message in body["messages"].as_array().into_iter().flatten() {
        blocks.extend(
            as_blocks(&message["content"])
                .into_iter()
                .map(|block| serde_json::json!({"role": message["role"], "block": block})),
        );
    }
    blocks
}

fn boundaries(body: &Value) -> Vec<Boundary> {
    let mut hash = 0u64;
    let mut tokens = 0u64;
    blocks(body)
        .iter()
        .map(|block| {
            let breakpoint = block.get("cache_control").is_some() || block["block"].get("cache_control").is_some();
            // The marker is not part of the content: a block hashes the same with or without it.
            let mut plain = block.clone();
            if let Some(object) = plain.as_object_mut() {
                object.remove("cache_control");
            }
            if let Some(object) = plain.get_mut("block").and_then(Value::as_object_mut) {
                object.remove("cache_control");
            }
            let text = plain.to_string();
            let mut hasher = DefaultHasher::new();
            hash.hash(&mut hasher);
            text.hash(&mut hasher);
            hash = hasher.finish();
            tokens += (text.len() as u64).div_ceil(4);
            Boundary { prefix_hash: hash, tokens, breakpoint }
        })
        .collect()
}

/// The number of `cache_control` markers in a request, which the API caps at four.
pub fn breakpoints(body: &Value) -> usize {
    boundaries(body).iter().filter(|boundary| boundary.breakpoint).count()
}

impl PromptCache {
    /// Accounts one request and caches its breakpoints' prefixes.
    pub fn account(&self, body: &Value) -> Accounted {
        let boundaries = boundaries(body);
        let total = boundaries.last().map_or(0, |boundary| boundary.tokens);
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        entries.retain(|_, used| now.duration_since(*used) < TTL);
        let marks: Vec<usize> =
            boundaries.iter().enumerate().filter(|(_, boundary)| boundary.breakpoint).map(|(at, _)| at).collect();
        let mut read = 0;
        for &mark in &marks {
            let earliest = mark.saturating_sub(LOOKBACK_BLOCKS);
            if let Some(hit) = (earliest..=mark).rev().find(|&at| entries.contains_key(&boundaries[at].prefix_hash)) {
                read = read.max(boundaries[hit].tokens);
                entries.insert(boundaries[hit].prefix_hash, now);
            }
        }
        let mut written_through = read;
        for &mark in &marks {
            let boundary = &boundaries[mark];
            if boundary.tokens >= MIN_CACHEABLE_TOKENS {
                entries.insert(boundary.prefix_hash, now);
                written_through = written_through.max(boundary.tokens);
            }
        }
        Accounted {
            input_tokens: total - written_through,
            cache_read_input_tokens: read,
            cache_creation_input_tokens: written_through - read,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(turns: usize) -> Value {
        let mut messages: Vec<Value> = (0..turns)
            .map(|index| {
                let role = if index % 2 == 0 { "user" } else { "assistant" };
                json!({"role": role, "content": format!("message {index} {}", "x".repeat(2000))})
            })
            .collect();
        let marked = messages.len() - 2;
        let text = messages[marked]["content"].as_str().unwrap().to_owned();
        messages[marked]["content"] = json!([{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}]);
        json!({
            "system": [{"type": "text", "text": "s".repeat(5000), "cache_control": {"type": "ephemeral"}}],
            "messages": messages,
        })
    }

    #[test]
    fn a_growing_conversation_reads_its_earlier_prefix() {
        let cache = PromptCache::default();
        let first = cache.account(&request(3));
        assert_eq!(first.cache_read_input_tokens, 0);
        assert!(first.cache_creation_input_tokens > 0);
        let second = cache.account(&request(5));
        assert!(second.cache_read_input_tokens >= first.cache_creation_input_tokens, "{second:?}");
        assert_eq!(second.total(), boundaries(&request(5)).last().unwrap().tokens);
        let other = PromptCache::default().account(&request(5));
        assert_eq!(other.cache_read_input_tokens, 0, "a cold cache reads nothing");
    }
}
