//! The notes index: `MEMORY.md` and every `memory/**/*.md` of the workspace, in chunks of a
//! paragraph or a few lines, each with its file and first line. It is brought up to date when
//! searched: a file whose size or modification time changed since it was indexed is read
//! again, a file that is gone is forgotten, so no watcher is needed and an unchanged workspace
//! costs a few `stat` calls.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;
use std::time::UNIX_EPOCH;

use rusqlite::{Connection, Transaction, params};

use super::{HIGHLIGHT, HitSource, SNIPPET_TOKENS, SearchHit, SearchReach};
use crate::daemon::store::StoreError;

const SHARED_NOTES: &str = "MEMORY.md";
const NOTES_FOLDER: &str = "memory";
/// Bounds on the walk and the reading, so a runaway folder cannot stall a search.
const MAX_FILES: usize = 2_000;
const MAX_DEPTH: usize = 8;
/// Only the first MiB of a larger file is indexed.
const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// A chunk ends at a blank line, before a heading, or at whichever of these comes first.
const CHUNK_LINES: usize = 12;
const CHUNK_BYTES: usize = 2_000;

/// A notes file as found on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    bytes: i64,
    modified_ns: i64,
}

/// The notes files under `workspace`, by `/`-separated path. Symlinks and special files are
/// skipped, so the index never reads outside the workspace.
fn scan(workspace: &Path) -> HashMap<String, Found> {
    let mut found = HashMap::new();
    look(&workspace.join(SHARED_NOTES), SHARED_NOTES.to_owned(), &mut found);
    let mut stack = vec![(workspace.join(NOTES_FOLDER), NOTES_FOLDER.to_owned(), 0)];
    while let Some((dir, name, depth)) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let Some(file_name) = entry.file_name().to_str().map(str::to_owned) else { continue };
            let (path, name) = (entry.path(), format!("{name}/{file_name}"));
            // `file_type` does not follow symlinks: a link is neither a folder nor a file here.
            match entry.file_type() {
                Ok(kind) if kind.is_dir() && depth + 1 < MAX_DEPTH => stack.push((path, name, depth + 1)),
                Ok(kind) if kind.is_file() && file_name.ends_with(".md") => look(&path, name, &mut found),
                _ => {}
            }
        }
    }
    found
}

/// Adds `path` to `found` when it is a regular file and the bound allows.
fn look(path: &Path, name: String, found: &mut HashMap<String, Found>) {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.is_file() && found.len() < MAX_FILES => {
            let modified_ns = metadata
                .modified()
                .ok()
                .and_then(|time| time.duration_since(UNIX_EPOCH).ok())
                .map_or(0, |since| i64::try_from(since.as_nanos()).unwrap_or(i64::MAX));
            let bytes = i64::try_from(metadata.len()).unwrap_or(i64::MAX);
            found.insert(name, Found { bytes, modified_ns });
        }
        _ => {}
    }
}

/// Indexes again what changed in `workspace` since the last call and forgets what is gone.
pub(super) fn sync(connection: &mut Connection, workspace: &Path) -> Result<(), StoreError> {
    let found = scan(workspace);
    let mut indexed: HashMap<String, Found> = HashMap::new();
    {
        let mut statement = connection.prepare_cached("SELECT path, bytes, modified_ns FROM notes_indexed")?;
        let rows = statement.query_map([], |row| {
            Ok((row.get::<_, String>(0)?, Found { bytes: row.get(1)?, modified_ns: row.get(2)? }))
        })?;
        for row in rows {
            let (path, file) = row?;
            indexed.insert(path, file);
        }
    }
    let changed: Vec<(&String, &Found)> =
        found.iter().filter(|(path, file)| indexed.get(*path) != Some(*file)).collect();
    let gone: Vec<&String> = indexed.keys().filter(|path| !found.contains_key(*path)).collect();
    if changed.is_empty() && gone.is_empty() {
        return Ok(());
    }
    let transaction = connection.transaction()?;
    for path in gone {
        forget(&transaction, path)?;
    }
    for (path, file) in changed {
        forget(&transaction, path)?;
        match read(&workspace.join(path)) {
            Ok(text) => index(&transaction, path, file, &text)?,
            // Left out of `notes_indexed`, so the next search tries again.
            Err(error) => tracing::debug!(%path, %error, "a notes file could not be read for the search index"),
        }
    }
    transaction.commit()?;
    Ok(())
}

fn forget(transaction: &Transaction<'_>, path: &str) -> Result<(), StoreError> {
    transaction.execute("DELETE FROM notes_search WHERE path = ?1", [path])?;
    transaction.execute("DELETE FROM notes_indexed WHERE path = ?1", [path])?;
    Ok(())
}

fn index(transaction: &Transaction<'_>, path: &str, file: &Found, text: &str) -> Result<(), StoreError> {
    let mut insert = transaction.prepare_cached("INSERT INTO notes_search (text, path, line) VALUES (?1, ?2, ?3)")?;
    for (line, chunk) in chunks(text) {
        insert.execute(params![chunk, path, line])?;
    }
    transaction.execute(
        "INSERT INTO notes_indexed (path, bytes, modified_ns) VALUES (?1, ?2, ?3)",
        params![path, file.bytes, file.modified_ns],
    )?;
    Ok(())
}

/// The file's first `MAX_FILE_BYTES`, as text (bytes that are not UTF-8 are replaced).
fn read(path: &Path) -> std::io::Result<String> {
    let mut raw = Vec::new();
    std::fs::File::open(path)?.take(MAX_FILE_BYTES).read_to_end(&mut raw)?;
    Ok(String::from_utf8_lossy(&raw).into_owned())
}

/// The text cut into chunks, each with the number of its first line (from 1).
fn chunks(text: &str) -> Vec<(u32, String)> {
    let mut out = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    let mut first = 0;
    let mut bytes = 0;
    for (index, line) in text.lines().enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let full = current.len() >= CHUNK_LINES || bytes + line.len() > CHUNK_BYTES;
        // Headings stay with the paragraph under them, across the blank line between.
        let under_way = !current.iter().all(|line| is_heading(line));
        let blank = line.trim().is_empty();
        if !current.is_empty() && ((under_way && (blank || is_heading(line))) || full) {
            out.push((first, current.join("\n")));
            current.clear();
            bytes = 0;
        }
        if blank {
            continue;
        }
        if current.is_empty() {
            first = number;
        }
        current.push(line);
        bytes += line.len() + 1;
    }
    if !current.is_empty() {
        out.push((first, current.join("\n")));
    }
    out
}

fn is_heading(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

/// The best `limit` chunks within `reach`.
pub(super) fn search(
    connection: &Connection,
    expression: &str,
    floor: Option<i64>,
    reach: &SearchReach,
    limit: usize,
) -> Result<Vec<SearchHit>, StoreError> {
    const SELECT: &str = "SELECT notes_search.path, notes_search.line,
            snippet(notes_search, 0, ?2, ?3, '…', ?4), notes_search.rank,
            date(f.modified_ns / 1000000000, 'unixepoch')
         FROM notes_search LEFT JOIN notes_indexed f ON f.path = notes_search.path
         WHERE notes_search MATCH ?1 AND notes_search.rowid >= ?6";
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let floor = floor.unwrap_or(i64::MIN);
    let (open, close) = HIGHLIGHT;
    let read = |row: &rusqlite::Row<'_>| {
        let line = row.get::<_, i64>(1)?;
        Ok((row.get::<_, String>(0)?, line, row.get(2)?, row.get(3)?, row.get::<_, Option<String>>(4)?))
    };
    let rows: Vec<(String, i64, String, f64, Option<String>)> = match reach {
        SearchReach::Everything => {
            let mut statement = connection.prepare_cached(&format!("{SELECT} ORDER BY rank LIMIT ?5"))?;
            statement
                .query_map(params![expression, open, close, SNIPPET_TOKENS, limit, floor], read)?
                .collect::<rusqlite::Result<_>>()?
        }
        SearchReach::Limited { notes, .. } => {
            let allowed = serde_json::to_string(notes).map_err(|error| StoreError::Corrupt(error.to_string()))?;
            let mut statement = connection.prepare_cached(&format!(
                "{SELECT} AND notes_search.path IN (SELECT value FROM json_each(?7)) ORDER BY rank LIMIT ?5"
            ))?;
            statement
                .query_map(params![expression, open, close, SNIPPET_TOKENS, limit, floor, allowed], read)?
                .collect::<rusqlite::Result<_>>()?
        }
    };
    Ok(rows
        .into_iter()
        .map(|(path, line, snippet, score, modified)| {
            let date = dated_name(&path).map(str::to_owned).or(modified).unwrap_or_default();
            let line = u32::try_from(line).unwrap_or(0);
            SearchHit { source: HitSource::Note { path, line }, date, snippet, score }
        })
        .collect())
}

/// `2026-12-08` for `memory/2026-12-08.md`: a dated note's own date.
fn dated_name(path: &str) -> Option<&str> {
    let stem = path.rsplit('/').next()?.strip_suffix(".md")?;
    let bytes = stem.as_bytes();
    let shape = bytes.len() == 10
        && bytes.iter().enumerate().all(|(index, byte)| match index {
            4 | 7 => *byte == b'-',
            _ => byte.is_ascii_digit(),
        });
    shape.then_some(stem)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_follow_paragraphs_headings_and_a_line_bound() {
        let text = "# Trips\nLyon in May\n\nRome in June\nwith Ada\n## Food\n\n### Italian\n\n- pasta\n";
        assert_eq!(
            chunks(text),
            [
                (1, "# Trips\nLyon in May".to_owned()),
                (4, "Rome in June\nwith Ada".to_owned()),
                (6, "## Food\n### Italian\n- pasta".to_owned())
            ]
        );
        let facts: String = (1..=30).map(|n| format!("- fact {n}\n")).collect();
        let cut = chunks(&facts);
        assert_eq!(cut.iter().map(|(line, _)| *line).collect::<Vec<_>>(), [1, 13, 25]);
        assert!(cut[0].1.ends_with("fact 12"));
        let wide = format!("{}\n{}\n", "a".repeat(1500), "b".repeat(1500));
        assert_eq!(chunks(&wide).len(), 2, "a chunk stays near {CHUNK_BYTES} bytes");
    }

    #[test]
    fn dated_notes_are_recognised_by_name() {
        assert_eq!(dated_name("memory/2026-12-08.md"), Some("2026-12-08"));
        for other in ["MEMORY.md", "memory/telegram/42.md", "memory/2026-12-8.md", "memory/2026-12-08.txt"] {
            assert_eq!(dated_name(other), None, "{other}");
        }
    }
}
