//! `memory_search`: lets the model look up earlier conversations and the workspace's notes
//! (`MEMORY.md`, `memory/**/*.md`) by words, best matches first, each with its source, date and
//! a snippet. The operator searches everything; any other sender only the conversation they
//! are in, the shared `MEMORY.md` (already in their prompt) and their own notes, never another
//! person's conversations or notes.

use std::fmt::Write as _;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::{Value, json};

use super::{Access, Tool, ToolContext, ToolError, ToolFuture, arguments};
use crate::core::asker::MemoryScope;
use crate::daemon::providers::ToolSpec;
use crate::daemon::store::{HitSource, MAX_HITS, SearchReach, SearchResults, SearchTerms};

pub const MEMORY_SEARCH: &str = "memory_search";
pub const DEFAULT_LIMIT: usize = 5;
/// A snippet is cut here (characters), whatever its tokens.
const MAX_SNIPPET_CHARS: usize = 400;
/// The whole answer stays under this; hits past it are counted, not shown.
pub const MAX_OUTPUT_BYTES: usize = 8 * 1024;

pub fn tools() -> Vec<Arc<dyn Tool>> {
    vec![Arc::new(MemorySearch)]
}

struct MemorySearch;

#[derive(Deserialize)]
struct Input {
    query: String,
    limit: Option<usize>,
}

impl Tool for MemorySearch {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: MEMORY_SEARCH.into(),
            description: "Search earlier conversations and memory notes (MEMORY.md and the files under memory/) \
                 by words. Returns the best matches first, each with where it was said or written, its date and \
                 the text around the words found (marked **like this**). Use it to recall something from before \
                 that is not in this conversation. Any of the words may match; more matching words rank higher."
                .into(),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "A few words to look for."},
                    "limit": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": MAX_HITS,
                        "description": format!("How many matches at most (default {DEFAULT_LIMIT})."),
                    },
                },
                "required": ["query"],
            }),
        }
    }

    fn access(&self) -> Access {
        Access::Read
    }

    fn call<'a>(&'a self, input: Value, context: &'a ToolContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let Input { query, limit } = arguments(input)?;
            search(context, &query, limit.unwrap_or(DEFAULT_LIMIT)).await
        })
    }
}

/// What the asker of `context` may search: everything for the operator; for anyone else the
/// current session, `MEMORY.md` and their own notes.
pub fn reach(context: &ToolContext) -> SearchReach {
    match &context.scope {
        MemoryScope::Shared => SearchReach::Everything,
        own @ MemoryScope::Sender { .. } => SearchReach::Limited {
            session_key: context.session_key.as_str().to_owned(),
            notes: vec![MemoryScope::Shared.relative_path(), own.relative_path()],
        },
    }
}

/// Runs one search for `context`'s asker and writes the answer the model reads. `limit` is
/// brought within 1 to `MAX_HITS`.
pub async fn search(context: &ToolContext, query: &str, limit: usize) -> Result<String, ToolError> {
    if query.trim().is_empty() {
        return Err(ToolError::new("the query is empty: give a few words to look for"));
    }
    let Some(terms) = SearchTerms::parse(query) else {
        return Ok("no matches: the query has no words to look for, only spaces and punctuation".into());
    };
    let reach = reach(context);
    let limit = limit.clamp(1, MAX_HITS);
    let results = context.store.search_memory(&context.workspace, &terms, &reach, limit).await.map_err(|error| {
        tracing::error!(%error, "a memory search failed");
        ToolError::new(format!("cannot search memory: {error}"))
    })?;
    Ok(render(&terms, &reach, &results))
}

fn render(terms: &SearchTerms, reach: &SearchReach, results: &SearchResults) -> String {
    let hits = &results.hits;
    let words = terms.words().join(", ");
    let within = match reach {
        SearchReach::Everything => "",
        SearchReach::Limited { .. } => " (searched: this conversation, MEMORY.md and this person's own notes)",
    };
    let window = if results.recent_only {
        "\n(too many matches to rank them all: the most recent were ranked, with those holding every word; \
         rarer words search the whole history)"
    } else {
        ""
    };
    if hits.is_empty() {
        return format!("no matches for: {words}{within}{window}");
    }
    let count = match hits.len() {
        1 => "1 match".to_owned(),
        many => format!("{many} matches"),
    };
    let mut out = format!("{count} for: {words}{within}, best first{window}\n");
    for (index, hit) in hits.iter().enumerate() {
        let mut entry = String::new();
        let _ = match &hit.source {
            HitSource::Message { session_key, role } => {
                writeln!(entry, "\n{}. conversation `{session_key}`, {}, {}", index + 1, role.as_str(), hit.date)
            }
            HitSource::Note { path, line } => {
                writeln!(entry, "\n{}. note `{path}` line {line}, {}", index + 1, hit.date)
            }
        };
        let _ = writeln!(entry, "{}", one_line(&hit.snippet));
        if out.len() + entry.len() > MAX_OUTPUT_BYTES {
            let _ = write!(out, "\n[{} more matches not shown: the answer reached its size limit]", hits.len() - index);
            break;
        }
        out.push_str(&entry);
    }
    out
}

/// The snippet on one line, within `MAX_SNIPPET_CHARS`.
fn one_line(snippet: &str) -> String {
    let line = snippet.split_whitespace().collect::<Vec<_>>().join(" ");
    match line.char_indices().nth(MAX_SNIPPET_CHARS) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line,
    }
}

#[cfg(test)]
mod tests;
