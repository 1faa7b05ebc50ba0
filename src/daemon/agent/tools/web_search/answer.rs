//! What Brave's Web Search API answered, read once: the results as the model sees them (titles,
//! URLs and snippets without Brave's `<strong>` marks, each bounded), or a refusal worded for the
//! model from Brave's `ErrorResponse` body and `X-RateLimit-*` headers. Text from the answer is
//! bounded and never carries the request's headers.

use std::fmt;
use std::time::Duration;

use reqwest::header::HeaderMap;
use serde::Deserialize;
use serde_json::Value;

use crate::core::delay::Limits;

/// Largest answer read; Brave's twenty results with their extras are well under it.
const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
const MAX_TITLE_CHARS: usize = 200;
const MAX_URL_CHARS: usize = 500;
const MAX_SNIPPET_CHARS: usize = 500;
/// Brave's own words in a refusal, at most.
const MAX_DETAIL_CHARS: usize = 300;
/// Waits named by `X-RateLimit-Reset`: a month at most, one second when unreadable.
const RESET: Limits = Limits::new(Duration::ZERO, Duration::from_secs(31 * 24 * 60 * 60), Duration::from_secs(1));

/// One web result as Brave gives it (`web.results[]`); absent fields read as empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct WebResult {
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub url: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Deserialize)]
struct SearchAnswer {
    web: Option<WebResults>,
}

#[derive(Deserialize)]
struct WebResults {
    #[serde(default)]
    results: Vec<WebResult>,
}

/// Brave's `ErrorResponse`: `error` as the service sends it, `errors[]` as its reference shows.
#[derive(Deserialize)]
struct ErrorAnswer {
    error: Option<ErrorDetail>,
    #[serde(default)]
    errors: Vec<ErrorDetail>,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    detail: String,
    #[serde(default)]
    meta: Value,
}

/// How a request ended, once the answer was read.
#[derive(Debug)]
pub enum Reply {
    Results(Vec<WebResult>),
    Failed(Failure),
}

/// A refusal, as the model is told it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The key is wrong, unknown or without a subscription: only the operator can fix it.
    Key { code: String },
    /// Too many requests in a short window: `wait` until the next is allowed.
    RateLimited { wait: Duration, window: Option<(u64, u64)> },
    /// The plan's quota is used up until `renews_in`.
    Quota { renews_in: Option<Duration> },
    /// Brave refused the request itself (`VALIDATION`, an option not in the plan).
    Refused { code: String, detail: String },
    /// Brave failed (5xx) or answered what molt cannot read.
    Unavailable { status: u16 },
}

impl fmt::Display for Failure {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Key { code } => write!(
                formatter,
                "web search is unavailable: Brave Search refused the API key ({code}); the operator must check \
                 `BRAVE_API_KEY`. Do not retry; answer without web search"
            ),
            Self::RateLimited { wait, window } => {
                write!(formatter, "Brave Search is rate-limiting this key")?;
                if let Some((requests, seconds)) = window {
                    let noun = if *requests == 1 { "request" } else { "requests" };
                    write!(formatter, " (at most {requests} {noun} per {})", spoken(Duration::from_secs(*seconds)))?;
                }
                write!(formatter, "; retry in {}, one search at a time", spoken(*wait))
            }
            Self::Quota { renews_in } => {
                write!(formatter, "the Brave Search plan's quota is used up")?;
                if let Some(renews_in) = renews_in {
                    write!(formatter, "; it renews in {}", spoken(*renews_in))?;
                }
                write!(formatter, ". Do not retry; answer without web search")
            }
            Self::Refused { code, detail } => {
                write!(formatter, "Brave Search refused the request ({code})")?;
                if !detail.is_empty() {
                    write!(formatter, ": {detail}")?;
                }
                Ok(())
            }
            Self::Unavailable { status } => {
                write!(formatter, "Brave Search failed (HTTP {status}); try again later")
            }
        }
    }
}

/// Reads the whole answer (bounded) and makes sense of it.
pub async fn read(mut response: reqwest::Response) -> Result<Reply, reqwest::Error> {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Ok(Reply::Failed(Failure::Unavailable { status }));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(reply(status, &headers, &body))
}

/// The reply an answer with `status`, `headers` and `body` stands for.
pub fn reply(status: u16, headers: &HeaderMap, body: &[u8]) -> Reply {
    if (200..300).contains(&status) {
        return match serde_json::from_slice::<SearchAnswer>(body) {
            Ok(answer) => Reply::Results(answer.web.map(|web| web.results).unwrap_or_default()),
            Err(_) => Reply::Failed(Failure::Unavailable { status }),
        };
    }
    let error = serde_json::from_slice::<ErrorAnswer>(body)
        .ok()
        .and_then(|answer| answer.error.or_else(|| answer.errors.into_iter().next()));
    let code = error.as_ref().map(|error| error.code.clone()).unwrap_or_default();
    Reply::Failed(match (status, code.as_str()) {
        (_, "SUBSCRIPTION_TOKEN_INVALID" | "SUBSCRIPTION_NOT_FOUND") | (401 | 403, _) => {
            Failure::Key { code: if code.is_empty() { format!("HTTP {status}") } else { code } }
        }
        (429, "QUOTA_LIMITED") => Failure::Quota { renews_in: RateLimits::read(headers).longest_spent() },
        (429, _) => {
            let limits = RateLimits::read(headers);
            Failure::RateLimited { wait: limits.shortest_spent().unwrap_or(RESET.default), window: limits.window() }
        }
        (400..500, _) => match error {
            Some(error) => Failure::Refused { code: error.code.clone(), detail: described(&error) },
            None => Failure::Refused { code: format!("HTTP {status}"), detail: String::new() },
        },
        _ => Failure::Unavailable { status },
    })
}

/// Brave's detail and, for a `VALIDATION` refusal, which parameter it names and why (never the
/// value it was given: for a header that would be the key).
fn described(error: &ErrorDetail) -> String {
    let mut text = error.detail.trim().trim_end_matches('.').to_owned();
    let problems = error.meta["errors"].as_array().into_iter().flatten().filter_map(|problem| {
        let place: Vec<&str> = problem["loc"].as_array()?.iter().filter_map(Value::as_str).collect();
        Some(format!("{}: {}", place.join("."), problem["msg"].as_str()?))
    });
    for problem in problems.take(3) {
        text.push_str(if text.is_empty() { "" } else { "; " });
        text.push_str(&problem);
    }
    bounded(&text, MAX_DETAIL_CHARS)
}

/// The `X-RateLimit-*` headers: per window (shortest first, as Brave lists them) its limit,
/// its length in seconds, what remains and when it resets.
struct RateLimits {
    limit: Vec<Option<u64>>,
    windows: Vec<Option<u64>>,
    remaining: Vec<Option<u64>>,
    reset: Vec<Option<Duration>>,
}

impl RateLimits {
    fn read(headers: &HeaderMap) -> Self {
        let list = |name: &str| -> Vec<String> {
            let raw = headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default();
            raw.split(',').map(|item| item.trim().to_owned()).filter(|item| !item.is_empty()).collect()
        };
        let number = |item: &String| item.parse::<u64>().ok();
        Self {
            limit: list("x-ratelimit-limit").iter().map(number).collect(),
            // `1;w=1, 15000;w=2592000`: the window of each limit, in seconds.
            windows: list("x-ratelimit-policy")
                .iter()
                .map(|policy| policy.split(';').find_map(|part| part.trim().strip_prefix("w=")?.parse().ok()))
                .collect(),
            remaining: list("x-ratelimit-remaining").iter().map(number).collect(),
            reset: list("x-ratelimit-reset")
                .iter()
                .map(|item| item.parse::<f64>().ok().map(|s| RESET.seconds(s)))
                .collect(),
        }
    }

    /// Windows with nothing left, in Brave's order.
    fn spent(&self) -> impl Iterator<Item = usize> + '_ {
        self.remaining.iter().enumerate().filter(|(_, left)| **left == Some(0)).map(|(index, _)| index)
    }

    fn shortest_spent(&self) -> Option<Duration> {
        self.spent().next().and_then(|index| self.reset.get(index).copied().flatten())
    }

    fn longest_spent(&self) -> Option<Duration> {
        self.spent().last().and_then(|index| self.reset.get(index).copied().flatten())
    }

    /// The spent short window as (requests, seconds).
    fn window(&self) -> Option<(u64, u64)> {
        let index = self.spent().next()?;
        Some((self.limit.get(index).copied().flatten()?, self.windows.get(index).copied().flatten()?))
    }
}

/// The results as the model reads them.
pub fn format(query: &str, results: &[WebResult]) -> String {
    if results.is_empty() {
        return format!("no web results for `{query}`");
    }
    let mut text = format!("Web results for `{query}` (Brave Search):");
    for (number, result) in results.iter().enumerate() {
        let title = bounded(&plain(&result.title), MAX_TITLE_CHARS);
        let url = bounded(&result.url.split_whitespace().collect::<String>(), MAX_URL_CHARS);
        let snippet = bounded(&plain(&result.description), MAX_SNIPPET_CHARS);
        text.push_str(&format!(
            "\n\n{}. {}\n   {url}",
            number + 1,
            if title.is_empty() { "(untitled)" } else { &title }
        ));
        if !snippet.is_empty() {
            text.push_str(&format!("\n   {snippet}"));
        }
    }
    text
}

/// Brave's text without its `<strong>` marks and HTML entities, on one line.
fn plain(text: &str) -> String {
    let unmarked = text.replace("<strong>", "").replace("</strong>", "");
    let decoded = unmarked
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `text` within `max_chars` characters, with `…` when cut.
fn bounded(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        None => text.to_owned(),
        Some((end, _)) => format!("{}…", text[..end].trim_end()),
    }
}

/// `45 s`, `3 min`, `5 h`, `16 days`.
fn spoken(duration: Duration) -> String {
    let seconds = duration.as_secs_f64().ceil() as u64;
    match seconds {
        0..=119 => format!("{} s", seconds.max(1)),
        120..=7199 => format!("{} min", seconds.div_ceil(60)),
        7200..=172_799 => format!("{} h", seconds.div_ceil(3600)),
        _ => format!("{} days", seconds.div_ceil(86_400)),
    }
}

#[cfg(test)]
mod tests;
