//! A turn's prompt within the model's budget, and compaction: when a session's history since
//! its last summary nears the budget, the model condenses the older part into a summary that
//! replaces it in the prompt. The messages stay stored (history, `memory_search`); only the
//! prompt forgets them. A failed compaction costs nothing but the cache: the prompt is then
//! trimmed to the budget as before.

use std::time::{Duration, Instant};

use super::budget::{self, Budget};
use super::{Agent, prompt};
use crate::core::asker::{MemoryScope, Rights};
use crate::core::ids::SessionKey;
use crate::core::sync::lock;
use crate::daemon::providers::{self, ModelRequest, Provider, ToolSpec, Turn};
use crate::daemon::store::{MessageRole, StoreError, StoredMessage, Summary};

/// Messages since the last summary read for a prompt at most; past this the session is
/// compacted whatever its size in tokens.
const MAX_HISTORY_MESSAGES: usize = 2000;
/// How long a session whose compaction failed is trimmed instead of compacted.
const COMPACTION_REST: Duration = Duration::from_secs(600);
/// The summary request's reply, in tokens, at most.
const MAX_SUMMARY_TOKENS: u32 = 2048;

const SUMMARY_INSTRUCTIONS: &str = "You keep the running summary of a conversation between a user \
and their assistant, for the assistant's own later use. Merge the previous summary (if any) with \
the new part of the conversation. Keep names, facts, preferences, decisions, commitments, open \
questions and anything the user asked to remember; drop greetings and small talk. Write short \
plain bullet points, no preamble.";

/// What a turn sends first, and the models it may use.
pub(super) struct Prepared {
    pub request: ModelRequest,
    pub models: Vec<String>,
    /// The summary was written now, by this turn.
    pub compacted: bool,
}

impl Agent {
    /// The session's model (its `/model` choice, else the configured one) and the fallbacks.
    pub(super) async fn models_for(&self, session_key: &SessionKey) -> Vec<String> {
        let chosen = self.store.session_model(session_key).await.ok().flatten();
        let first = chosen.unwrap_or_else(|| self.model.model.clone());
        std::iter::once(first.clone()).chain(self.model.fallbacks.iter().filter(|m| **m != first).cloned()).collect()
    }

    /// The turn's first request: the stable prefix, the summary, and the history since it,
    /// compacted first when it nears the budget (or when `force`).
    pub(super) async fn prepare(
        &self,
        provider: &dyn Provider,
        session_key: &SessionKey,
        scope: &MemoryScope,
        rights: Rights,
        force: bool,
    ) -> Result<Prepared, StoreError> {
        let models = self.models_for(session_key).await;
        let system = prompt::system_prompt(&self.workspace, scope, &self.skills.prompt_section());
        let tools = self.tools.offered(rights);
        let mut summary = self.store.summary(session_key).await?;
        let mut history = self.history_since(session_key, summary.as_ref()).await?;
        // The system prompt and the tools do not change within the turn: counted once.
        let fixed = fixed_tokens(&system, &tools);
        let budget = |summary: Option<&Summary>| self.budget(&models[0], fixed, summary);
        let used: u64 = history.iter().map(|message| budget::estimate(&message.content)).sum();
        let full = history.len() >= MAX_HISTORY_MESSAGES;
        let mut compacted = false;
        let due = full || budget(summary.as_ref()).needs_compaction(used);
        if force || (due && !self.compaction_resting(session_key)) {
            let current = budget(summary.as_ref());
            // Asked for, it condenses all but the last exchange.
            let keep = if force { 0 } else { current.kept_after_compaction() };
            let part = Part { previous: summary.as_ref(), history: &history, keep };
            match self.compact(provider, &models, session_key, part, current).await {
                Some(written) => {
                    history.retain(|message| message.id > written.through_id);
                    summary = Some(written);
                    compacted = true;
                    lock(&self.compaction_failures).remove(session_key);
                }
                None => {
                    lock(&self.compaction_failures).insert(session_key.clone(), Instant::now());
                }
            }
        }
        let budget = budget(summary.as_ref());
        let request = ModelRequest {
            system,
            summary: summary.map(|summary| summary.text).filter(|text| !text.is_empty()),
            turns: prompt::turns(&history, budget.history),
            max_tokens: self.model.max_tokens,
            tools,
            tool_rounds: Vec::new(),
        };
        Ok(Prepared { request, models, compacted })
    }

    /// Whether the session's last compaction failed less than [`COMPACTION_REST`] ago: the
    /// prompt is then trimmed without asking again, so a model that cannot summarise does not
    /// cost every turn a failed call.
    fn compaction_resting(&self, session_key: &SessionKey) -> bool {
        let mut failures = lock(&self.compaction_failures);
        failures.retain(|_, failed| failed.elapsed() < COMPACTION_REST);
        failures.contains_key(session_key)
    }

    /// The estimated tokens of the session's history in the prompt, and its budget.
    pub(super) async fn context_use(
        &self,
        session_key: &SessionKey,
        scope: &MemoryScope,
        rights: Rights,
        model: &str,
    ) -> Result<(u64, Budget), StoreError> {
        let system = prompt::system_prompt(&self.workspace, scope, &self.skills.prompt_section());
        let tools = self.tools.offered(rights);
        let summary = self.store.summary(session_key).await?;
        let history = self.history_since(session_key, summary.as_ref()).await?;
        let used = history.iter().map(|message| budget::estimate(&message.content)).sum();
        Ok((used, self.budget(model, fixed_tokens(&system, &tools), summary.as_ref())))
    }

    /// The history's budget once the system prompt, tools and summary are counted.
    fn budget(&self, model: &str, fixed: u64, summary: Option<&Summary>) -> Budget {
        let summary_tokens = summary.map_or(0, |summary| budget::estimate(&summary.text));
        Budget::new(model, self.tool_settings.context_tokens, self.model.max_tokens, fixed + summary_tokens)
    }

    async fn history_since(
        &self,
        session_key: &SessionKey,
        summary: Option<&Summary>,
    ) -> Result<Vec<StoredMessage>, StoreError> {
        let after = summary.map_or(0, |summary| summary.through_id);
        self.store.history_after(session_key, after, MAX_HISTORY_MESSAGES).await
    }

    /// Condenses the older part of `history` (with the previous summary) into a new summary
    /// and stores it; `None` when there is nothing old enough or the model call failed.
    async fn compact(
        &self,
        provider: &dyn Provider,
        models: &[String],
        session_key: &SessionKey,
        part: Part<'_>,
        budget: Budget,
    ) -> Option<Summary> {
        let split = split_point(part.history, part.keep)?;
        let older = &part.history[..split];
        let through_id = older.last()?.id;
        let max_tokens = MAX_SUMMARY_TOKENS.min(u32::try_from(budget.history / 8).unwrap_or(u32::MAX)).max(256);
        let request = ModelRequest {
            system: SUMMARY_INSTRUCTIONS.to_owned(),
            summary: None,
            turns: vec![Turn { role: MessageRole::User, text: transcript(part.previous, older) }],
            max_tokens,
            tools: Vec::new(),
            tool_rounds: Vec::new(),
        };
        let completion = match providers::complete(provider, models, self.model.max_attempts, &request, &|_| {}).await {
            Ok(completion) => completion,
            Err(error) => {
                tracing::warn!(session = %session_key, %error, "compaction failed; the prompt is trimmed instead");
                return None;
            }
        };
        // A summary longer than asked for is cut, so it can never crowd out the conversation.
        let text = cut_to_tokens(completion.text.trim(), u64::from(max_tokens));
        if text.is_empty() {
            tracing::warn!(session = %session_key, "the model wrote an empty summary; the prompt is trimmed instead");
            return None;
        }
        if let Err(error) = self.store.set_summary(session_key, through_id, text.clone()).await {
            tracing::error!(session = %session_key, %error, "cannot store a summary");
            return None;
        }
        tracing::info!(session = %session_key, messages = older.len(), through_id, "older messages were compacted");
        Some(Summary { through_id, text, created_ms: crate::core::time::now_ms() })
    }
}

/// The estimated tokens of the system prompt and the tools offered.
fn fixed_tokens(system: &str, tools: &[ToolSpec]) -> u64 {
    let tools: u64 = tools
        .iter()
        .map(|tool| budget::estimate(&tool.description) + budget::estimate(&tool.input_schema.to_string()))
        .sum();
    budget::estimate(system) + tools
}

/// What a compaction condenses: the history since `previous`, but its newest `keep` tokens.
struct Part<'a> {
    previous: Option<&'a Summary>,
    history: &'a [StoredMessage],
    keep: u64,
}

/// Where the kept part of `history` starts: the newest messages within `keep_tokens`, from a
/// user message on (the prompt starts with the user's turn). `None` when nothing would be
/// left to condense.
fn split_point(history: &[StoredMessage], keep_tokens: u64) -> Option<usize> {
    let mut kept = 0;
    let mut start = history.len();
    for (index, message) in history.iter().enumerate().rev() {
        kept += budget::estimate(&message.content);
        if kept > keep_tokens {
            break;
        }
        start = index;
    }
    // Keep at least the newest message (the one this turn answers), from a user message on:
    // the first after the cut, else the last before it.
    start = start.min(history.len().saturating_sub(1));
    let user = |message: &StoredMessage| message.role == MessageRole::User;
    start = match history[start..].iter().position(user) {
        Some(offset) => start + offset,
        None => history[..start].iter().rposition(user).unwrap_or(start),
    };
    (start > 0).then_some(start)
}

/// The summary request's one user turn: the previous summary and the part to fold into it.
fn transcript(previous: Option<&Summary>, older: &[StoredMessage]) -> String {
    let mut text = String::new();
    if let Some(previous) = previous.filter(|summary| !summary.text.is_empty()) {
        text.push_str("Previous summary:\n\n");
        text.push_str(&previous.text);
        text.push_str("\n\n");
    }
    text.push_str("New part of the conversation:\n\n");
    for message in older.iter().filter(|message| !message.content.is_empty()) {
        let who = match message.role {
            MessageRole::User => "User",
            MessageRole::Assistant => "Assistant",
        };
        text.push_str(&format!("{who}: {}\n\n", message.content));
    }
    text.push_str("Write the updated summary.");
    text
}

fn cut_to_tokens(text: &str, tokens: u64) -> String {
    let mut end = usize::try_from(tokens.saturating_mul(3)).unwrap_or(usize::MAX).min(text.len());
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: i64, role: MessageRole, content: &str) -> StoredMessage {
        StoredMessage::for_test(id, role, content)
    }

    fn conversation(pairs: usize, size: usize) -> Vec<StoredMessage> {
        (0..pairs * 2)
            .map(|index| {
                let role = if index % 2 == 0 { MessageRole::User } else { MessageRole::Assistant };
                message(index as i64 + 1, role, &"w".repeat(size))
            })
            .collect()
    }

    #[test]
    fn the_kept_part_is_the_newest_within_its_tokens_and_starts_with_the_user() {
        let history = conversation(10, 300); // 100 tokens each
        let split = split_point(&history, 450).unwrap();
        assert_eq!(history[split].role, MessageRole::User);
        assert_eq!(history.len() - split, 4, "4 messages are 400 tokens; a 5th would start with a reply anyway");
        assert_eq!(split_point(&history[..1], 10), None, "one message: nothing to condense");
        assert_eq!(split_point(&history, 0), Some(18), "all but the last exchange");
        let huge = vec![
            message(1, MessageRole::User, "a"),
            message(2, MessageRole::Assistant, "b"),
            message(3, MessageRole::User, &"x".repeat(9000)),
        ];
        assert_eq!(split_point(&huge, 10), Some(2), "the newest message is always kept");
    }

    #[test]
    fn the_transcript_carries_the_previous_summary_and_both_roles() {
        let previous = Summary { through_id: 1, text: "- likes tea".into(), created_ms: 0 };
        let text = transcript(Some(&previous), &conversation(1, 3));
        assert!(text.starts_with(
            "Previous summary:\n\n- likes tea\n\nNew part of the conversation:\n\nUser: www\n\nAssistant: www"
        ));
        assert!(text.ends_with("Write the updated summary."));
        assert_eq!(cut_to_tokens("héllo", 1), "hé");
    }
}
