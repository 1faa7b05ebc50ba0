//! An HTTP client of the gateway's admin API for CLI commands: sends the credentials the
//! resolver settled (`gateway_url::Target`), and turns API errors into [`AdminError`]s with
//! their hints.

use std::time::Duration;

use serde_json::Value;

use super::error::{Hint, UserError};
use super::gateway_url::Target;
use crate::core::secret::Secret;

pub struct AdminClient {
    base: String,
    http: reqwest::Client,
    token: Option<Secret>,
    access: Option<(String, Secret)>,
    /// A loopback gateway: an Access service token is never what it lacks.
    local: bool,
}

impl AdminClient {
    pub fn new(target: Target) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|error| anyhow::anyhow!("cannot build an HTTP client: {error}"))?;
        let local = target.url.is_loopback();
        Ok(Self { base: target.url.http(), http, token: target.token, access: target.access, local })
    }

    pub async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn post(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.post(self.url(path))).await
    }

    pub async fn delete(&self, path: &str) -> anyhow::Result<Value> {
        self.send(self.http.delete(self.url(path))).await
    }

    pub async fn put(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(self.http.put(self.url(path)).json(body)).await
    }

    /// Posts a `.zip` body.
    pub async fn post_zip(&self, path: &str, archive: Vec<u8>) -> anyhow::Result<Value> {
        self.send(self.http.post(self.url(path)).header(reqwest::header::CONTENT_TYPE, "application/zip").body(archive))
            .await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&self, mut request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        if let Some(token) = &self.token {
            request = request.bearer_auth(token.expose());
        }
        if let Some((id, secret)) = &self.access {
            request = request.header("CF-Access-Client-Id", id).header("CF-Access-Client-Secret", secret.expose());
        }
        let response = request.send().await.map_err(|error| {
            let reason =
                if error.is_connect() { "connection refused".to_owned() } else { error.without_url().to_string() };
            UserError::from(AdminError::Unreachable { base: self.base.clone(), reason })
        })?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or_default();
        if status.is_success() {
            return Ok(body);
        }
        let message = body["error"]["message"]
            .as_str()
            .map_or_else(|| format!("the gateway answered HTTP {status}"), str::to_owned);
        Err(UserError::from(AdminError::Refused {
            message,
            status: status.as_u16(),
            hint: body["error"]["hint"].as_str().map(str::to_owned),
            needs_access: self.access.is_none() && !self.local,
        })
        .into())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("cannot reach the gateway at {base}: {reason}")]
    Unreachable { base: String, reason: String },
    /// An answer other than 2xx: the gateway's message and, when it gave one, its hint.
    #[error("{message}")]
    Refused {
        message: String,
        status: u16,
        hint: Option<String>,
        /// A remote gateway, and no Access service token was sent.
        needs_access: bool,
    },
}

impl Hint for AdminError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::Unreachable { .. } => {
                "start it with `molt gateway`, or point at a deployed one with `--url https://<worker>.workers.dev`"
                    .into()
            }
            Self::Refused { hint: Some(hint), .. } => hint.clone(),
            Self::Refused { status: 401 | 403, needs_access: true, .. } => {
                "set `MOLT_ACCESS_CLIENT_ID` and `MOLT_ACCESS_CLIENT_SECRET` to an Access service token".into()
            }
            Self::Refused { .. } => "run `molt pair list` to see the current state".into(),
        })
    }
}
