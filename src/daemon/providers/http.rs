//! The HTTP plumbing providers share: the client, bounded sends, error bodies, SSE reading.

use std::time::Duration;

use futures_util::StreamExt;

use super::error::{ErrorKind, ProviderError};
use super::sse::{SseDecoder, SseEvent};
use crate::core::delay::{self, Limits};

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .user_agent(concat!("molt/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
}

/// Sends a request, bounding the wait for response headers; a non-2xx status becomes an error
/// classified from the provider's error body by `parse_error`.
pub async fn send(
    request: reqwest::RequestBuilder,
    timeout: Duration,
    parse_error: fn(&str) -> (String, String),
) -> Result<reqwest::Response, ProviderError> {
    let response = match tokio::time::timeout(timeout, request.send()).await {
        Err(_) => {
            return Err(ProviderError::new(
                ErrorKind::Timeout,
                format!("the model provider did not answer within {} s", timeout.as_secs()),
            ));
        }
        Ok(Err(error)) => return Err(network_error(&error)),
        Ok(Ok(response)) => response,
    };
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let retry_after = delay::retry_after(response.headers(), Limits::RETRY);
    let body = tokio::time::timeout(timeout, response.text()).await.ok().and_then(Result::ok).unwrap_or_default();
    let (error_type, message) = parse_error(&body);
    Err(ProviderError::from_status(status.as_u16(), &error_type, &message, retry_after))
}

fn network_error(error: &reqwest::Error) -> ProviderError {
    let mut message = format!("cannot reach the model provider: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    ProviderError::new(ErrorKind::Network, message)
}

/// Reads SSE records from a response body, bounding the silence between chunks.
pub struct SseStream {
    body: futures_util::stream::BoxStream<'static, reqwest::Result<bytes::Bytes>>,
    decoder: SseDecoder,
    pending: std::collections::VecDeque<SseEvent>,
    idle: Duration,
}

impl SseStream {
    pub fn new(response: reqwest::Response, idle: Duration) -> Self {
        Self {
            body: response.bytes_stream().boxed(),
            decoder: SseDecoder::default(),
            pending: Default::default(),
            idle,
        }
    }

    /// The next record, or `None` at the end of the body.
    pub async fn next(&mut self) -> Result<Option<SseEvent>, ProviderError> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(Some(event));
            }
            let chunk = match tokio::time::timeout(self.idle, self.body.next()).await {
                Err(_) => {
                    return Err(ProviderError::new(
                        ErrorKind::Timeout,
                        format!("the model stream stalled: nothing received for {} s", self.idle.as_secs()),
                    ));
                }
                Ok(None) => return Ok(None),
                Ok(Some(Err(error))) => return Err(network_error(&error)),
                Ok(Some(Ok(chunk))) => chunk,
            };
            let records = self.decoder.push(&chunk).map_err(|message| {
                ProviderError::new(ErrorKind::Protocol, format!("broken model stream: {message}"))
            })?;
            self.pending.extend(records);
        }
    }
}

/// Parses one JSON record of a stream.
pub fn parse_json(data: &str) -> Result<serde_json::Value, ProviderError> {
    serde_json::from_str(data).map_err(|error| {
        ProviderError::new(ErrorKind::Protocol, format!("broken model stream: invalid JSON in an event: {error}"))
    })
}
