//! Owns `FakeBrave`: a local fake of the Brave Search Web Search API (`GET /res/v1/web/search`)
//! built from its reference and the live service's answers. The subscription token is checked
//! first, as the service does: a missing `X-Subscription-Token` is a 422 `VALIDATION` naming the
//! header, a wrong one a 422 `SUBSCRIPTION_TOKEN_INVALID`. Then what the service refuses is
//! refused with its 422 `VALIDATION` body (`q` missing, empty, past 400 characters or 50 words;
//! `count` not an integer or outside 1 to 20). Scripted results come back in the documented
//! `web.results[]` shape, at most `count` of them; scripted refusals (429 `RATE_LIMITED` or
//! `QUOTA_LIMITED` with the `X-RateLimit-*` headers, or any status and code) answer the next
//! requests. Every request is in the server's journal; [`FakeBrave::searches`] adds the raw query
//! string, so tests assert on the exact request.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::{Query, RawQuery, State};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::{Value, json};

use super::fake_server::{FakeServer, RecordedRequest, json_response};

/// The subscription token the fake accepts.
pub const KEY: &str = "BSAtest-subscription-token-0123456789";

/// The `X-RateLimit-*` headers of a plan of 1 request a second and 15,000 a month, the
/// reference's example, with `remaining` as given.
fn rate_headers(remaining: &str, reset: &str) -> Vec<(&'static str, String)> {
    vec![
        ("x-ratelimit-limit", "1, 15000".to_owned()),
        ("x-ratelimit-policy", "1;w=1, 15000;w=2592000".to_owned()),
        ("x-ratelimit-remaining", remaining.to_owned()),
        ("x-ratelimit-reset", reset.to_owned()),
    ]
}

/// One search molt made: the recorded request and its raw query string.
#[derive(Debug, Clone)]
pub struct Search {
    pub request: RecordedRequest,
    /// As sent, still percent-encoded (`q=rust+async&count=5`).
    pub query: String,
}

/// A scripted answer to the next request: status, code, detail, extra headers.
#[derive(Debug, Clone)]
struct Scripted {
    status: u16,
    code: &'static str,
    detail: String,
    headers: Vec<(&'static str, String)>,
}

#[derive(Default)]
struct Inner {
    results: Vec<Value>,
    scripted: VecDeque<Scripted>,
    searches: Vec<Search>,
}

type Shared = Arc<Mutex<Inner>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

pub struct FakeBrave {
    server: FakeServer,
    inner: Shared,
}

impl FakeBrave {
    pub async fn start() -> FakeBrave {
        let inner: Shared = Arc::default();
        let router = Router::new().route("/res/v1/web/search", get(search)).with_state(Arc::clone(&inner));
        FakeBrave { server: FakeServer::start(router).await, inner }
    }

    /// What `MOLT_BRAVE_API_URL` points at: `http://127.0.0.1:PORT/res/v1`.
    pub fn api_url(&self) -> String {
        format!("{}/res/v1", self.server.base_url())
    }

    /// The results every search answers (cut to its `count`).
    pub fn set_results(&self, results: Vec<Value>) {
        lock(&self.inner).results = results;
    }

    /// The next `count` requests are answered 429 `RATE_LIMITED`: the second's one request is
    /// spent and comes back after `reset_secs`.
    pub fn rate_limit_next(&self, count: usize, reset_secs: u64) {
        let headers = rate_headers("0, 14000", &format!("{reset_secs}, 1419704"));
        let detail = "Request rate limit exceeded for plan.".to_owned();
        self.script(count, Scripted { status: 429, code: "RATE_LIMITED", detail, headers });
    }

    /// The next `count` requests are answered 429 `QUOTA_LIMITED`: the month's quota is spent.
    pub fn exhaust_quota_next(&self, count: usize) {
        let headers = rate_headers("1, 0", "1, 1419704");
        let detail = "Request quota limit exceeded for plan.".to_owned();
        self.script(count, Scripted { status: 429, code: "QUOTA_LIMITED", detail, headers });
    }

    /// The next request is answered `status` with Brave's error body of `code` and `detail`.
    pub fn refuse_next(&self, status: u16, code: &'static str, detail: &str) {
        self.script(1, Scripted { status, code, detail: detail.to_owned(), headers: Vec::new() });
    }

    fn script(&self, count: usize, scripted: Scripted) {
        let mut inner = lock(&self.inner);
        inner.scripted.extend(std::iter::repeat_n(scripted, count));
    }

    /// Every search request received, in order (refused ones included).
    pub fn searches(&self) -> Vec<Search> {
        lock(&self.inner).searches.clone()
    }
}

/// A web result in the reference's shape, with the fields molt does not read filled in.
pub fn result(title: &str, url: &str, description: &str) -> Value {
    let host = url.split("://").nth(1).and_then(|rest| rest.split('/').next()).unwrap_or_default();
    json!({
        "type": "search_result",
        "subtype": "generic",
        "title": title,
        "url": url,
        "description": description,
        "is_source_local": false,
        "is_source_both": false,
        "family_friendly": true,
        "language": "en",
        "profile": {"name": host, "url": url, "long_name": host, "img": format!("https://imgs.search.brave.com/{host}")},
        "meta_url": {"scheme": "https", "netloc": host, "hostname": host, "favicon": "", "path": ""},
    })
}

/// Brave's `ErrorResponse` body.
fn error_body(status: u16, code: &str, detail: &str, meta: Value) -> Value {
    json!({
        "type": "ErrorResponse",
        "error": {"id": "5d832250-9396-4f6e-b84a-2a1fe524cd7d", "status": status, "code": code, "detail": detail, "meta": meta},
        "time": 1_700_000_000,
    })
}

/// A 422 `VALIDATION` refusal of one parameter, as the service words it.
fn invalid(kind: &str, location: [&str; 2], message: &str, input: Value) -> Response {
    let problem = json!({"type": kind, "loc": location, "msg": message, "input": input});
    let body = error_body(422, "VALIDATION", "Unable to validate request parameter(s)", json!({"errors": [problem]}));
    json_response(422, &body, &[])
}

async fn search(
    State(shared): State<Shared>,
    Extension(request): Extension<RecordedRequest>,
    RawQuery(raw): RawQuery,
    uri: Uri,
) -> Response {
    lock(&shared).searches.push(Search { request: request.clone(), query: raw.unwrap_or_default() });
    match request.header("x-subscription-token") {
        None => return invalid("missing", ["header", "x-subscription-token"], "Field required", Value::Null),
        Some(token) if token != KEY => {
            let meta = json!({"component": "authentication"});
            let body =
                error_body(422, "SUBSCRIPTION_TOKEN_INVALID", "The provided subscription token is invalid.", meta);
            return json_response(422, &body, &[]);
        }
        Some(_) => {}
    }
    let params = Query::<Vec<(String, String)>>::try_from_uri(&uri).map(|query| query.0).unwrap_or_default();
    let param = |name: &str| params.iter().find(|(key, _)| key == name).map(|(_, value)| value.clone());
    let Some(query) = param("q") else {
        return invalid("missing", ["query", "q"], "Field required", Value::Null);
    };
    if query.is_empty() {
        return invalid("string_too_short", ["query", "q"], "String should have at least 1 character", json!(query));
    }
    if query.chars().count() > 400 {
        return invalid("string_too_long", ["query", "q"], "String should have at most 400 characters", json!(query));
    }
    if query.split_whitespace().count() > 50 {
        return invalid("value_error", ["query", "q"], "Value error, the query has more than 50 words", json!(query));
    }
    let count = match param("count") {
        None => 20,
        Some(raw) => match raw.parse::<i64>() {
            Err(_) => {
                let message = "Input should be a valid integer, unable to parse string as an integer";
                return invalid("int_parsing", ["query", "count"], message, json!(raw));
            }
            Ok(count) if count < 1 => {
                let message = "Input should be greater than or equal to 1";
                return invalid("greater_than_equal", ["query", "count"], message, json!(raw));
            }
            Ok(count) if count > 20 => {
                let message = "Input should be less than or equal to 20";
                return invalid("less_than_equal", ["query", "count"], message, json!(raw));
            }
            Ok(count) => count as usize,
        },
    };
    let (scripted, results) = {
        let mut inner = lock(&shared);
        (inner.scripted.pop_front(), inner.results.iter().take(count).cloned().collect::<Vec<_>>())
    };
    if let Some(Scripted { status, code, detail, headers }) = scripted {
        let component = if status == 429 { "rate_limiter" } else { "api" };
        return json_response(status, &error_body(status, code, &detail, json!({"component": component})), &headers);
    }
    let mut body = json!({
        "type": "search",
        "query": {"original": query, "show_strict_warning": false, "is_navigational": false, "spellcheck_off": true, "country": "us", "more_results_available": false},
        "mixed": {"type": "mixed", "main": [{"type": "web", "index": 0, "all": true}], "top": [], "side": []},
    });
    if !results.is_empty() {
        body["web"] = json!({"type": "search", "results": results, "family_friendly": true});
    }
    json_response(200, &body, &rate_headers("0, 14999", "1, 1419704"))
}
