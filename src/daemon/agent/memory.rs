//! The memory tool: lets the model append a fact to the workspace's `MEMORY.md`, which every
//! session on every channel reads in its prompt prefix.

use std::io::Write;
use std::path::Path;

use serde_json::json;

use crate::daemon::providers::{ToolSpec, ToolUse};

pub const REMEMBER: &str = "remember";

/// `MEMORY.md` is not grown past this; the model is told to keep facts short.
const MAX_MEMORY_BYTES: u64 = 64 * 1024;
const MAX_FACT_CHARS: usize = 500;

/// Tool rounds in one turn at most, so a model that keeps calling tools cannot loop forever.
pub const MAX_TOOL_ROUNDS: usize = 4;

pub fn tools() -> Vec<ToolSpec> {
    vec![ToolSpec {
        name: REMEMBER,
        description: "Save one short, durable fact about the user or their preferences to long-term memory \
                      (MEMORY.md). It is available in every future conversation, on every channel. Use it only \
                      for facts worth keeping.",
        input_schema: json!({
            "type": "object",
            "properties": {"fact": {"type": "string", "description": "The fact, in one sentence."}},
            "required": ["fact"],
        }),
    }]
}

/// Runs one tool call; the text returned goes back to the model as the tool's result.
pub fn run(workspace: &Path, call: &ToolUse) -> String {
    if call.name != REMEMBER {
        return format!("error: there is no tool named `{}`", call.name);
    }
    let Some(fact) = call.input["fact"].as_str().map(|fact| fact.split_whitespace().collect::<Vec<_>>().join(" "))
    else {
        return "error: `fact` must be a string".into();
    };
    if fact.is_empty() {
        return "error: `fact` is empty".into();
    }
    if fact.chars().count() > MAX_FACT_CHARS {
        return format!("error: keep a fact under {MAX_FACT_CHARS} characters");
    }
    let path = workspace.join("MEMORY.md");
    let size = std::fs::metadata(&path).map(|meta| meta.len()).unwrap_or(0);
    if size + fact.len() as u64 > MAX_MEMORY_BYTES {
        return "error: memory is full; the operator can edit MEMORY.md in the workspace".into();
    }
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut file| writeln!(file, "- {fact}"));
    match written {
        Ok(()) => {
            tracing::info!(bytes = fact.len(), "a fact was added to MEMORY.md");
            "saved".into()
        }
        Err(error) => {
            tracing::error!(path = %path.display(), %error, "cannot write MEMORY.md");
            format!("error: cannot write memory: {error}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(name: &str, input: serde_json::Value) -> ToolUse {
        ToolUse { id: "t1".into(), name: name.into(), input }
    }

    #[test]
    fn appends_facts_and_refuses_bad_calls() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(run(dir.path(), &call(REMEMBER, json!({"fact": "Ada  drinks\\ntea"}))), "saved");
        assert_eq!(run(dir.path(), &call(REMEMBER, json!({"fact": "Ada lives in Lyon"}))), "saved");
        let memory = std::fs::read_to_string(dir.path().join("MEMORY.md")).unwrap();
        assert_eq!(memory, "- Ada drinks\\ntea\n- Ada lives in Lyon\n");
        assert!(run(dir.path(), &call(REMEMBER, json!({"fact": 3}))).starts_with("error"));
        assert!(run(dir.path(), &call(REMEMBER, json!({"fact": "x".repeat(501)}))).starts_with("error"));
        assert!(run(dir.path(), &call("shell", json!({}))).starts_with("error: there is no tool"));
    }
}
