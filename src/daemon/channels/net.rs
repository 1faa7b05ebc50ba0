//! Outbound HTTP for the platform clients: one client with timeouts, retries with backoff and
//! jitter that honour the platform's `retry_after`, and scrubbing of secrets from error text.

use std::future::Future;
use std::time::Duration;

use rand::Rng;
use tokio_util::sync::CancellationToken;

use super::ChannelError;

/// Bound on one request's answer, long polls excepted (they add their own timeout).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Attempts for one call that keeps answering 429 or failing on the network.
const MAX_ATTEMPTS: u32 = 5;
/// A platform asking for a longer wait than this gets an error instead of a stalled reply.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(120);

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("molt/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// Exponential backoff with full jitter: a random wait in `[base/2, base]`, capped.
pub fn backoff(attempt: u32, first: Duration, cap: Duration) -> Duration {
    let base = first.saturating_mul(2u32.saturating_pow(attempt.min(16))).min(cap);
    let millis = u64::try_from(base.as_millis()).unwrap_or(u64::MAX).max(2);
    Duration::from_millis(rand::rng().random_range(millis / 2..=millis))
}

/// Waits before retrying a failed start-up call: the time a 429 names, else backoff from 1 s to
/// 60 s. Returns `false` when cancelled first.
pub async fn wait_to_retry(error: &ChannelError, attempt: &mut u32, cancel: &CancellationToken) -> bool {
    let wait = match error {
        ChannelError::RateLimited { retry_after, .. } => *retry_after,
        _ => backoff(*attempt, Duration::from_secs(1), Duration::from_secs(60)),
    };
    *attempt += 1;
    tokio::select! {
        () = tokio::time::sleep(wait) => true,
        () = cancel.cancelled() => false,
    }
}

/// Runs `call` until it succeeds, retrying 429s after the time they name and network errors
/// with backoff; other errors return at once.
pub async fn with_retries<T, F, Fut>(cancel: &CancellationToken, mut call: F) -> Result<T, ChannelError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ChannelError>>,
{
    let mut attempt = 0;
    loop {
        let (wait, error) = match call().await {
            Ok(value) => return Ok(value),
            Err(error @ ChannelError::RateLimited { retry_after, .. }) if retry_after <= MAX_RETRY_AFTER => {
                (retry_after, error)
            }
            Err(error @ ChannelError::Network { .. }) => {
                (backoff(attempt, Duration::from_millis(250), Duration::from_secs(5)), error)
            }
            Err(error) => return Err(error),
        };
        attempt += 1;
        if attempt >= MAX_ATTEMPTS {
            return Err(ChannelError::Gave { attempts: attempt, last: error.to_string() });
        }
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = cancel.cancelled() => return Err(ChannelError::Cancelled),
        }
    }
}

/// A network error's text without the URL (Telegram's carries the token) or the secret.
pub fn describe(error: reqwest::Error, secret: &str) -> String {
    scrub(&error.without_url().to_string(), secret)
}

/// Replaces every occurrence of `secret` in `text`.
pub fn scrub(text: &str, secret: &str) -> String {
    if secret.is_empty() { text.to_owned() } else { text.replace(secret, "[redacted]") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        for attempt in 0..20 {
            let wait = backoff(attempt, Duration::from_millis(100), Duration::from_secs(5));
            assert!(wait <= Duration::from_secs(5));
        }
        assert!(backoff(0, Duration::from_millis(100), Duration::from_secs(5)) <= Duration::from_millis(100));
        assert!(backoff(5, Duration::from_millis(100), Duration::from_secs(5)) >= Duration::from_millis(1600));
    }

    #[test]
    fn secrets_are_scrubbed() {
        assert_eq!(scrub("GET /bot123:abc/getMe failed", "123:abc"), "GET /bot[redacted]/getMe failed");
    }

    #[tokio::test]
    async fn rate_limits_are_waited_out_then_retried() {
        let cancel = CancellationToken::new();
        let mut calls = 0;
        let value = with_retries(&cancel, || {
            calls += 1;
            let answer = if calls < 3 {
                Err(ChannelError::RateLimited { platform: "test", retry_after: Duration::from_millis(5) })
            } else {
                Ok(calls)
            };
            async move { answer }
        })
        .await
        .unwrap();
        assert_eq!(value, 3);
    }
}
