//! Full-text search over past conversations (`messages_search`, kept by triggers) and the
//! workspace's notes (`notes_search`, brought up to date at search time): ranked by bm25, each
//! hit with where it comes from, its date and a snippet. What a search may read is the
//! caller's decision, passed as a `SearchReach`.

mod notes;
mod query;
mod session;

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};

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

/// What a search found.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchResults {
    /// Best first.
    pub hits: Vec<SearchHit>,
    /// More matched than a window holds (`RANKED_WINDOW` messages of every session or note
    /// chunks, `SCANNED_WINDOW` for one session), so only the most recent were looked at:
    /// rarer words would search the whole history.
    pub recent_only: bool,
}

impl Store {
    /// The best `limit` hits (at most `MAX_HITS`) for `terms` within `reach`. The notes of
    /// `workspace` are indexed again first where a file changed since it was indexed.
    pub async fn search_memory(
        &self,
        workspace: &Path,
        terms: &SearchTerms,
        reach: &SearchReach,
        limit: usize,
    ) -> Result<SearchResults, StoreError> {
        let (workspace, terms, reach) = (workspace.to_owned(), terms.clone(), reach.clone());
        let limit = limit.clamp(1, MAX_HITS);
        self.call(move |connection| search(connection, &workspace, &terms, &reach, limit)).await
    }

    /// Brings the notes index up to date with `workspace` without searching.
    pub async fn index_notes(&self, workspace: &Path) -> Result<(), StoreError> {
        let workspace = workspace.to_owned();
        self.call(move |connection| notes::sync(connection, &workspace)).await
    }
}

/// Ranking costs a lookup per match, so a word found in most of the history would cost a scan
/// of it. Past this many matches, only the most recent are ranked.
pub const RANKED_WINDOW: usize = 2_000;

fn search(
    connection: &mut Connection,
    workspace: &Path,
    terms: &SearchTerms,
    reach: &SearchReach,
    limit: usize,
) -> Result<SearchResults, StoreError> {
    // A stale notes index still answers: searching must work when writes are refused.
    if let Err(error) = notes::sync(connection, workspace) {
        tracing::warn!(%error, "the notes index could not be brought up to date; searching it as it is");
    }
    let (mut hits, mut recent_only) = match reach {
        SearchReach::Everything => everywhere(connection, terms, limit)?,
        SearchReach::Limited { session_key, .. } => session::search(connection, terms, session_key, limit)?,
    };
    let expression = terms.expression();
    let floor = window_floor(connection, "notes_search", &expression, RANKED_WINDOW)?;
    recent_only |= floor.is_some();
    hits.extend(notes::search(connection, &expression, floor, reach, limit)?);
    hits.sort_by(|left, right| left.score.total_cmp(&right.score));
    hits.truncate(limit);
    Ok(SearchResults { hits, recent_only })
}

/// The best `limit` messages of every session, and whether the window cut the matches.
/// Messages holding every word first; any of the words only when those are too few. Both
/// passes search the same words, so their bm25 scores compare. Each ranks at most its window,
/// so a message with every word is found at any age even when a common word fills the window
/// of the second.
fn everywhere(
    connection: &Connection,
    terms: &SearchTerms,
    limit: usize,
) -> Result<(Vec<SearchHit>, bool), StoreError> {
    let mut passes = vec![terms.expression()];
    if terms.words().len() > 1 {
        passes.insert(0, terms.every_word_expression());
    }
    let mut found: Vec<(i64, SearchHit)> = Vec::new();
    let mut recent_only = false;
    for expression in &passes {
        if found.len() >= limit {
            break;
        }
        let floor = window_floor(connection, "messages_search", expression, RANKED_WINDOW)?;
        recent_only |= floor.is_some();
        for (id, hit) in messages(connection, expression, floor, limit)? {
            if !found.iter().any(|(known, _)| *known == id) {
                found.push((id, hit));
            }
        }
    }
    Ok((found.into_iter().map(|(_, hit)| hit).collect(), recent_only))
}

/// The lowest rowid of the `window` most recent matches of `expression` in `table`, or
/// `None` when it has no more matches than that. Walking matches by rowid needs no ranking, so
/// this costs a fraction of ranking them.
fn window_floor(
    connection: &Connection,
    table: &str,
    expression: &str,
    window: usize,
) -> Result<Option<i64>, StoreError> {
    let sql = format!("SELECT rowid FROM {table} WHERE {table} MATCH ?1 ORDER BY rowid DESC LIMIT 1 OFFSET ?2");
    let offset = i64::try_from(window.saturating_sub(1)).unwrap_or(i64::MAX);
    Ok(connection.prepare_cached(&sql)?.query_row(params![expression, offset], |row| row.get(0)).optional()?)
}

/// Messages matching `?1` from rowid `?6` on, with `?2`, `?3` around the words found and `?4`
/// tokens of context. `CROSS JOIN` keeps the index the outer loop, so FTS5 answers
/// `ORDER BY rank` itself (within the rowid bound) and snippets are made for the rows returned
/// only, not for every match.
const MESSAGES: &str = "SELECT m.id, m.session_key, m.role,
        strftime('%Y-%m-%d %H:%M UTC', m.created_ms / 1000, 'unixepoch'),
        snippet(messages_search, 0, ?2, ?3, '…', ?4), messages_search.rank
     FROM messages_search CROSS JOIN messages m ON m.id = messages_search.rowid
     WHERE messages_search MATCH ?1 AND messages_search.rowid >= ?6";

/// The best `limit` messages from rowid `floor` on, with their ids.
fn messages(
    connection: &Connection,
    expression: &str,
    floor: Option<i64>,
    limit: usize,
) -> Result<Vec<(i64, SearchHit)>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let floor = floor.unwrap_or(i64::MIN);
    let (open, close) = HIGHLIGHT;
    let mut statement = connection.prepare_cached(&format!("{MESSAGES} ORDER BY rank LIMIT ?5"))?;
    let rows = statement.query_map(params![expression, open, close, SNIPPET_TOKENS, limit, floor], |row| {
        Ok((row.get(0)?, row.get(1)?, row.get::<_, String>(2)?, row.get(3)?, row.get(4)?, row.get(5)?))
    })?;
    let mut hits = Vec::new();
    for row in rows {
        let (id, session_key, role, date, snippet, score): (i64, String, String, String, String, f64) = row?;
        let role = MessageRole::parse(&role)?;
        hits.push((id, SearchHit { source: HitSource::Message { session_key, role }, date, snippet, score }));
    }
    Ok(hits)
}

#[cfg(test)]
mod tests;
