//! `list_files`: the files of a workspace folder with their sizes, or of its whole tree, in name
//! order, bounded in count and depth. Links, special files and files being written are not
//! shown, as the replication scan does not ship them; a guest does not see other senders' notes.

use serde::Deserialize;
use serde_json::{Value, json};

use super::{in_workspace, io_error, refused, size};
use crate::daemon::agent::tools::workspace_path::{Workspace, WorkspacePath};
use crate::daemon::agent::tools::{Access, Tool, ToolContext, ToolError, ToolFuture, arguments};
use crate::daemon::providers::ToolSpec;

pub const LIST_FILES: &str = "list_files";
/// Entries one call shows at most.
const MAX_ENTRIES: usize = 500;
/// Folders a recursive listing descends at most.
const MAX_DEPTH: usize = 8;

pub struct ListFiles;

#[derive(Deserialize)]
struct Input {
    path: Option<String>,
    #[serde(default)]
    recursive: bool,
}

impl Tool for ListFiles {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: LIST_FILES.into(),
            description: format!(
                "List the files of a workspace folder with their sizes (folders end with `/`). \
                 With `recursive`, the whole tree below it, {MAX_DEPTH} levels deep at most. \
                 At most {MAX_ENTRIES} entries; a note says when the list was cut."
            ),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "path": {"type": "string", "description": "Folder relative to the workspace; the workspace itself when left out."},
                    "recursive": {"type": "boolean", "description": "Also list every folder below it."},
                },
            }),
        }
    }

    fn access(&self) -> Access {
        Access::Read
    }

    fn call<'a>(&'a self, input: Value, context: &'a ToolContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let input: Input = arguments(input)?;
            in_workspace(context, move |workspace| list(workspace, &input)).await
        })
    }
}

/// What a listing found so far.
#[derive(Default)]
struct Listing {
    recursive: bool,
    lines: Vec<String>,
    cut: bool,
    /// The first folder a recursive listing did not descend into.
    too_deep: Option<String>,
    notes: Vec<String>,
}

fn list(workspace: &Workspace, input: &Input) -> Result<String, ToolError> {
    let folder = match input.path.as_deref() {
        None | Some("") => workspace.root(),
        Some(raw) => workspace.resolve(raw).map_err(refused)?,
    };
    let metadata = std::fs::symlink_metadata(folder.absolute()).map_err(|error| io_error(&folder, &error))?;
    if metadata.is_file() {
        return Ok(format!("{}  {}", folder.shown(), size(metadata.len())));
    }
    if !metadata.is_dir() {
        return Err(ToolError::new(format!("`{}` is not a folder", folder.shown())));
    }
    let mut listing = Listing { recursive: input.recursive, ..Listing::default() };
    let depth = if input.recursive { MAX_DEPTH } else { 1 };
    walk(workspace, &folder, depth, &mut listing).map_err(|error| io_error(&folder, &error))?;
    if listing.lines.is_empty() && listing.notes.is_empty() {
        return Ok(format!("[`{}` is empty]", folder.shown()));
    }
    let mut out = listing.lines.join("\n");
    if listing.cut {
        listing.notes.push(format!("cut at {MAX_ENTRIES} entries; list a folder below to see the rest"));
    }
    if let Some(folder) = &listing.too_deep {
        listing.notes.push(format!(
            "folders more than {MAX_DEPTH} levels down, such as `{folder}/`, were not opened; list one to see inside"
        ));
    }
    for note in &listing.notes {
        out.push_str(&format!("\n[{note}]"));
    }
    Ok(out)
}

/// Lists `folder` into `listing`, then each folder below it while `depth` allows. Only
/// `folder` failing to open is an error; a folder below that cannot be read is noted.
fn walk(workspace: &Workspace, folder: &WorkspacePath, depth: usize, listing: &mut Listing) -> std::io::Result<()> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(folder.absolute())? {
        let entry = entry?;
        let Ok(kind) = entry.file_type() else { continue };
        if let Some(path) = workspace.child(folder, &entry.file_name()) {
            entries.push((path, kind, entry));
        }
    }
    entries.sort_by(|(left, ..), (right, ..)| left.relative().cmp(right.relative()));
    for (path, kind, entry) in entries {
        if listing.lines.len() >= MAX_ENTRIES {
            listing.cut = true;
            return Ok(());
        }
        if kind.is_file() {
            let bytes = entry.metadata().map(|metadata| metadata.len()).unwrap_or(0);
            listing.lines.push(format!("{}  {}", path.relative(), size(bytes)));
        } else if kind.is_dir() {
            listing.lines.push(format!("{}/", path.relative()));
            if depth > 1 {
                if let Err(error) = walk(workspace, &path, depth - 1, listing) {
                    listing.notes.push(format!("cannot list `{}/`: {}", path.relative(), error.kind()));
                }
            } else if listing.recursive && listing.too_deep.is_none() {
                listing.too_deep = Some(path.relative().to_owned());
            }
        }
    }
    Ok(())
}
