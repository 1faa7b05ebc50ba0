//! `write_file` and `edit_file`: the tools that change the workspace. A write replaces a whole
//! file, an edit replaces one exact, unique piece of text; both write atomically, create the
//! folders they need, and stay within `MAX_WRITE_BYTES`, far below what replication ships.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{WRITES, atomic, in_workspace, io_error, read_text, refused, size};
use crate::core::sync::lock;
use crate::daemon::agent::tools::workspace_path::{Workspace, WorkspacePath};
use crate::daemon::agent::tools::{Access, Tool, ToolContext, ToolError, ToolFuture, arguments};
use crate::daemon::providers::ToolSpec;

pub const WRITE_FILE: &str = "write_file";
pub const EDIT_FILE: &str = "edit_file";
/// The largest file these tools write.
const MAX_WRITE_BYTES: usize = 1024 * 1024;

pub struct WriteFile;
pub struct EditFile;

#[derive(Deserialize)]
struct WriteInput {
    path: String,
    content: String,
}

#[derive(Deserialize)]
struct EditInput {
    path: String,
    old_text: String,
    new_text: String,
}

impl Tool for WriteFile {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: WRITE_FILE.into(),
            description: format!(
                "Create or replace a text file in the workspace with `content`, creating its folders. \
                 The file is replaced whole, so read it first to keep what should stay. At most {}.",
                size(MAX_WRITE_BYTES as u64)
            ),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "Path relative to the workspace, such as `notes/today.md`."},
                    "content": {"type": "string", "description": "The whole new text of the file."},
                },
                "required": ["path", "content"],
            }),
        }
    }

    fn access(&self) -> Access {
        Access::Act
    }

    fn call<'a>(&'a self, input: Value, context: &'a ToolContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let input: WriteInput = arguments(input)?;
            in_workspace(context, move |workspace| write(workspace, &input)).await
        })
    }
}

impl Tool for EditFile {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: EDIT_FILE.into(),
            description: "Replace one piece of text in a workspace file. `old_text` must occur exactly once, \
                 spaces and line breaks included: copy it from `read_file`, with enough around it to be unique."
                .into(),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "Path relative to the workspace."},
                    "old_text": {"type": "string", "description": "The exact text to replace."},
                    "new_text": {"type": "string", "description": "The text to put in its place."},
                },
                "required": ["path", "old_text", "new_text"],
            }),
        }
    }

    fn access(&self) -> Access {
        Access::Act
    }

    fn call<'a>(&'a self, input: Value, context: &'a ToolContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let input: EditInput = arguments(input)?;
            in_workspace(context, move |workspace| edit(workspace, &input)).await
        })
    }
}

fn file_path(workspace: &Workspace, raw: &str) -> Result<WorkspacePath, ToolError> {
    let path = workspace.resolve_for_write(raw).map_err(refused)?;
    if path.is_root() {
        return Err(ToolError::new("`.` is the workspace folder; give a file path, such as `notes/today.md`"));
    }
    Ok(path)
}

fn too_large(bytes: usize) -> ToolError {
    ToolError::new(format!(
        "the new text is {}, over the {} a file may hold here",
        size(bytes as u64),
        size(MAX_WRITE_BYTES as u64)
    ))
}

fn write(workspace: &Workspace, input: &WriteInput) -> Result<String, ToolError> {
    let path = file_path(workspace, &input.path)?;
    if input.content.len() > MAX_WRITE_BYTES {
        return Err(too_large(input.content.len()));
    }
    let shown = path.shown();
    let _one_at_a_time = lock(&WRITES);
    let existed = match std::fs::symlink_metadata(path.absolute()) {
        Ok(metadata) if metadata.is_dir() => {
            return Err(ToolError::new(format!("`{shown}` is a folder; `write_file` writes files only")));
        }
        Ok(metadata) if !metadata.is_file() => return Err(ToolError::new(format!("`{shown}` is not a regular file"))),
        Ok(_) => true,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => false,
        Err(error) => return Err(io_error(&path, &error)),
    };
    if let Some(folder) = path.absolute().parent() {
        std::fs::create_dir_all(folder).map_err(|error| io_error(&path, &error))?;
    }
    atomic::write(path.absolute(), input.content.as_bytes()).map_err(|error| io_error(&path, &error))?;
    tracing::info!(file = %shown, bytes = input.content.len(), "a workspace file was written");
    let done = if existed { "replaced" } else { "created" };
    Ok(format!("{done} `{shown}` ({})", size(input.content.len() as u64)))
}

fn edit(workspace: &Workspace, input: &EditInput) -> Result<String, ToolError> {
    let path = file_path(workspace, &input.path)?;
    let shown = path.shown();
    if input.old_text.is_empty() {
        return Err(ToolError::new("`old_text` is empty; to write a whole file use `write_file`"));
    }
    let _one_at_a_time = lock(&WRITES);
    let text = read_text(&path, MAX_WRITE_BYTES as u64)?;
    match occurrences(&text, &input.old_text) {
        0 => {
            return Err(ToolError::new(format!(
                "`old_text` is not in `{shown}`; read the file and copy the text exactly, spaces and line breaks included"
            )));
        }
        1 => {}
        count => {
            return Err(ToolError::new(format!(
                "`old_text` occurs {count} times in `{shown}`; include more of the text around it so it occurs once"
            )));
        }
    }
    let edited = text.replacen(&input.old_text, &input.new_text, 1);
    if edited.len() > MAX_WRITE_BYTES {
        return Err(too_large(edited.len()));
    }
    atomic::write(path.absolute(), edited.as_bytes()).map_err(|error| io_error(&path, &error))?;
    tracing::info!(file = %shown, bytes = edited.len(), "a workspace file was edited");
    Ok(format!("edited `{shown}`"))
}

/// How many places `needle` starts at in `text`, overlapping ones included: in `aaa`, `aa`
/// starts at two places, so replacing it would be a guess.
fn occurrences(text: &str, needle: &str) -> usize {
    let mut count = 0;
    let mut from = 0;
    while let Some(found) = text[from..].find(needle) {
        count += 1;
        let start = from + found;
        from = start + text[start..].chars().next().map_or(1, char::len_utf8);
    }
    count
}
