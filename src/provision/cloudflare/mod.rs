//! The Cloudflare API client: base URL from `CLOUDFLARE_API_BASE_URL`, bearer token, the
//! `{success, errors, messages, result}` envelope turned into typed results or [`CloudflareError`].
//! Endpoint methods live in `api.rs`; nothing here knows the CLI.

mod api;

use std::time::Duration;

use reqwest::Method;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::core::secret::Secret;

pub use api::{AccessApp, AccessPolicy, CreatedToken, R2Bucket, SecretInfo, TailSession};

pub const DEFAULT_BASE_URL: &str = "https://api.cloudflare.com/client/v4";
const TIMEOUT: Duration = Duration::from_secs(30);

/// Error codes the API answers with and the client reacts to.
pub mod codes {
    pub const INVALID_TOKEN: u64 = 1000;
    pub const AUTHENTICATION: u64 = 10000;
    pub const BUCKET_EXISTS: u64 = 10004;
    pub const NO_SUCH_BUCKET: u64 = 10006;
    pub const NOT_FOUND: u64 = 10007;
}

#[derive(Debug, thiserror::Error)]
pub enum CloudflareError {
    #[error("Cloudflare API `{method} {path}` failed (HTTP {status}): {}", describe(.errors))]
    Api { method: String, path: String, status: u16, errors: Vec<ApiMessage> },
    #[error("cannot reach the Cloudflare API at `{base}`: {reason}")]
    Network { base: String, reason: String },
    #[error("unexpected answer from Cloudflare API `{path}`: {reason}")]
    Decode { path: String, reason: String },
}

impl CloudflareError {
    pub fn has_code(&self, code: u64) -> bool {
        matches!(self, Self::Api { errors, .. } if errors.iter().any(|error| error.code == code))
    }

    /// The token is wrong, expired or lacks a permission.
    pub fn is_auth(&self) -> bool {
        match self {
            Self::Api { status, .. } => {
                matches!(status, 401 | 403)
                    || self.has_code(codes::INVALID_TOKEN)
                    || self.has_code(codes::AUTHENTICATION)
            }
            _ => false,
        }
    }

    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Api { status: 404, .. })
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ApiMessage {
    pub code: u64,
    pub message: String,
}

fn describe(errors: &[ApiMessage]) -> String {
    if errors.is_empty() {
        return "no error detail".into();
    }
    errors.iter().map(|error| format!("{} (code {})", error.message, error.code)).collect::<Vec<_>>().join("; ")
}

#[derive(Deserialize)]
struct Envelope {
    success: bool,
    #[serde(default)]
    errors: Vec<ApiMessage>,
    #[serde(default)]
    result: Value,
}

/// A client for one account with one API token.
#[derive(Debug, Clone)]
pub struct Cloudflare {
    http: reqwest::Client,
    base: String,
    token: Secret,
    pub account_id: String,
}

impl Cloudflare {
    pub fn new(base: &str, token: Secret, account_id: impl Into<String>) -> Self {
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .user_agent(concat!("molt/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self { http, base: base.trim_end_matches('/').to_owned(), token, account_id: account_id.into() }
    }

    /// `CLOUDFLARE_API_BASE_URL` when set, else the public API.
    pub fn base_url_from(env: &dyn Fn(&str) -> Option<String>) -> String {
        env("CLOUDFLARE_API_BASE_URL").filter(|value| !value.is_empty()).unwrap_or_else(|| DEFAULT_BASE_URL.into())
    }

    /// The API token, for the one place that passes it on (wrangler's environment).
    pub fn token(&self) -> &Secret {
        &self.token
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub(crate) fn account_path(&self, rest: &str) -> String {
        format!("/accounts/{}{rest}", self.account_id)
    }

    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CloudflareError> {
        self.call(Method::GET, path, None).await
    }

    pub(crate) async fn delete<T: DeserializeOwned>(&self, path: &str) -> Result<T, CloudflareError> {
        self.call(Method::DELETE, path, None).await
    }

    pub(crate) async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: &Value,
    ) -> Result<T, CloudflareError> {
        self.call(method, path, Some(body)).await
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, CloudflareError> {
        let mut request =
            self.http.request(method.clone(), format!("{}{path}", self.base)).bearer_auth(self.token.expose());
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|error| CloudflareError::Network {
            base: self.base.clone(),
            reason: error.without_url().to_string(),
        })?;
        let status = response.status().as_u16();
        let bytes = response.bytes().await.map_err(|error| CloudflareError::Network {
            base: self.base.clone(),
            reason: error.without_url().to_string(),
        })?;
        let envelope: Envelope = serde_json::from_slice(&bytes).map_err(|error| CloudflareError::Decode {
            path: path.to_owned(),
            reason: format!("HTTP {status}, not the API's JSON envelope: {error}"),
        })?;
        if !envelope.success || status >= 400 {
            return Err(CloudflareError::Api {
                method: method.to_string(),
                path: path.to_owned(),
                status,
                errors: envelope.errors,
            });
        }
        serde_json::from_value(envelope.result)
            .map_err(|error| CloudflareError::Decode { path: path.to_owned(), reason: error.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_name_the_call_and_every_code() {
        let error = CloudflareError::Api {
            method: "POST".into(),
            path: "/accounts/a/r2/buckets".into(),
            status: 409,
            errors: vec![ApiMessage { code: 10004, message: "The bucket you tried to create already exists".into() }],
        };
        assert_eq!(
            error.to_string(),
            "Cloudflare API `POST /accounts/a/r2/buckets` failed (HTTP 409): \
             The bucket you tried to create already exists (code 10004)"
        );
        assert!(error.has_code(codes::BUCKET_EXISTS));
        assert!(!error.is_auth());
    }

    #[test]
    fn authentication_failures_are_recognised_by_status_or_code() {
        let error = CloudflareError::Api {
            method: "GET".into(),
            path: "/user/tokens/verify".into(),
            status: 401,
            errors: vec![ApiMessage { code: 1000, message: "Invalid API Token".into() }],
        };
        assert!(error.is_auth());
    }

    #[test]
    fn the_base_url_comes_from_wranglers_variable() {
        assert_eq!(Cloudflare::base_url_from(&|_| None), DEFAULT_BASE_URL);
        let custom = Cloudflare::base_url_from(&|name| {
            (name == "CLOUDFLARE_API_BASE_URL").then(|| "http://127.0.0.1:9/client/v4".to_owned())
        });
        assert_eq!(custom, "http://127.0.0.1:9/client/v4");
        let client = Cloudflare::new("http://127.0.0.1:9/client/v4/", Secret::new("t"), "acct");
        assert_eq!(client.base(), "http://127.0.0.1:9/client/v4");
        assert_eq!(client.account_path("/r2/buckets"), "/accounts/acct/r2/buckets");
    }
}
