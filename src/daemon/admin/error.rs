//! Admin API errors: a status, a message, and a `hint` naming what to do.

use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::daemon::agent::GrantError;
use crate::daemon::auth::access::AccessError;
use crate::daemon::pairing::PairingError;
use crate::daemon::state::Starting;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub hint: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>, hint: Option<&str>) -> Self {
        Self { status, code, message: message.into(), hint: hint.map(str::to_owned) }
    }
}

/// A JSON body that did not parse: 400 with the parser's words and an example of what to send.
pub fn json_body<T>(body: Result<axum::Json<T>, JsonRejection>, example: &str) -> Result<T, ApiError> {
    body.map(|axum::Json(value)| value)
        .map_err(|error| ApiError::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", error.body_text(), Some(example)))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if let Some(hint) = self.hint {
            error["hint"] = json!(hint);
        }
        (self.status, axum::Json(json!({"error": error}))).into_response()
    }
}

impl From<Starting> for ApiError {
    fn from(starting: Starting) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", starting.to_string(), Some("retry in a moment"))
    }
}

impl From<PairingError> for ApiError {
    fn from(error: PairingError) -> Self {
        let message = error.to_string();
        match error {
            PairingError::UnknownRequest(_) | PairingError::UnknownDevice(_) | PairingError::UnknownCode { .. } => {
                Self::new(
                    StatusCode::NOT_FOUND,
                    "NOT_FOUND",
                    message,
                    Some("run `molt pair list` (or `molt pair code list`) for the current ids"),
                )
            }
            PairingError::UnknownChannel(_) | PairingError::Invalid(_) => {
                Self::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message, None)
            }
            PairingError::MissingScope(_) => Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message, None),
            PairingError::Store(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                message,
                Some("check the gateway's log and its data directory"),
            ),
        }
    }
}

impl From<GrantError> for ApiError {
    fn from(error: GrantError) -> Self {
        let message = error.to_string();
        match error {
            GrantError::Unknown(_) | GrantError::NotNeeded(_) | GrantError::OperatorOnly(_) => Self::new(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                message,
                Some("`GET /api/admin/tools` lists the tools; grant only those whose access is `act`"),
            ),
            GrantError::Store(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                message,
                Some("check the gateway's log and its data directory"),
            ),
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(error: AccessError) -> Self {
        let message = error.to_string();
        match error {
            AccessError::Missing => Self::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                message,
                Some(
                    "open the admin page through its Cloudflare Access URL, or give `molt pair` an Access service token (`MOLT_ACCESS_CLIENT_ID`, `MOLT_ACCESS_CLIENT_SECRET`)",
                ),
            ),
            AccessError::Invalid(_) => {
                Self::new(StatusCode::FORBIDDEN, "FORBIDDEN", message, Some("sign in through Cloudflare Access again"))
            }
            AccessError::KeysUnavailable { .. } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "ACCESS_KEYS_UNAVAILABLE",
                message,
                Some("check `CF_ACCESS_TEAM_DOMAIN` (or `CF_ACCESS_CERTS_URL`) and that the gateway can reach it"),
            ),
        }
    }
}
