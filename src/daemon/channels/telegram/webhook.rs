//! `POST /channels/telegram/webhook`: the secret header checked in constant time, the update
//! recorded durably, and only then 200 (Telegram retries anything else).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::daemon::state::Gateway;

pub async fn telegram_webhook(State(gateway): State<Arc<Gateway>>, headers: HeaderMap, body: Bytes) -> Response {
    let channels = &gateway.channels;
    let (Some(telegram), Some(router)) = (channels.telegram.get(), channels.router.get()) else {
        if channels.settings.telegram.is_some() {
            // Configured but still starting: the platform retries a 503.
            return (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({"error": "starting"}))).into_response();
        }
        return (StatusCode::NOT_FOUND, axum::Json(json!({"error": "telegram is not configured"}))).into_response();
    };
    let Some(secret) = &telegram.settings.webhook_secret else {
        return (StatusCode::NOT_FOUND, axum::Json(json!({"error": "telegram webhook mode is off"}))).into_response();
    };
    let given =
        headers.get("x-telegram-bot-api-secret-token").and_then(|value| value.to_str().ok()).unwrap_or_default();
    if !secret.matches(given) {
        tracing::warn!("telegram webhook call with a wrong secret token");
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "wrong secret token"}))).into_response();
    }
    let Ok(update) = serde_json::from_slice::<Value>(&body) else {
        // Malformed: retrying will not help, so it is acknowledged and dropped.
        return (StatusCode::OK, axum::Json(json!({"ok": true}))).into_response();
    };
    match super::accept(telegram, router, &update).await {
        Ok(()) => (StatusCode::OK, axum::Json(json!({"ok": true}))).into_response(),
        Err(error) => {
            tracing::error!(%error, "cannot record a telegram webhook update; telegram will retry");
            (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({"error": "cannot record the update"}))).into_response()
        }
    }
}
