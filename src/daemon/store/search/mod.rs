//! Full-text search over past conversations (`messages_search`, kept by triggers) and the
//! workspace's notes (`notes_search`, brought up to date at search time): ranked by bm25, each
//! hit with where it comes from, its date and a snippet. What a search may read is the
//! caller's decision, passed as a `SearchReach`.

mod notes;
mod query;

use std::path::Path;

use rusqlite::{Connection, params};

pub use query::SearchTerms;

use super::conversations::MessageRole;
use super::{Store, StoreError};

/// A search returns this many hits at most, whatever it is asked.
pub const MAX_HITS: usize = 20;
/// Tokens of context a snippet shows around the words found.
const SNIPPET_TOKENS: u32 = 24;
/// Marks around a word found, in snippets.
pub const HIGHLIGHT: (&str, &str) = ("**", "**");

/// What a search may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchReach {
    /// Every session of every channel and every note.
    Everything,
    /// The messages of one session and the named note files (`/`-separated, under the
    /// workspace).
    Limited { session_key: String, notes: Vec<String> },
}

/// Where a hit was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HitSource {
    Message {
        session_key: String,
        role: MessageRole,
    },
    /// `line` is the first line of the chunk, counted from 1.
    Note {
        path: String,
        line: u32,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SearchHit {
    pub source: HitSource,
    /// `2026-12-08 14:03 UTC` for a message; a note's date (`2026-12-08`), from its file name
    /// when it is a dated note, else from when the file was last changed.
    pub date: String,
    /// The text around the words found, which are marked with `HIGHLIGHT`.
    pub snippet: String,
    /// bm25: lower is better.
    pub score: f64,
}

impl Store {
    /// The best `limit` hits (at most `MAX_HITS`) for `terms` within `reach`, best first. The
    /// notes of `workspace` are indexed again first where a file changed since it was indexed.
    pub async fn search_memory(
        &self,
        workspace: &Path,
        terms: &SearchTerms,
        reach: &SearchReach,
        limit: usize,
    ) -> Result<Vec<SearchHit>, StoreError> {
        let (workspace, expression, reach) = (workspace.to_owned(), terms.expression(), reach.clone());
        let limit = limit.clamp(1, MAX_HITS);
        self.call(move |connection| search(connection, &workspace, &expression, &reach, limit)).await
    }

    /// Brings the notes index up to date with `workspace` without searching.
    pub async fn index_notes(&self, workspace: &Path) -> Result<(), StoreError> {
        let workspace = workspace.to_owned();
        self.call(move |connection| notes::sync(connection, &workspace)).await
    }
}

fn search(
    connection: &mut Connection,
    workspace: &Path,
    expression: &str,
    reach: &SearchReach,
    limit: usize,
) -> Result<Vec<SearchHit>, StoreError> {
    // A stale notes index still answers: searching must work when writes are refused.
    if let Err(error) = notes::sync(connection, workspace) {
        tracing::warn!(%error, "the notes index could not be brought up to date; searching it as it is");
    }
    let mut hits = messages(connection, expression, reach, limit)?;
    hits.extend(notes::search(connection, expression, reach, limit)?);
    hits.sort_by(|left, right| left.score.total_cmp(&right.score));
    hits.truncate(limit);
    Ok(hits)
}

/// Messages matching `?1`, with `?2`, `?3` around the words found and `?4` tokens of context.
/// `CROSS JOIN` keeps the index the outer loop, so FTS5 answers `ORDER BY rank` itself and
/// snippets are made for the rows returned only, not for every match.
const MESSAGES: &str = "SELECT m.session_key, m.role, strftime('%Y-%m-%d %H:%M UTC', m.created_ms / 1000, 'unixepoch'),
        snippet(messages_search, 0, ?2, ?3, '…', ?4), messages_search.rank
     FROM messages_search CROSS JOIN messages m ON m.id = messages_search.rowid
     WHERE messages_search MATCH ?1";

/// The best `limit` messages within `reach`.
fn messages(
    connection: &Connection,
    expression: &str,
    reach: &SearchReach,
    limit: usize,
) -> Result<Vec<SearchHit>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let (open, close) = HIGHLIGHT;
    let read = |row: &rusqlite::Row<'_>| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
    };
    let rows: Vec<(String, String, String, String, f64)> = match reach {
        SearchReach::Everything => {
            let mut statement = connection.prepare_cached(&format!("{MESSAGES} ORDER BY rank LIMIT ?5"))?;
            statement
                .query_map(params![expression, open, close, SNIPPET_TOKENS, limit], read)?
                .collect::<rusqlite::Result<_>>()?
        }
        SearchReach::Limited { session_key, .. } => {
            let mut statement =
                connection.prepare_cached(&format!("{MESSAGES} AND m.session_key = ?6 ORDER BY rank LIMIT ?5"))?;
            statement
                .query_map(params![expression, open, close, SNIPPET_TOKENS, limit, session_key], read)?
                .collect::<rusqlite::Result<_>>()?
        }
    };
    rows.into_iter()
        .map(|(session_key, role, date, snippet, score)| {
            let role = MessageRole::parse(&role)?;
            Ok(SearchHit { source: HitSource::Message { session_key, role }, date, snippet, score })
        })
        .collect()
}

#[cfg(test)]
mod tests;
