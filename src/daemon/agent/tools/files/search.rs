//! `search_files`: the lines of the workspace's text files that hold a piece of text, ignoring
//! case, as `path:line: text`. Bounded in results, in files opened and in bytes read; binary
//! and oversized files are skipped and counted. Walks as `list_files` does, so it shows nothing
//! that listing would hide.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{counted, in_workspace, io_error, read_text, refused, size, text};
use crate::daemon::agent::tools::workspace_path::{Workspace, WorkspacePath};
use crate::daemon::agent::tools::{Access, Tool, ToolContext, ToolError, ToolFuture, arguments};
use crate::daemon::providers::ToolSpec;

pub const SEARCH_FILES: &str = "search_files";
const DEFAULT_RESULTS: usize = 50;
const MAX_RESULTS: usize = 200;
/// Files opened by one search at most.
const MAX_FILES: usize = 2_000;
/// Bytes read by one search at most.
const MAX_BYTES: u64 = 32 * 1024 * 1024;
/// A file larger than this is skipped.
const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// A matching line is cut to this many characters.
const MAX_LINE_CHARS: usize = 300;
const MAX_QUERY_CHARS: usize = 500;
/// Folders descended at most, as the replication scan does.
const MAX_DEPTH: usize = 16;

pub struct SearchFiles;

#[derive(Deserialize)]
struct Input {
    query: String,
    path: Option<String>,
    max_results: Option<usize>,
}

impl Tool for SearchFiles {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: SEARCH_FILES.into(),
            description: format!(
                "Search the workspace's text files for a piece of plain text, ignoring case (no patterns). \
                 Answers one line per match as `path:line: text`, {DEFAULT_RESULTS} matches unless `max_results` \
                 says otherwise ({MAX_RESULTS} at most). Files over {} are skipped.",
                size(MAX_FILE_BYTES)
            ),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "query": {"type": "string", "description": "The text to find."},
                    "path": {"type": "string", "description": "A folder or file relative to the workspace; the whole workspace when left out."},
                    "max_results": {"type": "integer", "minimum": 1, "maximum": MAX_RESULTS},
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
            let input: Input = arguments(input)?;
            in_workspace(context, move |workspace| search(workspace, &input)).await
        })
    }
}

/// A search under way: what it found and what it passed over.
struct Search {
    needle: String,
    max_results: usize,
    results: Vec<String>,
    files: usize,
    bytes: u64,
    skipped_binary: usize,
    skipped_large: usize,
    /// Why the search stopped before the end, when it did.
    stopped: Option<String>,
    unreadable: Vec<String>,
}

fn search(workspace: &Workspace, input: &Input) -> Result<String, ToolError> {
    if input.query.trim().is_empty() {
        return Err(ToolError::new("the query is empty"));
    }
    if input.query.chars().count() > MAX_QUERY_CHARS {
        return Err(ToolError::new(format!("keep the query under {MAX_QUERY_CHARS} characters")));
    }
    let start = match input.path.as_deref() {
        None | Some("") => workspace.root(),
        Some(raw) => workspace.resolve(raw).map_err(refused)?,
    };
    let mut search = Search {
        needle: input.query.to_lowercase(),
        max_results: input.max_results.unwrap_or(DEFAULT_RESULTS).clamp(1, MAX_RESULTS),
        results: Vec::new(),
        files: 0,
        bytes: 0,
        skipped_binary: 0,
        skipped_large: 0,
        stopped: None,
        unreadable: Vec::new(),
    };
    let metadata = std::fs::symlink_metadata(start.absolute()).map_err(|error| io_error(&start, &error))?;
    if metadata.is_file() {
        let text = read_text(&start, MAX_FILE_BYTES)?;
        search.files = 1;
        search.text(&start, &text);
    } else if metadata.is_dir() {
        search.walk(workspace, &start, MAX_DEPTH).map_err(|error| io_error(&start, &error))?;
    } else {
        return Err(ToolError::new(format!("`{}` is not a file or a folder", start.shown())));
    }
    Ok(search.answer(&input.query, start.shown()))
}

impl Search {
    fn done(&self) -> bool {
        self.stopped.is_some()
    }

    /// Searches the files of `folder`, then its folders, in name order.
    fn walk(&mut self, workspace: &Workspace, folder: &WorkspacePath, depth: usize) -> std::io::Result<()> {
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(folder.absolute())? {
            let entry = entry?;
            let Ok(kind) = entry.file_type() else { continue };
            if let Some(path) = workspace.child(folder, &entry.file_name()) {
                entries.push((path, kind));
            }
        }
        entries.sort_by(|(left, _), (right, _)| left.relative().cmp(right.relative()));
        for (path, kind) in entries {
            if self.done() {
                return Ok(());
            }
            if kind.is_file() {
                self.file(&path);
            } else if kind.is_dir()
                && depth > 1
                && let Err(error) = self.walk(workspace, &path, depth - 1)
            {
                self.unreadable.push(format!("cannot search `{}/`: {}", path.relative(), error.kind()));
            }
        }
        Ok(())
    }

    fn file(&mut self, path: &WorkspacePath) {
        let Ok(metadata) = std::fs::symlink_metadata(path.absolute()) else { return };
        if metadata.len() > MAX_FILE_BYTES {
            self.skipped_large += 1;
            return;
        }
        if self.files >= MAX_FILES || self.bytes + metadata.len() > MAX_BYTES {
            self.stopped = Some(format!(
                "stopped after {} and {}; give a `path` to search a smaller part",
                counted(self.files, "file"),
                size(self.bytes)
            ));
            return;
        }
        self.files += 1;
        self.bytes += metadata.len();
        match std::fs::read(path.absolute()).map(text) {
            Ok(Some(text)) => self.text(path, &text),
            Ok(None) => self.skipped_binary += 1,
            Err(error) => self.unreadable.push(format!("cannot read `{}`: {}", path.relative(), error.kind())),
        }
    }

    fn text(&mut self, path: &WorkspacePath, text: &str) {
        for (index, line) in text.lines().enumerate() {
            if !line.to_lowercase().contains(&self.needle) {
                continue;
            }
            if self.results.len() >= self.max_results {
                self.stopped = Some(format!("stopped at {} matches; narrow the query or the path", self.max_results));
                return;
            }
            let mut shown: String = line.trim().chars().take(MAX_LINE_CHARS).collect();
            if shown.len() < line.trim().len() {
                shown.push('…');
            }
            self.results.push(format!("{}:{}: {shown}", path.shown(), index + 1));
        }
    }

    fn answer(self, query: &str, place: &str) -> String {
        let mut out = if self.results.is_empty() {
            format!("no match for `{query}` in `{place}` ({} searched)", counted(self.files, "file"))
        } else {
            self.results.join("\n")
        };
        let mut notes = Vec::new();
        notes.extend(self.stopped);
        if self.skipped_binary > 0 {
            notes.push(format!("{} skipped", counted(self.skipped_binary, "binary file")));
        }
        if self.skipped_large > 0 {
            notes.push(format!("{} over {} skipped", counted(self.skipped_large, "file"), size(MAX_FILE_BYTES)));
        }
        notes.extend(self.unreadable.into_iter().take(5));
        for note in notes {
            out.push_str(&format!("\n[{note}]"));
        }
        out
    }
}
