//! `exec` end to end: a fake model asks for a command; an operator connection (or the admin
//! API, or the operator's Telegram chat) answers it; the command's output reaches the model in
//! the exact follow-up request. `flow.rs` the decisions, `stop.rs` timeouts and aborts (and the
//! environment of a real `molt` process), `telegram.rs` the inline buttons, `admin.rs` the
//! admin API and page.

mod admin;
mod flow;
mod stop;
mod telegram;

use crate::support;

use serde_json::{Value, json};
use support::client::{Client, ConnectOptions};
use support::fake_anthropic::{self, FakeAnthropic, ToolCall};
use support::gateway::{TOKEN, TestGateway};

/// What an operator client of `molt chat`'s kind asks for.
pub const APPROVER: &[&str] = &["operator.read", "operator.write", "operator.approvals"];

pub fn key() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// A gateway on the fake model with `MOLT_EXEC=<mode>` and `extra` variables.
pub async fn with_exec(fake: &FakeAnthropic, mode: &str, extra: &[(&str, &str)]) -> TestGateway {
    TestGateway::builder().model(fake).env("MOLT_EXEC", mode).envs(extra).start().await
}

/// A connection holding `operator.approvals`, following tool events.
pub async fn approver(gateway: &TestGateway) -> Client {
    let options = ConnectOptions::new(TOKEN).scopes(APPROVER).caps(&["tool-events"]);
    Client::connect(&gateway.ws_url(), &options).await.unwrap().0
}

/// The model's answer asking for `exec` with `input`.
pub fn exec_reply(input: Value) -> fake_anthropic::Reply {
    fake_anthropic::Reply::Tools { text: String::new(), calls: vec![ToolCall::new("exec", &input)] }
}

/// Sends `message` to the main session; returns the run id.
pub async fn send(client: &mut Client, message: &str) -> String {
    let ack =
        client.call("chat.send", json!({"sessionKey": "main", "message": message, "idempotencyKey": key()})).await;
    ack["runId"].as_str().unwrap().to_owned()
}

/// The tool result block of the request that followed a tool call: `(content, is_error)`.
pub fn tool_result(body: &Value) -> (String, bool) {
    let last = body["messages"].as_array().and_then(|messages| messages.last()).cloned().unwrap_or_default();
    let block = &last["content"][0];
    assert_eq!(block["type"], "tool_result", "{last}");
    (block["content"].as_str().unwrap_or_default().to_owned(), block["is_error"] == true)
}

/// The names of the tools a model request offered.
pub fn offered(body: &Value) -> Vec<String> {
    body["tools"].as_array().into_iter().flatten().filter_map(|tool| tool["name"].as_str().map(str::to_owned)).collect()
}

/// The workspace as the command sees it (`HOME`, the default folder).
pub fn workspace(gateway: &TestGateway) -> std::path::PathBuf {
    gateway.data_dir.join("workspace").canonicalize().unwrap()
}

/// The processes whose process group is `group`, from `/proc` (zombies left out: they are
/// dead, only not reaped yet).
pub fn group_members(group: i32) -> Vec<i32> {
    let mut members = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { continue };
        // `pid (comm) state ppid pgrp …`; comm may hold spaces, so read after the last `)`.
        let Some((_, rest)) = stat.rsplit_once(')') else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.len() > 2 && fields[0] != "Z" && fields[2].parse::<i32>().ok() == Some(group) {
            members.push(pid);
        }
    }
    members
}

/// Waits (10 s at most) until `path` holds a whole line; returns it trimmed.
pub async fn read_line(path: &std::path::Path) -> String {
    for _ in 0..1000 {
        if let Ok(text) = std::fs::read_to_string(path)
            && text.ends_with('\n')
        {
            return text.trim().to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("{} was not written", path.display());
}
