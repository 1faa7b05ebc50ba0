//! The `agent` event's tool stream: a tool call starting and its result, under OpenClaw's names
//! (`stream: "tool"`, `data.phase` `start` / `result`), so OpenClaw's clients show molt's tool
//! activity, and the record of a reply's tool calls that history carries.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::core::ids::{RunId, SessionKey};

/// The capability a client declares in `connect.caps` to receive tool events, as in OpenClaw.
pub const TOOL_EVENTS_CAP: &str = "tool-events";

/// One `agent` event of run `run_id`; `seq` shares the run's counter with its `chat` events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentEvent {
    pub run_id: RunId,
    pub session_key: SessionKey,
    #[serde(default)]
    pub seq: u64,
    pub stream: AgentStream,
    #[serde(default)]
    pub ts: i64,
    pub data: ToolEvent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentStream {
    Tool,
}

/// A tool call starting (`args`) or done (`result`, `isError`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolEvent {
    pub phase: ToolPhase,
    pub tool_call_id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolPhase {
    Start,
    Result,
}

/// A finished tool call as a reply stores it and history returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToolCallRecord {
    pub tool_call_id: String,
    pub name: String,
    #[serde(default)]
    pub args: Value,
    #[serde(default)]
    pub result: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub is_error: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tool_events_have_openclaws_shape() {
        let event = AgentEvent {
            run_id: RunId::from_stored("r1".into()),
            session_key: SessionKey::main(),
            seq: 3,
            stream: AgentStream::Tool,
            ts: 5,
            data: ToolEvent {
                phase: ToolPhase::Start,
                tool_call_id: "call_1".into(),
                name: "web_fetch".into(),
                args: Some(json!({"url": "https://example.com"})),
                result: None,
                is_error: false,
            },
        };
        assert_eq!(
            serde_json::to_value(&event).unwrap(),
            json!({"runId": "r1", "sessionKey": "agent:main:main", "seq": 3, "stream": "tool", "ts": 5,
                "data": {"phase": "start", "toolCallId": "call_1", "name": "web_fetch",
                    "args": {"url": "https://example.com"}}})
        );
        let done = json!({"phase": "result", "toolCallId": "c", "name": "n", "result": "no", "isError": true});
        let done: ToolEvent = serde_json::from_value(done).unwrap();
        assert_eq!((done.phase, done.is_error, done.result.as_deref()), (ToolPhase::Result, true, Some("no")));
    }
}
