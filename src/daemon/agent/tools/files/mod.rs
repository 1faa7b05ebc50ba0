//! The workspace file tools: `read_file`, `list_files` and `search_files` read, `write_file` and
//! `edit_file` write. Every path goes through `workspace_path::Workspace`, which keeps it inside
//! the workspace and a guest out of other senders' notes; every write is atomic. The file IO
//! runs on the blocking pool, so a large folder never stalls the runtime.

mod atomic;
mod list;
mod read;
mod search;
mod write;

use std::sync::{Arc, Mutex};

use super::workspace_path::{Workspace, WorkspacePath};
use super::{Tool, ToolContext, ToolError};

/// A text file larger than this is not read, searched or edited: the replication scan does not
/// ship it either.
const MAX_TEXT_FILE_BYTES: u64 = crate::daemon::replication::workspace::MAX_FILE_BYTES;

pub fn tools() -> Vec<Arc<dyn Tool>> {
    vec![
        Arc::new(read::ReadFile),
        Arc::new(list::ListFiles),
        Arc::new(search::SearchFiles),
        Arc::new(write::WriteFile),
        Arc::new(write::EditFile),
    ]
}

/// One workspace write at a time (`write_file`, `edit_file`, `memory_write`): calls of one
/// round run at once, and two edits of one file must not each start from the text the other
/// replaces.
pub(in crate::daemon::agent::tools) static WRITES: Mutex<()> = Mutex::new(());

/// Runs `work` on the blocking pool against the asker's view of the workspace.
async fn in_workspace<F>(context: &ToolContext, work: F) -> Result<String, ToolError>
where
    F: FnOnce(&Workspace) -> Result<String, ToolError> + Send + 'static,
{
    let root = context.workspace.clone();
    let scope = context.scope.clone();
    tokio::task::spawn_blocking(move || {
        let workspace = Workspace::open(&root, &scope).map_err(refused)?;
        work(&workspace)
    })
    .await
    .map_err(|_| ToolError::new("the file tool did not finish"))?
}

fn refused(error: impl std::fmt::Display) -> ToolError {
    ToolError::new(error.to_string())
}

/// `bytes` as text, or `None` for a binary file: not UTF-8, or holding a NUL byte.
fn text(bytes: Vec<u8>) -> Option<String> {
    if bytes.contains(&0) {
        return None;
    }
    String::from_utf8(bytes).ok()
}

/// The text of the file at `path`, refused with a message the model can act on when it is
/// missing, a folder, over `max_bytes`, or binary.
fn read_text(path: &WorkspacePath, max_bytes: u64) -> Result<String, ToolError> {
    let shown = path.shown();
    let metadata = std::fs::symlink_metadata(path.absolute()).map_err(|error| io_error(path, &error))?;
    if metadata.is_dir() {
        return Err(ToolError::new(format!("`{shown}` is a folder; use `list_files` to see what it holds")));
    }
    if !metadata.is_file() {
        return Err(ToolError::new(format!("`{shown}` is not a regular file")));
    }
    if metadata.len() > max_bytes {
        return Err(ToolError::new(format!(
            "`{shown}` is {}, over the {} limit of this tool",
            size(metadata.len()),
            size(max_bytes)
        )));
    }
    let bytes = std::fs::read(path.absolute()).map_err(|error| io_error(path, &error))?;
    text(bytes)
        .ok_or_else(|| ToolError::new(format!("`{shown}` is a binary file, not UTF-8 text; only text can be read")))
}

/// An IO failure on `path`, worded without the workspace's place on disk.
fn io_error(path: &WorkspacePath, error: &std::io::Error) -> ToolError {
    let shown = path.shown();
    match error.kind() {
        std::io::ErrorKind::NotFound => ToolError::new(format!("`{shown}` does not exist")),
        std::io::ErrorKind::NotADirectory => ToolError::new(format!("a part of `{shown}` is a file, not a folder")),
        _ => {
            tracing::warn!(path = %shown, %error, "a workspace file tool failed");
            ToolError::new(format!("cannot use `{shown}`: {}", error.kind()))
        }
    }
}

/// `1 file`, `2 files`.
fn counted(count: usize, noun: &str) -> String {
    if count == 1 { format!("1 {noun}") } else { format!("{count} {noun}s") }
}

/// `1,234 bytes`-style sizes are hard to scan; these read like `ls -h`.
fn size(bytes: u64) -> String {
    const KIB: u64 = 1024;
    match bytes {
        bytes if bytes < KIB => format!("{bytes} B"),
        bytes if bytes < KIB * KIB => format!("{:.1} KiB", bytes as f64 / KIB as f64),
        bytes => format!("{:.1} MiB", bytes as f64 / (KIB * KIB) as f64),
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod write_tests;
