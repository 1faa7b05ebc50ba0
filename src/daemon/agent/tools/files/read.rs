//! `read_file`: the text of one workspace file, a window of lines at a time. A call returns at
//! most `MAX_READ_BYTES`, below the round's default cut, so the note saying where to read on is
//! never cut away.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{MAX_TEXT_FILE_BYTES, in_workspace, read_text, refused, size};
use crate::daemon::agent::tools::workspace_path::Workspace;
use crate::daemon::agent::tools::{Access, Tool, ToolContext, ToolError, ToolFuture, arguments};
use crate::daemon::providers::ToolSpec;

pub const READ_FILE: &str = "read_file";
/// The most text one call returns.
const MAX_READ_BYTES: usize = 64 * 1024;
/// Lines returned when the call names no `limit`.
const DEFAULT_LINES: usize = 2000;

pub struct ReadFile;

#[derive(Deserialize)]
struct Input {
    path: String,
    /// The first line to return, counting from 1.
    offset: Option<usize>,
    /// How many lines to return.
    limit: Option<usize>,
}

impl Tool for ReadFile {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: READ_FILE.into(),
            description: format!(
                "Read a UTF-8 text file of the workspace (SOUL.md, USER.md, MEMORY.md, skills/…). \
                 Returns up to {DEFAULT_LINES} lines and {} per call; a note at the end says how to read on \
                 with `offset` when the file is longer.",
                size(MAX_READ_BYTES as u64)
            ),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "Path relative to the workspace, such as `MEMORY.md`."},
                    "offset": {"type": "integer", "minimum": 1, "description": "First line to read, counting from 1."},
                    "limit": {"type": "integer", "minimum": 1, "description": "Most lines to read."},
                },
                "required": ["path"],
            }),
        }
    }

    fn access(&self) -> Access {
        Access::Read
    }

    fn call<'a>(&'a self, input: Value, context: &'a ToolContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let input: Input = arguments(input)?;
            in_workspace(context, move |workspace| read(workspace, &input)).await
        })
    }
}

fn read(workspace: &Workspace, input: &Input) -> Result<String, ToolError> {
    let path = workspace.resolve(&input.path).map_err(refused)?;
    let shown = path.shown();
    let text = read_text(&path, MAX_TEXT_FILE_BYTES)?;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    if lines.is_empty() {
        return Ok(format!("[`{shown}` is empty]"));
    }
    let total = lines.len();
    let first = input.offset.unwrap_or(1).max(1);
    if first > total {
        return Err(ToolError::new(format!("`{shown}` has {total} lines; `offset` {first} is past the end")));
    }
    let limit = input.limit.unwrap_or(DEFAULT_LINES).max(1);
    let mut out = String::new();
    let mut last = first - 1;
    let mut cut_line = None;
    for line in lines[first - 1..].iter().take(limit) {
        if out.len() + line.len() > MAX_READ_BYTES {
            if out.is_empty() {
                // One line longer than a whole read: show its start rather than nothing.
                let mut end = MAX_READ_BYTES;
                while !line.is_char_boundary(end) {
                    end -= 1;
                }
                out.push_str(&line[..end]);
                last += 1;
                cut_line = Some((last, line.len()));
            }
            break;
        }
        out.push_str(line);
        last += 1;
    }
    if let Some((number, bytes)) = cut_line {
        note(
            &mut out,
            &format!(
                "line {number} is {}; only its first {} are shown",
                size(bytes as u64),
                size(MAX_READ_BYTES as u64)
            ),
        );
    }
    if last < total {
        note(&mut out, &format!("lines {first}-{last} of {total} shown; read on with `offset` {}", last + 1));
    }
    Ok(out)
}

/// Appends `[note]` on a line of its own.
fn note(out: &mut String, note: &str) {
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out.push_str(&format!("[{note}]"));
}
