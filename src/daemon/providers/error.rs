//! Provider failures, classified for retries and for the client's `error` event.

use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 401/403: a bad or unauthorised key. Never retried.
    Auth,
    /// 429.
    RateLimited,
    /// 529 or an `overloaded_error`.
    Overloaded,
    /// The prompt does not fit the model's context window.
    ContextLength,
    /// Any other 4xx: the request itself is wrong. Never retried.
    BadRequest,
    /// 5xx or an `api_error`.
    Server,
    /// No answer, or silence mid-stream, past the bound.
    Timeout,
    /// Connection refused, reset, DNS.
    Network,
    /// The stream did not follow the documented format.
    Protocol,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ProviderError {
    pub kind: ErrorKind,
    pub message: String,
    pub status: Option<u16>,
    pub retry_after: Option<Duration>,
}

impl ProviderError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into(), status: None, retry_after: None }
    }

    pub fn retryable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::RateLimited
                | ErrorKind::Overloaded
                | ErrorKind::Server
                | ErrorKind::Timeout
                | ErrorKind::Network
        )
    }

    /// The protocol's `errorKind`: `refusal|timeout|rate_limit|context_length|unknown`.
    pub fn protocol_kind(&self) -> crate::core::protocol::ErrorKind {
        use crate::core::protocol::ErrorKind as Wire;
        match self.kind {
            ErrorKind::RateLimited => Wire::RateLimit,
            ErrorKind::ContextLength => Wire::ContextLength,
            ErrorKind::Timeout => Wire::Timeout,
            _ => Wire::Unknown,
        }
    }

    /// Classifies an HTTP status and the provider's own error type and message.
    pub fn from_status(status: u16, error_type: &str, message: &str, retry_after: Option<Duration>) -> Self {
        let lowered = message.to_ascii_lowercase();
        let too_long = lowered.contains("prompt is too long")
            || lowered.contains("context length")
            || lowered.contains("context_length")
            || lowered.contains("maximum context")
            || error_type == "context_length_exceeded";
        let kind = match status {
            401 | 403 => ErrorKind::Auth,
            429 => ErrorKind::RateLimited,
            529 => ErrorKind::Overloaded,
            400 | 413 if too_long => ErrorKind::ContextLength,
            400..=499 => ErrorKind::BadRequest,
            _ if error_type == "overloaded_error" => ErrorKind::Overloaded,
            _ => ErrorKind::Server,
        };
        let summary = match kind {
            ErrorKind::Auth => "the model provider refused the API key",
            ErrorKind::RateLimited => "the model provider is rate limiting requests",
            ErrorKind::Overloaded => "the model provider is overloaded",
            ErrorKind::ContextLength => "the conversation is too long for the model",
            ErrorKind::BadRequest => "the model provider rejected the request",
            _ => "the model provider failed",
        };
        let detail = if message.is_empty() { error_type } else { message };
        Self { kind, message: format!("{summary} (HTTP {status}): {detail}"), status: Some(status), retry_after }
    }

    /// An `error` event inside a 200 stream (Anthropic's `overloaded_error` and friends).
    pub fn from_stream_error(error_type: &str, message: &str) -> Self {
        let status = match error_type {
            "overloaded_error" => 529,
            "rate_limit_error" => 429,
            "authentication_error" => 401,
            "permission_error" => 403,
            "invalid_request_error" => 400,
            _ => 500,
        };
        let mut error = Self::from_status(status, error_type, message, None);
        error.status = None;
        error.message = error.message.replace(&format!(" (HTTP {status})"), " (mid-stream)");
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_statuses_for_retry() {
        assert!(!ProviderError::from_status(401, "authentication_error", "invalid x-api-key", None).retryable());
        assert!(!ProviderError::from_status(400, "invalid_request_error", "bad", None).retryable());
        assert!(ProviderError::from_status(429, "rate_limit_error", "slow down", None).retryable());
        assert!(ProviderError::from_status(529, "overloaded_error", "Overloaded", None).retryable());
        assert!(ProviderError::from_status(503, "", "", None).retryable());
        let long = ProviderError::from_status(
            400,
            "invalid_request_error",
            "prompt is too long: 250000 tokens > 200000 maximum",
            None,
        );
        assert_eq!(long.kind, ErrorKind::ContextLength);
        assert_eq!(long.protocol_kind(), crate::core::protocol::ErrorKind::ContextLength);
    }

    #[test]
    fn stream_errors_name_the_cause() {
        let error = ProviderError::from_stream_error("overloaded_error", "Overloaded");
        assert_eq!(error.kind, ErrorKind::Overloaded);
        assert_eq!(error.message, "the model provider is overloaded (mid-stream): Overloaded");
    }
}
