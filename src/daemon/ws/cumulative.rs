//! The cumulative `message` on `chat` deltas, for clients that did not announce
//! `chat-delta-text`: OpenClaw's protocol keeps `message` as the reply so far on every delta
//! and its clients read it. The bus carries only `deltaText`; a connection that owes its
//! client the cumulative text rebuilds it here.

use std::borrow::Cow;

use serde_json::{Value, json};

use crate::core::time::now_ms;
use crate::daemon::events::Broadcast;

/// Runs followed at once on one connection; the oldest is forgotten past this.
const MAX_RUNS: usize = 64;

/// The text so far of each run this connection is following.
#[derive(Debug, Default)]
pub struct Cumulative {
    runs: Vec<(String, String)>,
}

impl Cumulative {
    /// The payload to send for `event`: unchanged, except that a delta gains `message`.
    pub fn payload<'a>(&mut self, event: &'a Broadcast) -> Cow<'a, str> {
        let Some(step) = &event.run else { return Cow::Borrowed(&event.payload) };
        let Some(added) = &step.added else {
            self.runs.retain(|(run_id, _)| *run_id != step.run_id);
            return Cow::Borrowed(&event.payload);
        };
        let text = self.text_of(&step.run_id);
        text.push_str(added);
        let message = json!({"role": "assistant", "content": [{"type": "text", "text": text}], "timestamp": now_ms()});
        Cow::Owned(with_field(&event.payload, "message", &message))
    }

    fn text_of(&mut self, run_id: &str) -> &mut String {
        let index = match self.runs.iter().position(|(known, _)| known == run_id) {
            Some(index) => index,
            None => {
                if self.runs.len() == MAX_RUNS {
                    self.runs.remove(0);
                }
                self.runs.push((run_id.to_owned(), String::new()));
                self.runs.len() - 1
            }
        };
        &mut self.runs[index].1
    }
}

/// `object` (a serialised JSON object) with `"key": value` added at its end.
fn with_field(object: &str, key: &str, value: &Value) -> String {
    let Some(head) = object.trim_end().strip_suffix('}') else { return object.to_owned() };
    let separator = if head.trim_end().ends_with('{') { "" } else { "," };
    format!("{head}{separator}{}:{value}}}", Value::from(key))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::scopes::Scope;
    use crate::daemon::events::RunStep;

    fn event(run_id: &str, added: Option<&str>) -> Broadcast {
        let payload = match added {
            Some(text) => json!({"runId": run_id, "state": "delta", "deltaText": text}),
            None => json!({"runId": run_id, "state": "final"}),
        };
        Broadcast {
            event: "chat",
            payload: payload.to_string(),
            scope: Scope::Read,
            run: Some(RunStep { run_id: run_id.to_owned(), added: added.map(str::to_owned) }),
        }
    }

    fn message_text(payload: &str) -> Value {
        let value: Value = serde_json::from_str(payload).unwrap();
        value["message"]["content"][0]["text"].clone()
    }

    #[test]
    fn deltas_gain_the_reply_so_far_per_run_and_a_final_forgets_it() {
        let mut cumulative = Cumulative::default();
        assert_eq!(message_text(&cumulative.payload(&event("r1", Some("Hel")))), "Hel");
        assert_eq!(message_text(&cumulative.payload(&event("r2", Some("other")))), "other");
        let second = cumulative.payload(&event("r1", Some("lo"))).into_owned();
        assert_eq!(message_text(&second), "Hello");
        assert_eq!(serde_json::from_str::<Value>(&second).unwrap()["deltaText"], "lo");
        let end = event("r1", None);
        assert_eq!(cumulative.payload(&end), end.payload.as_str(), "a final already carries its message");
        assert_eq!(message_text(&cumulative.payload(&event("r1", Some("again")))), "again");
    }

    #[test]
    fn other_events_pass_unchanged_and_runs_are_bounded() {
        let mut cumulative = Cumulative::default();
        let plain = Broadcast { event: "tick", payload: "{}".into(), scope: Scope::Read, run: None };
        assert_eq!(cumulative.payload(&plain), "{}");
        for index in 0..MAX_RUNS + 10 {
            let _ = cumulative.payload(&event(&format!("r{index}"), Some("x")));
        }
        assert_eq!(cumulative.runs.len(), MAX_RUNS);
        assert_eq!(with_field("{}", "a", &json!(1)), r#"{"a":1}"#);
    }
}
