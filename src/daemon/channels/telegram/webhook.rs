//! Telegram's webhook without HTTP: the secret token compared in constant time, and the update
//! recorded durably before the caller may answer 200 (Telegram retries anything else).

use serde_json::Value;

use crate::daemon::channels::Channels;
use crate::daemon::channels::webhook::{self, WebhookError, WebhookOutcome};

/// One `POST /channels/telegram/webhook`: `secret_token` is its
/// `X-Telegram-Bot-Api-Secret-Token` header (empty when absent).
pub async fn accept(channels: &Channels, secret_token: &str, body: &[u8]) -> Result<WebhookOutcome, WebhookError> {
    let configured = channels.settings.telegram.is_some();
    let (telegram, router) = webhook::target(channels, "telegram", configured, &channels.adapters.0.telegram)?;
    let Some(secret) = &telegram.settings.webhook_secret else {
        return Err(WebhookError::Off("telegram webhook mode is off"));
    };
    if !secret.matches(secret_token) {
        tracing::warn!("telegram webhook call with a wrong secret token");
        return Err(WebhookError::Unauthorized("wrong secret token"));
    }
    let Ok(update) = serde_json::from_slice::<Value>(body) else {
        // Malformed: retrying will not help, so it is acknowledged and dropped.
        return Ok(WebhookOutcome::Ignored);
    };
    super::accept(telegram, router, &update).await.map_err(|error| {
        tracing::error!(%error, "cannot record a telegram webhook update; telegram will retry");
        WebhookError::NotRecorded(error)
    })?;
    Ok(WebhookOutcome::Accepted)
}
