//! Telegram updates → [`Inbound`], and replies → Telegram's HTML markup (escaped, with code
//! spans and blocks kept).

use serde_json::Value;

use crate::daemon::channels::platform::{ChatKind, ChatRef, Inbound};

/// Who the bot is, for mention and reply detection.
#[derive(Debug, Clone, Default)]
pub struct BotIdentity {
    pub id: i64,
    pub username: String,
}

/// The message in an update, if it is a text message from a person.
pub fn inbound(update: &Value, bot: &BotIdentity) -> Option<Inbound> {
    let update_id = update["update_id"].as_i64()?;
    let message = update.get("message")?;
    let text = message["text"].as_str().or_else(|| message["caption"].as_str())?;
    let from = message.get("from")?;
    if from["is_bot"] == true {
        return None;
    }
    let chat = &message["chat"];
    let chat_id = chat["id"].as_i64()?;
    let kind = match chat["type"].as_str()? {
        "private" => ChatKind::Direct,
        "group" | "supergroup" => ChatKind::Group,
        _ => return None,
    };
    let thread = (message["is_topic_message"] == true)
        .then(|| message["message_thread_id"].as_i64())
        .flatten()
        .map(|id| id.to_string());
    let mention =
        !bot.username.is_empty() && text.to_lowercase().contains(&format!("@{}", bot.username.to_lowercase()));
    let replied = message["reply_to_message"]["from"]["id"].as_i64() == Some(bot.id) && bot.id != 0;
    let name =
        [from["first_name"].as_str(), from["last_name"].as_str()].into_iter().flatten().collect::<Vec<_>>().join(" ");
    Some(Inbound {
        dedupe_key: format!("update:{update_id}"),
        chat: ChatRef { id: chat_id.to_string(), thread },
        kind,
        sender_id: from["id"].as_i64()?.to_string(),
        sender_name: from["username"].as_str().map(|user| format!("@{user}")).or((!name.is_empty()).then_some(name)),
        text: text.to_owned(),
        addressed: mention || replied,
    })
}

/// Escapes text for `parse_mode: HTML`, turning ``` fences into `<pre>` and `code` into `<code>`.
pub fn html(text: &str) -> String {
    let escape = |raw: &str| raw.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut out = String::with_capacity(text.len() + 16);
    for (index, block) in text.split("```").enumerate() {
        if index % 2 == 1 {
            let body = block.split_once('\n').map_or(block, |(first, rest)| {
                if first.trim().chars().all(char::is_alphanumeric) { rest } else { block }
            });
            out.push_str(&format!("<pre>{}</pre>", escape(body.trim_end_matches('\n'))));
            continue;
        }
        for (inner, span) in block.split('`').enumerate() {
            if inner % 2 == 1 {
                out.push_str(&format!("<code>{}</code>", escape(span)));
            } else {
                out.push_str(&escape(span));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn markup_is_escaped_and_code_kept() {
        assert_eq!(html("a < b & c > d"), "a &lt; b &amp; c &gt; d");
        assert_eq!(html("run `ls <dir>`"), "run <code>ls &lt;dir&gt;</code>");
        assert_eq!(html("```rust\nfn x() {}\n```"), "<pre>fn x() {}</pre>");
    }

    #[test]
    fn groups_need_a_mention_or_a_reply_to_the_bot() {
        let bot = BotIdentity { id: 99, username: "molt_bot".into() };
        let update = |text: &str, reply_from: Option<i64>| {
            json!({"update_id": 5, "message": {"message_id": 1, "text": text, "from": {"id": 7, "is_bot": false, "first_name": "Ada"},
                "chat": {"id": -100, "type": "supergroup"},
                "reply_to_message": reply_from.map(|id| json!({"message_id": 0, "from": {"id": id}}))}})
        };
        assert!(!inbound(&update("hello", None), &bot).unwrap().addressed);
        assert!(inbound(&update("hi @Molt_Bot", None), &bot).unwrap().addressed);
        assert!(inbound(&update("yes", Some(99)), &bot).unwrap().addressed);
        let message = inbound(&update("x", None), &bot).unwrap();
        assert_eq!(message.kind, ChatKind::Group);
        assert_eq!(message.dedupe_key, "update:5");
        assert_eq!(message.sender_name.as_deref(), Some("Ada"));
    }
}
