//! Telegram's webhook registration (`getWebhookInfo`, `setWebhook`) for `molt deploy`, against a
//! configurable Bot API URL (`MOLT_TELEGRAM_API_URL`). The bot token is part of Telegram's URL
//! scheme, so no URL ever reaches an error message or a log.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::core::secret::Secret;

pub const DEFAULT_API_URL: &str = "https://api.telegram.org";
pub const WEBHOOK_PATH: &str = "/channels/telegram/webhook";

#[derive(Debug, thiserror::Error)]
pub enum TelegramError {
    #[error("Telegram `{method}` failed: {description}")]
    Api { method: &'static str, description: String },
    #[error("cannot reach the Telegram Bot API: {reason}")]
    Network { reason: String },
}

#[derive(Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    result: Value,
}

pub struct Telegram {
    http: reqwest::Client,
    base: String,
    token: Secret,
}

impl Telegram {
    pub fn new(base: &str, token: Secret) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap_or_default();
        Self { http, base: base.trim_end_matches('/').to_owned(), token }
    }

    /// The URL the webhook points to now (empty when none).
    pub async fn webhook_url(&self) -> Result<String, TelegramError> {
        let result = self.call("getWebhookInfo", None).await?;
        Ok(result["url"].as_str().unwrap_or_default().to_owned())
    }

    pub async fn set_webhook(&self, url: &str, secret: &Secret) -> Result<(), TelegramError> {
        let body = json!({
            "url": url,
            "secret_token": secret.expose(),
            "allowed_updates": ["message", "edited_message", "callback_query"],
            "drop_pending_updates": false,
        });
        self.call("setWebhook", Some(&body)).await.map(|_| ())
    }

    /// A read without `body` is a GET; a change is a POST with a JSON body.
    async fn call(&self, method: &'static str, body: Option<&Value>) -> Result<Value, TelegramError> {
        let url = format!("{}/bot{}/{method}", self.base, self.token.expose());
        let network = |error: reqwest::Error| TelegramError::Network { reason: error.without_url().to_string() };
        let request = match body {
            Some(body) => self.http.post(url).json(body),
            None => self.http.get(url),
        };
        let response = request.send().await.map_err(network)?;
        let answer: Answer = response.json().await.map_err(network)?;
        if !answer.ok {
            let description = answer.description.unwrap_or_else(|| "no description".into());
            return Err(TelegramError::Api { method, description });
        }
        Ok(answer.result)
    }
}
