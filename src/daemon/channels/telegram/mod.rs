//! Telegram: long polling with `getUpdates` (one poller per token; 409 explained and retried
//! with backoff) or webhook mode, replies by `sendMessage` and paced `editMessageText`; exec
//! approvals in the operator's chat with inline buttons (`approvals.rs`).

mod api;
pub(crate) mod approvals;
pub(crate) mod update;
pub mod webhook;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::liveness::Liveness;
use super::net::{backoff, with_retries};
use super::platform::{ChatRef, Limits, MessageRef, Platform};
use super::{ChannelError, Router};
use crate::core::settings::{TelegramMode, TelegramSettings};
use crate::core::sync::lock;
use update::BotIdentity;

/// Seconds `getUpdates` waits for an update before answering empty.
const POLL_SECONDS: u64 = 25;
const EDIT_INTERVAL: Duration = Duration::from_secs(1);

pub struct Telegram {
    api: api::Api,
    settings: TelegramSettings,
    liveness: Arc<Liveness>,
    cancel: CancellationToken,
    bot: Mutex<BotIdentity>,
    /// Next time an edit may go to each chat: at most one per second per chat.
    next_edit: Mutex<HashMap<String, Instant>>,
}

impl Telegram {
    pub fn new(settings: TelegramSettings, liveness: Arc<Liveness>, cancel: CancellationToken) -> Arc<Self> {
        Arc::new(Self {
            api: api::Api::new(settings.api_url.clone(), settings.token.clone()),
            settings,
            liveness,
            cancel,
            bot: Mutex::new(BotIdentity::default()),
            next_edit: Mutex::new(HashMap::new()),
        })
    }

    fn bot(&self) -> BotIdentity {
        lock(&self.bot).clone()
    }

    /// Sends one text; the HTML form first, the plain text when Telegram rejects the markup.
    async fn post_text(&self, method: &str, mut body: Value, text: &str) -> Result<Value, ChannelError> {
        body["text"] = json!(update::html(text));
        body["parse_mode"] = json!("HTML");
        let first = with_retries(&self.cancel, || self.api.call(method, &body, Duration::ZERO)).await;
        match first {
            Err(error) if api::is_markup_error(&error) => {
                tracing::debug!("telegram rejected the markup; sending plain text");
                body["text"] = json!(text);
                if let Some(object) = body.as_object_mut() {
                    object.remove("parse_mode");
                }
                with_retries(&self.cancel, || self.api.call(method, &body, Duration::ZERO)).await
            }
            other => other,
        }
    }

    /// Waits for this chat's edit slot.
    async fn pace(&self, chat: &str) {
        let slot = {
            let mut next = lock(&self.next_edit);
            let now = Instant::now();
            next.retain(|_, at| *at + Duration::from_secs(60) > now);
            let slot = next.get(chat).copied().unwrap_or(now).max(now);
            next.insert(chat.to_owned(), slot + EDIT_INTERVAL);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

fn chat_body(chat: &ChatRef) -> Value {
    let mut body = json!({"chat_id": chat.id});
    if let Some(thread) = chat.thread.as_ref().and_then(|thread| thread.parse::<i64>().ok()) {
        body["message_thread_id"] = json!(thread);
    }
    body
}

impl Platform for Telegram {
    fn name(&self) -> &'static str {
        "telegram"
    }

    fn limits(&self) -> Limits {
        Limits { max_chars: 4096, edit_interval: EDIT_INTERVAL, typing_interval: Some(Duration::from_secs(4)) }
    }

    async fn send(&self, chat: &ChatRef, text: &str) -> Result<MessageRef, ChannelError> {
        let sent = self.post_text("sendMessage", chat_body(chat), text).await?;
        let id = sent["message_id"]
            .as_i64()
            .ok_or_else(|| ChannelError::Invalid("sendMessage gave no message_id".into()))?;
        Ok(MessageRef(id.to_string()))
    }

    async fn edit(&self, chat: &ChatRef, message: &MessageRef, text: &str) -> Result<(), ChannelError> {
        self.pace(&chat.id).await;
        let mut body = json!({"chat_id": chat.id});
        body["message_id"] = json!(message.0.parse::<i64>().unwrap_or_default());
        match self.post_text("editMessageText", body, text).await {
            Err(error) if api::is_not_modified(&error) => Ok(()),
            other => other.map(|_| ()),
        }
    }

    async fn typing(&self, chat: &ChatRef) -> Result<(), ChannelError> {
        let mut body = chat_body(chat);
        body["action"] = json!("typing");
        self.api.call("sendChatAction", &body, Duration::ZERO).await.map(|_| ())
    }
}

/// The adapter's life: learn who the bot is, replay what was recorded but not handled, then
/// poll (or, in webhook mode, register the webhook and wait for posts).
pub async fn run(telegram: Arc<Telegram>, router: Arc<Router>, deaf_after: Duration) {
    let cancel = telegram.cancel.clone();
    let mut attempt = 0;
    loop {
        match telegram.api.call("getMe", &json!({}), Duration::ZERO).await {
            Ok(me) => {
                let bot = BotIdentity {
                    id: me["id"].as_i64().unwrap_or_default(),
                    username: me["username"].as_str().unwrap_or_default().to_owned(),
                };
                tracing::info!(bot = %bot.username, mode = %telegram.settings.mode, "telegram connected");
                *lock(&telegram.bot) = bot;
                break;
            }
            Err(error) => {
                tracing::warn!(%error, "telegram getMe failed; retrying");
                telegram.liveness.error(error.to_string());
                if !super::net::wait_to_retry(&error, &mut attempt, &cancel).await {
                    return;
                }
            }
        }
    }
    replay(&telegram, &router).await;
    match telegram.settings.mode {
        TelegramMode::Webhook => {
            telegram.liveness.connected();
            cancel.cancelled().await;
        }
        TelegramMode::Polling => poll(&telegram, &router, deaf_after).await,
    }
    telegram.liveness.disconnected();
}

/// Messages recorded but never handled (the process stopped in between), answered now.
async fn replay(telegram: &Arc<Telegram>, router: &Arc<Router>) {
    let bot = telegram.bot();
    router.replay(telegram, telegram.settings.group_policy, |update| update::inbound(update, &bot)).await;
}

/// Hands one update's message to the router; `Err` only when it could not be recorded.
pub(super) async fn accept(telegram: &Arc<Telegram>, router: &Arc<Router>, update: &Value) -> Result<(), ChannelError> {
    telegram.liveness.inbound();
    if let Some(query) = update.get("callback_query") {
        approvals::answer(telegram, router.exec_approvals(), query).await;
        return Ok(());
    }
    let Some(inbound) = update::inbound(update, &telegram.bot()) else { return Ok(()) };
    router.accept(telegram, telegram.settings.group_policy, inbound).await.map(drop)
}

async fn poll(telegram: &Arc<Telegram>, router: &Arc<Router>, deaf_after: Duration) {
    let cancel = telegram.cancel.clone();
    let mut offset: Option<i64> = None;
    let mut failures = 0u32;
    // A poll never waits longer than the deaf bound, so a silent connection is replaced.
    let seconds = POLL_SECONDS.min(deaf_after.as_secs().saturating_sub(1).max(1));
    loop {
        let mut body = json!({"timeout": seconds, "allowed_updates": ["message", "callback_query"]});
        if let Some(offset) = offset {
            body["offset"] = json!(offset);
        }
        let answer = tokio::select! {
            answer = telegram.api.call("getUpdates", &body, Duration::from_secs(seconds)) => answer,
            () = cancel.cancelled() => return,
        };
        let wait = match answer {
            Ok(updates) => {
                failures = 0;
                telegram.liveness.connected();
                for update in updates.as_array().into_iter().flatten() {
                    if let Some(id) = update["update_id"].as_i64() {
                        offset = Some(offset.map_or(id + 1, |current| current.max(id + 1)));
                    }
                    if let Err(error) = accept(telegram, router, update).await {
                        // Not confirmed: the offset stays so Telegram sends it again.
                        tracing::error!(%error, "cannot record a telegram update");
                        offset = update["update_id"].as_i64();
                        break;
                    }
                }
                continue;
            }
            Err(ChannelError::Api { status: 409, description, .. }) => {
                failures += 1;
                let message = format!(
                    "telegram answered 409 Conflict ({description}): another process is polling this bot token or a webhook is set; only one poller per token can run"
                );
                tracing::warn!(
                    hint = "stop the other `molt gateway` (or bot) using this token, or use `TELEGRAM_MODE=webhook` everywhere",
                    "{message}"
                );
                telegram.liveness.error(message);
                backoff(failures - 1, Duration::from_secs(1), Duration::from_secs(60))
            }
            Err(ChannelError::RateLimited { retry_after, .. }) => {
                telegram.liveness.error(format!("rate limited for {} s", retry_after.as_secs()));
                retry_after
            }
            Err(error) => {
                failures += 1;
                tracing::warn!(%error, "telegram getUpdates failed; reconnecting");
                telegram.liveness.error(error.to_string());
                backoff(failures, Duration::from_millis(500), Duration::from_secs(30))
            }
        };
        telegram.liveness.reconnecting();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = cancel.cancelled() => return,
        }
    }
}
