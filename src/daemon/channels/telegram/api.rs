//! Telegram Bot API calls: `POST <url>/bot<token>/<method>` with a JSON body, the
//! `{"ok":false,"error_code","description","parameters":{"retry_after"}}` error shape mapped
//! to [`ChannelError`]. The token is in the URL path, so no URL ever reaches an error or a log.

use std::time::Duration;

use serde_json::Value;

use crate::core::delay::Limits;
use crate::core::secret::Secret;
use crate::daemon::channels::ChannelError;
use crate::daemon::channels::net::{self, REQUEST_TIMEOUT};

const PLATFORM: &str = "telegram";

pub struct Api {
    http: reqwest::Client,
    base: String,
    token: Secret,
}

impl Api {
    pub fn new(base: String, token: Secret) -> Self {
        Self { http: net::client(), base, token }
    }

    /// Calls `method`; `extra` is added to the timeout (a long poll's own wait).
    pub async fn call(&self, method: &str, body: &Value, extra: Duration) -> Result<Value, ChannelError> {
        let url = format!("{}/bot{}/{method}", self.base, self.token.expose());
        let secret = self.token.expose();
        let network =
            |error: reqwest::Error| ChannelError::Network { platform: PLATFORM, message: net::describe(error, secret) };
        let response = self.http.post(url).json(body).timeout(REQUEST_TIMEOUT + extra).send().await.map_err(network)?;
        let status = response.status().as_u16();
        let text = response.text().await.map_err(network)?;
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if answer["ok"] == true {
            return Ok(answer["result"].clone());
        }
        let code = answer["error_code"].as_u64().and_then(|code| u16::try_from(code).ok()).unwrap_or(status);
        let description = net::scrub(answer["description"].as_str().unwrap_or("no description"), secret);
        if code == 429 {
            let retry_after = answer["parameters"]["retry_after"]
                .as_f64()
                .map_or(Limits::RETRY.default, |s| Limits::RETRY.seconds(s));
            return Err(ChannelError::RateLimited { platform: PLATFORM, retry_after });
        }
        Err(ChannelError::Api { platform: PLATFORM, status: code, description })
    }
}

/// Whether an error is Telegram refusing the markup (so a plain-text retry can work).
pub fn is_markup_error(error: &ChannelError) -> bool {
    matches!(error, ChannelError::Api { status: 400, description, .. } if description.contains("can't parse entities") || description.contains("can't find end"))
}

/// "message is not modified": the edit would change nothing, which is fine.
pub fn is_not_modified(error: &ChannelError) -> bool {
    matches!(error, ChannelError::Api { status: 400, description, .. } if description.contains("message is not modified"))
}
