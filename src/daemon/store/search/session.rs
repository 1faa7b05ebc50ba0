//! Searching one session's messages (a guest's search). Ranking the matches of every session
//! and dropping the others' would cost as much as the operator's search for a few hits, so the
//! matches are walked by rowid (cheap), those of other sessions are skipped before they are
//! ranked, and only the session's own are ranked and then given snippets.

use rusqlite::{Connection, params};

use super::{HIGHLIGHT, HitSource, SNIPPET_TOKENS, SearchHit, SearchTerms, window_floor};
use crate::daemon::store::StoreError;
use crate::daemon::store::conversations::MessageRole;

/// A session's matches are looked for among this many most recent matches of every session:
/// walking them costs little, and only the session's own are ranked.
pub const SCANNED_WINDOW: usize = 10_000;

/// The session's messages matching `?1` from rowid `?2` on, with their rank. The `+` keeps the
/// rowid list a filter on FTS5's walk rather than a lookup per listed message, which would
/// evaluate the query once per message of the session.
pub(super) const SESSION_MATCHES: &str = "SELECT rowid, rank FROM messages_search
     WHERE messages_search MATCH ?1 AND rowid >= ?2
       AND +rowid IN (SELECT id FROM messages WHERE session_key = ?3 AND id >= ?2)";

/// The messages `?4` (a JSON array of ids, none below `?2`) as hits for the query `?1`.
pub(super) const DESCRIBE: &str = "SELECT m.session_key, m.role,
        strftime('%Y-%m-%d %H:%M UTC', m.created_ms / 1000, 'unixepoch'),
        snippet(messages_search, 0, ?5, ?6, '…', ?3), messages_search.rank
     FROM messages_search CROSS JOIN messages m ON m.id = messages_search.rowid
     WHERE messages_search MATCH ?1 AND messages_search.rowid >= ?2
       AND +messages_search.rowid IN (SELECT value FROM json_each(?4))";

/// The best `limit` messages of `session_key` for `terms`, and whether the window cut the
/// matches. Like the operator's search: every word first, any word when those are too few.
pub(super) fn search(
    connection: &Connection,
    terms: &SearchTerms,
    session_key: &str,
    limit: usize,
) -> Result<(Vec<SearchHit>, bool), StoreError> {
    let mut passes = vec![terms.expression()];
    if terms.words().len() > 1 {
        passes.insert(0, terms.every_word_expression());
    }
    let mut found: Vec<(i64, f64)> = Vec::new();
    let mut recent_only = false;
    for expression in &passes {
        if found.len() >= limit {
            break;
        }
        let floor = window_floor(connection, "messages_search", expression, SCANNED_WINDOW)?;
        recent_only |= floor.is_some();
        let floor = floor.unwrap_or(i64::MIN);
        let mut statement = connection.prepare_cached(SESSION_MATCHES)?;
        let rows =
            statement.query_map(params![expression, floor, session_key], |row| Ok((row.get(0)?, row.get(1)?)))?;
        let mut matches = rows.collect::<rusqlite::Result<Vec<(i64, f64)>>>()?;
        matches.sort_by(|left, right| left.1.total_cmp(&right.1));
        for (id, rank) in matches.into_iter().take(limit) {
            if !found.iter().any(|(known, _)| *known == id) {
                found.push((id, rank));
            }
        }
    }
    found.sort_by(|left, right| left.1.total_cmp(&right.1));
    found.truncate(limit);
    if found.is_empty() {
        return Ok((Vec::new(), recent_only));
    }
    // Snippets for the hits only; every hit matches the any-word query.
    let lowest = found.iter().map(|(id, _)| *id).min().unwrap_or(i64::MIN);
    let ids = serde_json::to_string(&found.iter().map(|(id, _)| *id).collect::<Vec<_>>())
        .map_err(|error| StoreError::Corrupt(error.to_string()))?;
    let (open, close) = HIGHLIGHT;
    let mut statement = connection.prepare_cached(DESCRIBE)?;
    let rows = statement.query_map(params![terms.expression(), lowest, SNIPPET_TOKENS, ids, open, close], |row| {
        Ok((row.get(0)?, row.get::<_, String>(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
    })?;
    let mut hits = Vec::with_capacity(found.len());
    for row in rows {
        let (session_key, role, date, snippet, score): (String, String, String, String, f64) = row?;
        let role = MessageRole::parse(&role)?;
        hits.push(SearchHit { source: HitSource::Message { session_key, role }, date, snippet, score });
    }
    hits.sort_by(|left, right| left.score.total_cmp(&right.score));
    Ok((hits, recent_only))
}
