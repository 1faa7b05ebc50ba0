//! Retries and fallbacks around a provider: 429 after `retry-after`, 529/5xx/network with
//! jittered backoff, never 400/401/403, then the next model of the fallback list.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::error::ProviderError;
use super::{Completion, DeltaSink, ModelRequest, Provider};

/// Longest `retry-after` molt waits out inside one turn; past it the client is told at once.
const MAX_RETRY_WAIT: Duration = Duration::from_secs(30);

/// Streams a completion from `models` in order, retrying each up to `max_attempts` times.
/// A call that already streamed text to the client is not retried (the client would see the
/// text twice); its error is final.
pub async fn complete(
    provider: &dyn Provider,
    models: &[String],
    max_attempts: u32,
    request: &ModelRequest,
    on_delta: DeltaSink<'_>,
) -> Result<Completion, ProviderError> {
    let streamed = AtomicBool::new(false);
    let sink = |text: &str| {
        streamed.store(true, Ordering::Relaxed);
        on_delta(text);
    };
    let mut last_error = None;
    for model in models {
        for attempt in 1..=max_attempts {
            let error = match provider.stream(model, request, &sink).await {
                Ok(completion) => return Ok(completion),
                Err(error) => error,
            };
            let final_error = !error.retryable() || streamed.load(Ordering::Relaxed);
            tracing::warn!(provider = provider.name(), model = model.as_str(), attempt, error = %error, "model call failed");
            if final_error {
                return Err(error);
            }
            let wait = match error.retry_after {
                Some(wait) if wait > MAX_RETRY_WAIT => {
                    last_error = Some(error);
                    break;
                }
                Some(wait) => wait,
                None => backoff(attempt),
            };
            last_error = Some(error);
            if attempt < max_attempts {
                tokio::time::sleep(wait).await;
            }
        }
    }
    Err(last_error.unwrap_or_else(|| ProviderError::new(super::ErrorKind::BadRequest, "no model is configured")))
}

/// 250 ms doubling per attempt, capped at 8 s, with jitter over the upper half.
fn backoff(attempt: u32) -> Duration {
    let base = Duration::from_millis(250).saturating_mul(1 << attempt.min(5)).min(Duration::from_secs(8));
    base.mul_f64(rand::random_range(0.5..=1.0))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use futures_util::future::BoxFuture;

    use super::*;
    use crate::daemon::providers::ErrorKind;

    /// Answers from a script, one entry per call, recording the model asked for.
    struct Scripted {
        script: Mutex<Vec<Result<&'static str, ProviderError>>>,
        calls: Mutex<Vec<String>>,
    }

    impl Provider for Scripted {
        fn name(&self) -> &str {
            "scripted"
        }
        fn stream<'a>(
            &'a self,
            model: &'a str,
            _: &'a ModelRequest,
            on_delta: DeltaSink<'a>,
        ) -> BoxFuture<'a, Result<Completion, ProviderError>> {
            self.calls.lock().unwrap().push(model.to_owned());
            let next = self.script.lock().unwrap().remove(0);
            Box::pin(async move {
                let text = next?;
                on_delta(text);
                Ok(Completion { text: text.into(), model: model.into(), ..Completion::default() })
            })
        }
    }

    fn scripted(script: Vec<Result<&'static str, ProviderError>>) -> Scripted {
        Scripted { script: Mutex::new(script), calls: Mutex::new(Vec::new()) }
    }

    fn request() -> ModelRequest {
        ModelRequest {
            summary: None,
            system: String::new(),
            turns: Vec::new(),
            max_tokens: 10,
            tools: Vec::new(),
            tool_rounds: Vec::new(),
        }
    }

    fn models() -> Vec<String> {
        vec!["primary".into(), "fallback".into()]
    }

    #[tokio::test(start_paused = true)]
    async fn retries_overload_then_falls_back() {
        let overloaded = || Err(ProviderError::from_status(529, "overloaded_error", "Overloaded", None));
        let provider = scripted(vec![overloaded(), overloaded(), Ok("from fallback")]);
        let completion = complete(&provider, &models(), 2, &request(), &|_| {}).await.unwrap();
        assert_eq!(completion.model, "fallback");
        assert_eq!(*provider.calls.lock().unwrap(), ["primary", "primary", "fallback"]);
    }

    #[tokio::test(start_paused = true)]
    async fn honours_retry_after() {
        let limited = Err(ProviderError::from_status(429, "rate_limit_error", "", Some(Duration::from_secs(3))));
        let provider = scripted(vec![limited, Ok("ok")]);
        let started = tokio::time::Instant::now();
        complete(&provider, &models(), 3, &request(), &|_| {}).await.unwrap();
        assert!(started.elapsed() >= Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn never_retries_a_bad_key() {
        let provider =
            scripted(vec![Err(ProviderError::from_status(401, "authentication_error", "invalid x-api-key", None))]);
        let error = complete(&provider, &models(), 3, &request(), &|_| {}).await.unwrap_err();
        assert_eq!(error.kind, ErrorKind::Auth);
        assert_eq!(provider.calls.lock().unwrap().len(), 1);
    }
}
