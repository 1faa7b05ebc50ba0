//! `web_fetch`: reads one web page for the model and returns it as Markdown (HTML) or as text.
//! Only `http` and `https`, only addresses the gateway's address guard accepts (public ones,
//! or hosts the operator allowed), redirects followed here, at most [`MAX_REDIRECTS`], each
//! hop checked again; the whole fetch within its timeout, the body read up to
//! [`MAX_READ_BYTES`] and the text returned up to [`MAX_TEXT_BYTES`].

mod html;
mod page;

use std::time::{Duration, Instant};

use reqwest::header::{ACCEPT, LOCATION};
use reqwest::{StatusCode, Url};
use serde::Deserialize;
use serde_json::{Value, json};

use super::round::spoken;
use super::{Access, Tool, ToolContext, ToolError, ToolFuture, arguments};
use crate::core::asker::Rights;
use crate::core::settings::ToolSettings;
use crate::daemon::net::{AddressGuard, GuardError, guard_error};
use crate::daemon::providers::ToolSpec;

pub const WEB_FETCH: &str = "web_fetch";
/// Redirects followed in one fetch; one more is an error.
pub const MAX_REDIRECTS: usize = 5;
/// The whole fetch, redirects and body included, unless the round's call timeout is shorter.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// The body is read up to this many bytes; the rest is not downloaded.
pub const MAX_READ_BYTES: usize = 2 * 1024 * 1024;
/// The result (header line, text and notes) is cut to this many bytes; `max_bytes` may lower it.
pub const MAX_TEXT_BYTES: usize = 100_000;
const MIN_TEXT_BYTES: usize = 1_000;
const USER_AGENT: &str = concat!("molt/", env!("CARGO_PKG_VERSION"), " (web_fetch)");
const ACCEPTED: &str = "text/html,application/xhtml+xml,text/plain;q=0.9,text/*;q=0.8,*/*;q=0.5";

/// Why a fetch failed, worded for the model (and through it the user).
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("invalid URL `{url}`: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("{0}")]
    Guard(GuardError),
    #[error("more than {MAX_REDIRECTS} redirects; the last one pointed to `{0}`")]
    TooManyRedirects(String),
    #[error("`{url}` answered {status} without a usable `Location`")]
    BadRedirect { url: String, status: StatusCode },
    #[error("`{url}` did not answer within {}", spoken(*.timeout))]
    Timeout { url: String, timeout: Duration },
    #[error("`{url}` answered HTTP {status}")]
    Status { url: String, status: StatusCode },
    #[error("cannot fetch `{url}`: {reason}")]
    Request { url: String, reason: String },
    #[error("`{url}` is `{content_type}`{}, not text or HTML; `web_fetch` reads only pages and text", size.map(|bytes| format!(" ({bytes} bytes)")).unwrap_or_default())]
    NotText { url: String, content_type: String, size: Option<u64> },
}

pub struct WebFetch {
    /// With the operator's allowlist: for the operator only.
    guard: AddressGuard,
    /// Public addresses only: a guest never reaches the operator's own hosts.
    public: AddressGuard,
    timeout: Duration,
}

#[derive(Deserialize)]
struct Input {
    url: String,
    max_bytes: Option<usize>,
}

impl WebFetch {
    /// With the operator's allowlist, finishing within 30 s and within the round's call timeout.
    pub fn new(settings: &ToolSettings) -> Self {
        Self::with_timeout(&settings.web_fetch_allow, DEFAULT_TIMEOUT.min(settings.call_timeout * 9 / 10))
    }

    pub fn with_timeout(allowlist: &[String], timeout: Duration) -> Self {
        Self { guard: AddressGuard::new(allowlist), public: AddressGuard::new(&[]), timeout }
    }

    async fn fetch(
        &self,
        guard: &AddressGuard,
        raw: &str,
        max_bytes: usize,
        deadline: Instant,
    ) -> Result<String, FetchError> {
        let mut url = Url::parse(raw.trim())
            .map_err(|error| FetchError::BadUrl { url: raw.to_owned(), reason: error.to_string() })?;
        let mut redirects = 0;
        loop {
            let response = self.get(guard, &url).await?;
            let status = response.status();
            if status.is_redirection() {
                let next = next_hop(&response, &url)
                    .ok_or_else(|| FetchError::BadRedirect { url: url.to_string(), status })?;
                if redirects == MAX_REDIRECTS {
                    return Err(FetchError::TooManyRedirects(next.to_string()));
                }
                redirects += 1;
                url = next;
                continue;
            }
            if !status.is_success() {
                return Err(FetchError::Status { url: url.to_string(), status });
            }
            tracing::info!(host = url.host_str().unwrap_or_default(), redirects, "a page is fetched for the model");
            return page::read(response, &url, max_bytes, deadline).await;
        }
    }

    /// One hop: the URL checked, sent through a client that reaches only checked addresses.
    async fn get(&self, guard: &AddressGuard, url: &Url) -> Result<reqwest::Response, FetchError> {
        let builder = reqwest::Client::builder().user_agent(USER_AGENT).timeout(self.timeout);
        let client = guard
            .client_for(url, builder)
            .map_err(FetchError::Guard)?
            .build()
            .map_err(|error| self.failed(url, &error))?;
        client.get(url.clone()).header(ACCEPT, ACCEPTED).send().await.map_err(|error| self.failed(url, &error))
    }

    /// A failed request, as the guard's refusal when that is what it was.
    fn failed(&self, url: &Url, error: &reqwest::Error) -> FetchError {
        if let Some(guarded) = guard_error(error) {
            return FetchError::Guard(guarded.clone());
        }
        if error.is_timeout() {
            return FetchError::Timeout { url: url.to_string(), timeout: self.timeout };
        }
        FetchError::Request { url: url.to_string(), reason: innermost(error) }
    }
}

/// The redirect's target, made absolute against the URL that answered it.
fn next_hop(response: &reqwest::Response, from: &Url) -> Option<Url> {
    let location = response.headers().get(LOCATION)?.to_str().ok()?;
    from.join(location.trim()).ok()
}

/// The most specific reason in an error's chain ("Connection refused (os error 111)").
fn innermost(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

impl Tool for WebFetch {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: WEB_FETCH.into(),
            description: format!(
                "Fetch one web page (http or https) and return its text: HTML as Markdown with links kept, \
                 plain text, JSON or XML as is. The first line gives the final URL after redirects and the \
                 content type. Images, PDFs and other binary files are not returned. Private and local \
                 addresses are refused unless the operator allowed them. At most {MAX_TEXT_BYTES} bytes of \
                 text are returned."
            ),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "url": {"type": "string", "description": "The absolute http:// or https:// URL to fetch."},
                    "max_bytes": {
                        "type": "integer",
                        "minimum": MIN_TEXT_BYTES,
                        "maximum": MAX_TEXT_BYTES,
                        "description": format!("Return at most this many bytes of text (default and most: {MAX_TEXT_BYTES})."),
                    },
                },
                "required": ["url"],
            }),
        }
    }

    fn access(&self) -> Access {
        Access::Read
    }

    fn call<'a>(&'a self, input: Value, context: &'a ToolContext) -> ToolFuture<'a> {
        let guard = match context.rights() {
            Rights::Operator => &self.guard,
            Rights::Guest => &self.public,
        };
        Box::pin(async move {
            let Input { url, max_bytes } = arguments(input)?;
            let max_bytes = max_bytes.unwrap_or(MAX_TEXT_BYTES).clamp(MIN_TEXT_BYTES, MAX_TEXT_BYTES);
            let deadline = Instant::now() + self.timeout;
            match tokio::time::timeout(self.timeout, self.fetch(guard, &url, max_bytes, deadline)).await {
                Ok(result) => result,
                Err(_) => Err(FetchError::Timeout { url, timeout: self.timeout }),
            }
            .map_err(|error| ToolError::new(error.to_string()))
        })
    }
}
