//! Discord REST: `Authorization: Bot <token>`, per-route buckets from the `X-RateLimit-*`
//! headers (a route whose bucket is spent waits for its reset), and 429 bodies with
//! `retry_after` mapped to [`ChannelError::RateLimited`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use tokio::time::Instant;

use crate::core::delay::{self, Limits};
use crate::core::secret::Secret;
use crate::core::sync::lock;
use crate::daemon::channels::ChannelError;
use crate::daemon::channels::net::{self, REQUEST_TIMEOUT};

const PLATFORM: &str = "discord";
/// A bucket's `X-RateLimit-Reset-After`: at most an hour, one second when unreadable.
const RESET_LIMITS: Limits = Limits::new(Duration::ZERO, Duration::from_secs(3600), Duration::from_secs(1));

#[derive(Debug, Clone, Copy)]
struct Bucket {
    remaining: u64,
    reset_at: Instant,
}

pub struct Rest {
    http: reqwest::Client,
    base: String,
    token: Secret,
    /// Route (`POST /channels/{id}/messages`, with the channel id: a major parameter) → the
    /// bucket Discord named for it (`X-RateLimit-Bucket`), and each bucket's state: routes
    /// that share a bucket share its limit.
    buckets: Mutex<Buckets>,
}

#[derive(Default)]
struct Buckets {
    routes: HashMap<String, String>,
    state: HashMap<String, Bucket>,
}

impl Buckets {
    fn spent_until(&self, route: &str) -> Option<Instant> {
        let bucket = self.routes.get(route).map_or(route, String::as_str);
        self.state.get(bucket).filter(|bucket| bucket.remaining == 0).map(|bucket| bucket.reset_at)
    }

    fn update(&mut self, route: &str, name: Option<String>, bucket: Bucket) {
        let name = name.unwrap_or_else(|| route.to_owned());
        if self.routes.len() > 10_000 {
            self.routes.clear();
            self.state.clear();
        }
        self.routes.insert(route.to_owned(), name.clone());
        self.state.insert(name, bucket);
    }
}

impl Rest {
    pub fn new(base: String, token: Secret) -> Self {
        Self { http: net::client(), base, token, buckets: Mutex::new(Buckets::default()) }
    }

    fn buckets(&self) -> std::sync::MutexGuard<'_, Buckets> {
        lock(&self.buckets)
    }

    /// Sends one request; `route` names its rate-limit bucket.
    pub async fn request(
        &self,
        method: Method,
        route: &str,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ChannelError> {
        let wait = self.buckets().spent_until(route);
        if let Some(reset_at) = wait {
            tracing::debug!(route, "discord bucket spent; waiting for its reset");
            tokio::time::sleep_until(reset_at).await;
        }
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(reqwest::header::AUTHORIZATION, format!("Bot {}", self.token.expose()))
            .timeout(REQUEST_TIMEOUT);
        if let Some(body) = body {
            request = request.json(body);
        }
        let network = |error: reqwest::Error| ChannelError::Network {
            platform: PLATFORM,
            message: net::describe(error, self.token.expose()),
        };
        let response = request.send().await.map_err(network)?;
        let status = response.status().as_u16();
        let header = |name: &str| response.headers().get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
        if let (Some(remaining), Some(reset_after)) =
            (header("x-ratelimit-remaining"), header("x-ratelimit-reset-after"))
            && let Ok(remaining) = remaining.parse::<u64>()
        {
            let reset_at = Instant::now() + RESET_LIMITS.header_value(&reset_after, std::time::SystemTime::now());
            self.buckets().update(route, header("x-ratelimit-bucket"), Bucket { remaining, reset_at });
        }
        let header_retry = delay::retry_after(response.headers(), Limits::RETRY);
        let text = response.text().await.map_err(network)?;
        let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        if status == 429 {
            let retry_after = answer["retry_after"]
                .as_f64()
                .map(|seconds| Limits::RETRY.seconds(seconds))
                .or(header_retry)
                .unwrap_or(Limits::RETRY.default);
            return Err(ChannelError::RateLimited { platform: PLATFORM, retry_after });
        }
        if (200..300).contains(&status) {
            return Ok(answer);
        }
        let description = net::scrub(answer["message"].as_str().unwrap_or("no message"), self.token.expose());
        Err(ChannelError::Api { platform: PLATFORM, status, description })
    }
}
