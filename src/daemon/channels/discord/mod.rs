//! Discord: a Gateway v10 connection for messages in and REST create/edit for replies, split
//! at 2000 characters.

pub(crate) mod gateway;
mod rest;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::liveness::Liveness;
use super::net::with_retries;
use super::platform::{ChatKind, ChatRef, Inbound, Limits, MessageRef, Platform};
use super::{ChannelError, Router};
use crate::core::settings::DiscordSettings;
use crate::core::sync::lock;

pub use gateway::run;

pub struct Discord {
    rest: rest::Rest,
    settings: DiscordSettings,
    liveness: Arc<Liveness>,
    cancel: CancellationToken,
    bot_user: Mutex<String>,
}

impl Discord {
    pub fn new(settings: DiscordSettings, liveness: Arc<Liveness>, cancel: CancellationToken) -> Arc<Self> {
        Arc::new(Self {
            rest: rest::Rest::new(settings.api_url.clone(), settings.token.clone()),
            settings,
            liveness,
            cancel,
            bot_user: Mutex::new(String::new()),
        })
    }

    fn bot_user(&self) -> String {
        lock(&self.bot_user).clone()
    }
}

/// Ids are digits only: anything else from outside never reaches a URL path.
pub fn snowflake(raw: &str) -> Result<&str, ChannelError> {
    if !raw.is_empty() && raw.len() <= 24 && raw.bytes().all(|byte| byte.is_ascii_digit()) {
        Ok(raw)
    } else {
        Err(ChannelError::Invalid(format!("`{raw}` is not a Discord id")))
    }
}

impl Platform for Discord {
    fn name(&self) -> &'static str {
        "discord"
    }

    fn limits(&self) -> Limits {
        Limits { max_chars: 2000, edit_interval: Duration::from_secs(1), typing_interval: Some(Duration::from_secs(8)) }
    }

    async fn send(&self, chat: &ChatRef, text: &str) -> Result<MessageRef, ChannelError> {
        let channel = snowflake(&chat.id)?;
        let route = format!("POST /channels/{channel}/messages");
        let path = format!("/channels/{channel}/messages");
        let body = json!({"content": text, "allowed_mentions": {"parse": []}});
        let sent = with_retries(&self.cancel, || self.rest.request(Method::POST, &route, &path, Some(&body))).await?;
        let id = sent["id"].as_str().ok_or_else(|| ChannelError::Invalid("create message gave no id".into()))?;
        Ok(MessageRef(id.to_owned()))
    }

    async fn edit(&self, chat: &ChatRef, message: &MessageRef, text: &str) -> Result<(), ChannelError> {
        let channel = snowflake(&chat.id)?;
        let route = format!("PATCH /channels/{channel}/messages/:id");
        let path = format!("/channels/{channel}/messages/{}", snowflake(&message.0)?);
        let body = json!({"content": text});
        with_retries(&self.cancel, || self.rest.request(Method::PATCH, &route, &path, Some(&body))).await.map(|_| ())
    }

    async fn typing(&self, chat: &ChatRef) -> Result<(), ChannelError> {
        let channel = snowflake(&chat.id)?;
        let path = format!("/channels/{channel}/typing");
        self.rest.request(Method::POST, &format!("POST {path}"), &path, None).await.map(|_| ())
    }
}

/// A `MESSAGE_CREATE` payload → [`Inbound`].
pub fn inbound(message: &Value, bot_user: &str) -> Option<Inbound> {
    let author = message.get("author")?;
    if author["bot"] == true {
        return None;
    }
    let author_id = author["id"].as_str()?;
    if author_id == bot_user {
        return None;
    }
    let direct = message.get("guild_id").is_none_or(Value::is_null);
    let mentioned = message["mentions"]
        .as_array()
        .is_some_and(|list| list.iter().any(|user| user["id"].as_str() == Some(bot_user)));
    let replied = message["referenced_message"]["author"]["id"].as_str() == Some(bot_user);
    Some(Inbound {
        dedupe_key: format!("message:{}", message["id"].as_str()?),
        chat: ChatRef { id: message["channel_id"].as_str()?.to_owned(), thread: None },
        kind: if direct { ChatKind::Direct } else { ChatKind::Group },
        sender_id: author_id.to_owned(),
        sender_name: author["username"].as_str().map(str::to_owned),
        text: message["content"].as_str()?.to_owned(),
        addressed: !bot_user.is_empty() && (mentioned || replied),
    })
}

/// Hands one message to the router; `Err` only when it could not be recorded.
async fn accept(discord: &Arc<Discord>, router: &Arc<Router>, message: &Value) -> Result<(), ChannelError> {
    discord.liveness.inbound();
    let Some(inbound) = inbound(message, &discord.bot_user()) else { return Ok(()) };
    router.accept(discord, discord.settings.group_policy, inbound).await.map(drop)
}

/// Messages recorded but never handled (the process stopped in between), answered now.
async fn replay(discord: &Arc<Discord>, router: &Arc<Router>) {
    let bot = discord.bot_user();
    router.replay(discord, discord.settings.group_policy, |message| inbound(message, &bot)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guild_messages_need_a_mention_or_a_reply_and_dms_do_not() {
        let message = |guild: Option<&str>, mentions: Value| json!({"id": "11", "channel_id": "22", "guild_id": guild, "author": {"id": "33", "username": "ada"}, "content": "hi", "mentions": mentions});
        assert!(!inbound(&message(Some("1"), json!([])), "99").unwrap().addressed);
        assert!(inbound(&message(Some("1"), json!([{"id": "99"}])), "99").unwrap().addressed);
        assert_eq!(inbound(&message(None, json!([])), "99").unwrap().kind, ChatKind::Direct);
        assert_eq!(inbound(&message(None, json!([])), "99").unwrap().dedupe_key, "message:11");
        assert!(snowflake("12/../x").is_err());
    }
}
