//! Slack Web API calls: `POST <url>/<method>` with a bearer token and a JSON (or form) body;
//! `{"ok":false,"error":"…"}` and 429 with `Retry-After` mapped to [`ChannelError`].

use serde_json::Value;

use crate::core::delay::{self, Limits};
use crate::core::secret::Secret;
use crate::daemon::channels::ChannelError;
use crate::daemon::channels::net::{self, REQUEST_TIMEOUT};

const PLATFORM: &str = "slack";

pub struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    pub fn new(base: String) -> Self {
        Self { http: net::client(), base }
    }

    /// Calls `method` with `token`; a `None` body posts an empty form (`apps.connections.open`).
    pub async fn call(&self, method: &str, token: &Secret, body: Option<&Value>) -> Result<Value, ChannelError> {
        let network = |error: reqwest::Error| ChannelError::Network {
            platform: PLATFORM,
            message: net::describe(error, token.expose()),
        };
        let request =
            self.http.post(format!("{}/{method}", self.base)).bearer_auth(token.expose()).timeout(REQUEST_TIMEOUT);
        let request = match body {
            Some(body) => request.json(body),
            None => request.header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded").body(""),
        };
        let response = request.send().await.map_err(network)?;
        let status = response.status().as_u16();
        if status == 429 {
            let retry_after = delay::retry_after(response.headers(), Limits::RETRY).unwrap_or(Limits::RETRY.default);
            return Err(ChannelError::RateLimited { platform: PLATFORM, retry_after });
        }
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        if answer["ok"] == true {
            return Ok(answer);
        }
        let error = answer["error"].as_str().unwrap_or("no error given");
        Err(ChannelError::Api { platform: PLATFORM, status, description: net::scrub(error, token.expose()) })
    }
}
