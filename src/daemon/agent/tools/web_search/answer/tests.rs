//! Reading Brave's answers: results without marks and bounded, refusals worded from the
//! documented `ErrorResponse` bodies and `X-RateLimit-*` headers.

use reqwest::header::HeaderValue;
use serde_json::json;

use super::*;

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, HeaderValue::from_str(value).unwrap());
    }
    map
}

fn failed(status: u16, headers: &HeaderMap, body: Value) -> Failure {
    match reply(status, headers, body.to_string().as_bytes()) {
        Reply::Failed(failure) => failure,
        Reply::Results(results) => panic!("results: {results:?}"),
    }
}

fn brave_error(status: u16, code: &str, detail: &str, meta: Value) -> Value {
    json!({"type": "ErrorResponse", "error": {"id": "1", "status": status, "code": code, "detail": detail, "meta": meta}, "time": 1})
}

#[test]
fn results_lose_their_marks_and_stay_bounded() {
    let results = vec![
        WebResult {
            title: "The <strong>Rust</strong> Book".into(),
            url: "https://doc.rust-lang.org/book/".into(),
            description: "Learn <strong>Rust</strong> &amp; it&#x27;s\n fun".into(),
        },
        WebResult { title: String::new(), url: "https://x.test".into(), description: "d".repeat(600) },
    ];
    let text = format("rust", &results);
    assert!(text.starts_with("Web results for `rust` (Brave Search):\n\n1. The Rust Book\n"), "{text}");
    assert!(text.contains("   https://doc.rust-lang.org/book/\n   Learn Rust & it's fun\n\n2. (untitled)"), "{text}");
    assert!(text.ends_with(&format!("{}…", "d".repeat(500))), "{text}");
    assert!(!text.contains("<strong>"));
    assert_eq!(format("nothing", &[]), "no web results for `nothing`");
}

#[test]
fn an_answer_without_web_results_is_an_empty_list_and_an_unreadable_one_a_failure() {
    assert!(matches!(reply(200, &HeaderMap::new(), br#"{"type":"search"}"#), Reply::Results(r) if r.is_empty()));
    assert!(matches!(reply(200, &HeaderMap::new(), b"<html>"), Reply::Failed(Failure::Unavailable { status: 200 })));
}

#[test]
fn a_refused_key_names_the_setting_and_never_a_value() {
    let body = brave_error(
        422,
        "SUBSCRIPTION_TOKEN_INVALID",
        "The provided subscription token is invalid.",
        json!({"component": "authentication"}),
    );
    let failure = failed(422, &HeaderMap::new(), body);
    assert_eq!(failure, Failure::Key { code: "SUBSCRIPTION_TOKEN_INVALID".into() });
    assert!(failure.to_string().contains("`BRAVE_API_KEY`"), "{failure}");
    assert_eq!(failed(401, &HeaderMap::new(), json!("nope")), Failure::Key { code: "HTTP 401".into() });
}

#[test]
fn a_validation_refusal_names_the_parameter_but_not_its_value() {
    let meta = json!({"errors": [{"type": "missing", "loc": ["header", "x-subscription-token"], "msg": "Field required", "input": "SECRET"}]});
    let failure = failed(
        422,
        &HeaderMap::new(),
        brave_error(422, "VALIDATION", "Unable to validate request parameter(s).", meta),
    );
    let text = failure.to_string();
    assert_eq!(
        text,
        "Brave Search refused the request (VALIDATION): Unable to validate request parameter(s); header.x-subscription-token: Field required"
    );
    // The reference's `errors[]` shape reads the same way.
    let listed = json!({"type": "ErrorResponse", "errors": [{"code": "OPTION_NOT_IN_PLAN", "detail": "x"}]});
    assert_eq!(
        failed(422, &HeaderMap::new(), listed),
        Failure::Refused { code: "OPTION_NOT_IN_PLAN".into(), detail: "x".into() }
    );
}

#[test]
fn rate_limits_and_quotas_read_the_headers() {
    let limited = headers(&[
        ("x-ratelimit-limit", "1, 15000"),
        ("x-ratelimit-policy", "1;w=1, 15000;w=2592000"),
        ("x-ratelimit-remaining", "0, 1000"),
        ("x-ratelimit-reset", "1, 1419704"),
    ]);
    let body =
        brave_error(429, "RATE_LIMITED", "Request rate limit exceeded for plan.", json!({"component": "rate_limiter"}));
    let failure = failed(429, &limited, body);
    assert_eq!(failure, Failure::RateLimited { wait: Duration::from_secs(1), window: Some((1, 1)) });
    assert_eq!(
        failure.to_string(),
        "Brave Search is rate-limiting this key (at most 1 request per 1 s); retry in 1 s, one search at a time"
    );
    let spent = headers(&[("x-ratelimit-remaining", "1, 0"), ("x-ratelimit-reset", "1, 1419704")]);
    let body = brave_error(429, "QUOTA_LIMITED", "Request quota limit exceeded for plan.", json!({}));
    let failure = failed(429, &spent, body);
    assert_eq!(
        failure.to_string(),
        "the Brave Search plan's quota is used up; it renews in 17 days. Do not retry; answer without web search"
    );
    // Without headers: one second, the default wait.
    assert_eq!(
        failed(429, &HeaderMap::new(), json!({})),
        Failure::RateLimited { wait: Duration::from_secs(1), window: None }
    );
    let absurd = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1e300")]);
    assert!(matches!(failed(429, &absurd, json!({})), Failure::RateLimited { wait, .. } if wait <= RESET.max));
    assert_eq!(
        failed(503, &HeaderMap::new(), json!({})).to_string(),
        "Brave Search failed (HTTP 503); try again later"
    );
}
