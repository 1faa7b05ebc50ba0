//! Slack `event_callback` payloads → [`Inbound`]. A message and its `app_mention` share one
//! dedupe key (channel + `ts`), so a mention subscribed twice, or a retried envelope, is one
//! message.

use serde_json::Value;

use crate::daemon::channels::platform::{ChatKind, ChatRef, Inbound};

pub fn inbound(callback: &Value, bot_user: &str) -> Option<Inbound> {
    let event = callback.get("event")?;
    let kind = event["type"].as_str()?;
    if kind != "message" && kind != "app_mention" {
        return None;
    }
    // Edits, joins and the bot's own messages are not questions.
    if event.get("subtype").is_some_and(|subtype| !subtype.is_null())
        || event.get("bot_id").is_some_and(|id| !id.is_null())
    {
        return None;
    }
    let user = event["user"].as_str()?;
    if user == bot_user {
        return None;
    }
    let channel = event["channel"].as_str()?;
    let ts = event["ts"].as_str()?;
    let text = event["text"].as_str()?;
    let direct = event["channel_type"].as_str() == Some("im") || channel.starts_with('D');
    let thread_ts = event["thread_ts"].as_str();
    let mention = kind == "app_mention" || (!bot_user.is_empty() && text.contains(&format!("<@{bot_user}>")));
    let (kind, thread) = if direct {
        (ChatKind::Direct, thread_ts.map(str::to_owned))
    } else {
        // In channels molt answers in a thread: under the message, or in the thread it is in.
        (ChatKind::Group, Some(thread_ts.unwrap_or(ts).to_owned()))
    };
    Some(Inbound {
        dedupe_key: format!("message:{channel}:{ts}"),
        chat: ChatRef { id: channel.to_owned(), thread },
        kind,
        sender_id: user.to_owned(),
        sender_name: None,
        text: text.to_owned(),
        addressed: mention,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn channel_messages_answer_in_threads_and_mentions_address_the_bot() {
        let callback = json!({"type": "event_callback", "event_id": "Ev1", "event": {"type": "message", "channel": "C1", "channel_type": "channel", "user": "U1", "text": "hi <@UBOT>", "ts": "1.5"}});
        let message = inbound(&callback, "UBOT").unwrap();
        assert_eq!(message.kind, ChatKind::Group);
        assert_eq!(message.chat.thread.as_deref(), Some("1.5"));
        assert!(message.addressed);
        assert_eq!(message.dedupe_key, "message:C1:1.5");
        let own = json!({"event": {"type": "message", "channel": "D1", "user": "UBOT", "text": "x", "ts": "2"}});
        assert!(inbound(&own, "UBOT").is_none());
        let edited = json!({"event": {"type": "message", "subtype": "message_changed", "channel": "D1", "ts": "3"}});
        assert!(inbound(&edited, "UBOT").is_none());
    }
}
