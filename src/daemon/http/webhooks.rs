//! The HTTP side of the chat platforms' webhooks, `POST /channels/telegram/webhook` and
//! `POST /channels/slack/events`: headers and body bytes in, status codes out. What a call
//! means (secret, signature, recording the update before the 200) is decided in `channels/`,
//! which knows no HTTP.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::daemon::channels::{WebhookError, WebhookOutcome, slack, telegram};
use crate::daemon::state::Gateway;

pub async fn telegram_webhook(State(gateway): State<Arc<Gateway>>, headers: HeaderMap, body: Bytes) -> Response {
    let secret_token = header(&headers, "x-telegram-bot-api-secret-token");
    match telegram::webhook::accept(&gateway.channels, secret_token, &body).await {
        Ok(_) => (StatusCode::OK, Json(json!({"ok": true}))).into_response(),
        Err(error) => refusal(&error),
    }
}

pub async fn slack_events(State(gateway): State<Arc<Gateway>>, headers: HeaderMap, body: Bytes) -> Response {
    let timestamp = header(&headers, "x-slack-request-timestamp");
    let signature = header(&headers, "x-slack-signature");
    match slack::events::accept(&gateway.channels, timestamp, signature, &body).await {
        Ok(WebhookOutcome::Challenge(challenge)) => Json(json!({"challenge": challenge})).into_response(),
        Ok(WebhookOutcome::Accepted | WebhookOutcome::Ignored) => StatusCode::OK.into_response(),
        // Slack reads only the status of a failed delivery.
        Err(error @ WebhookError::NotRecorded(_)) => status(&error).into_response(),
        Err(error) => refusal(&error),
    }
}

fn status(error: &WebhookError) -> StatusCode {
    match error {
        WebhookError::NotConfigured(_) | WebhookError::Off(_) => StatusCode::NOT_FOUND,
        // The platform retries a 503.
        WebhookError::Starting | WebhookError::NotRecorded(_) => StatusCode::SERVICE_UNAVAILABLE,
        WebhookError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        WebhookError::Malformed(_) => StatusCode::BAD_REQUEST,
    }
}

fn refusal(error: &WebhookError) -> Response {
    (status(error), Json(json!({"error": error.to_string()}))).into_response()
}

/// A header's text; an absent one, or one that is not visible ASCII, reads as empty (which
/// matches no secret and no signature).
fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::channels::ChannelError;

    #[test]
    fn refusals_keep_their_status_codes_and_words() {
        let cases = [
            (WebhookError::NotConfigured("telegram"), 404, "telegram is not configured"),
            (WebhookError::Starting, 503, "starting"),
            (WebhookError::Off("telegram webhook mode is off"), 404, "telegram webhook mode is off"),
            (WebhookError::Unauthorized("bad signature"), 401, "bad signature"),
            (WebhookError::Malformed("body is not JSON"), 400, "body is not JSON"),
            (WebhookError::NotRecorded(ChannelError::Cancelled), 503, "cannot record the update"),
        ];
        for (error, code, words) in cases {
            assert_eq!(status(&error).as_u16(), code, "{error:?}");
            assert_eq!(error.to_string(), words);
        }
    }
}
