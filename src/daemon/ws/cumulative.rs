//! The cumulative `message` on `chat` deltas, for clients that did not announce
//! `chat-delta-text`: OpenClaw's protocol keeps `message` as the reply so far on every delta
//! and its clients read it. The bus carries only `deltaText`; a connection that owes its
//! client the cumulative text rebuilds it here.

use std::borrow::Cow;

use crate::core::ids::RunId;
use crate::core::protocol::{AssistantMessage, ChatEvent, ChatStep};

/// Runs followed at once on one connection; the oldest is forgotten past this.
const MAX_RUNS: usize = 64;

/// The text so far of each run this connection is following.
#[derive(Debug, Default)]
pub struct Cumulative {
    runs: Vec<(RunId, String)>,
}

impl Cumulative {
    /// The payload to send for `chat`: unchanged, except that a delta gains `message`.
    pub fn payload<'a>(&mut self, chat: &ChatEvent, payload: &'a str) -> Cow<'a, str> {
        let ChatStep::Delta { delta_text, replace, .. } = &chat.step else {
            self.runs.retain(|(run_id, _)| *run_id != chat.run_id);
            return Cow::Borrowed(payload);
        };
        let text = self.text_of(&chat.run_id);
        if *replace {
            text.clear();
        }
        text.push_str(delta_text);
        let mut event = chat.clone();
        event.step = ChatStep::Delta {
            delta_text: delta_text.clone(),
            replace: *replace,
            message: Some(AssistantMessage::text(text)),
        };
        Cow::Owned(serde_json::to_string(&event).unwrap_or_else(|_| payload.to_owned()))
    }

    fn text_of(&mut self, run_id: &RunId) -> &mut String {
        let index = match self.runs.iter().position(|(known, _)| known == run_id) {
            Some(index) => index,
            None => {
                if self.runs.len() == MAX_RUNS {
                    self.runs.remove(0);
                }
                self.runs.push((run_id.clone(), String::new()));
                self.runs.len() - 1
            }
        };
        &mut self.runs[index].1
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::core::ids::SessionKey;

    fn event(run_id: &str, added: Option<&str>) -> (ChatEvent, String) {
        let step = match added {
            Some(text) => ChatStep::Delta { delta_text: text.into(), replace: false, message: None },
            None => ChatStep::Aborted { message: None, stop_reason: None },
        };
        let event =
            ChatEvent { run_id: RunId::from_stored(run_id.into()), session_key: SessionKey::main(), seq: 0, step };
        let payload = serde_json::to_string(&event).unwrap();
        (event, payload)
    }

    fn payload(cumulative: &mut Cumulative, (event, payload): (ChatEvent, String)) -> String {
        cumulative.payload(&event, &payload).into_owned()
    }

    fn message_text(payload: &str) -> Value {
        let value: Value = serde_json::from_str(payload).unwrap();
        value["message"]["content"][0]["text"].clone()
    }

    #[test]
    fn deltas_gain_the_reply_so_far_per_run_and_an_end_forgets_it() {
        let mut cumulative = Cumulative::default();
        assert_eq!(message_text(&payload(&mut cumulative, event("r1", Some("Hel")))), "Hel");
        assert_eq!(message_text(&payload(&mut cumulative, event("r2", Some("other")))), "other");
        let second = payload(&mut cumulative, event("r1", Some("lo")));
        assert_eq!(message_text(&second), "Hello");
        assert_eq!(serde_json::from_str::<Value>(&second).unwrap()["deltaText"], "lo");
        let end = event("r1", None);
        assert_eq!(cumulative.payload(&end.0, &end.1), end.1.as_str(), "an end is sent as it is");
        assert_eq!(message_text(&payload(&mut cumulative, event("r1", Some("again")))), "again");
    }

    #[test]
    fn runs_are_bounded() {
        let mut cumulative = Cumulative::default();
        for index in 0..MAX_RUNS + 10 {
            let _ = payload(&mut cumulative, event(&format!("r{index}"), Some("x")));
        }
        assert_eq!(cumulative.runs.len(), MAX_RUNS);
    }
}
