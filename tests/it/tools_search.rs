//! `web_search` through the library against the Brave fake: the exact request molt sends, the
//! results as the model reads them, and every refusal (a wrong key, a bad request, a rate limit,
//! a spent quota) answered as a tool error that never holds the key.

use crate::support;

use std::sync::Arc;

use molt::core::asker::{Asker, MemoryScope, Rights};
use molt::core::ids::SessionKey;
use molt::core::secret::Secret;
use molt::core::settings::ToolSettings;
use molt::daemon::agent::tools::{Registry, Tool, ToolContext};
use molt::daemon::store::Store;
use serde_json::{Value, json};
use support::fake_brave::{self, FakeBrave};

/// The tool as the gateway builds it from its settings, with `key`, and a guest's context (a
/// read-only tool is theirs too).
struct Search {
    tool: Arc<dyn Tool>,
    context: ToolContext,
    _dir: tempfile::TempDir,
}

fn search_tool(fake: &FakeBrave, key: &str) -> Search {
    let settings = ToolSettings {
        brave_api_key: Some(Secret::new(key)),
        brave_api_url: fake.api_url(),
        ..ToolSettings::default()
    };
    let tool = Registry::built_in(&settings).permitted("web_search", Rights::Guest).expect("web_search offered");
    let dir = tempfile::tempdir().unwrap();
    let context = ToolContext {
        workspace: dir.path().to_owned(),
        store: Store::open(dir.path()).unwrap(),
        session_key: SessionKey::main(),
        asker: Asker::Sender { channel: "telegram".into(), sender_id: "42".into() },
        scope: MemoryScope::Sender { channel: "telegram".into(), sender_id: "42".into() },
    };
    Search { tool, context, _dir: dir }
}

impl Search {
    async fn run(&self, input: Value) -> Result<String, String> {
        self.tool.call(input, &self.context).await.map_err(|error| error.to_string())
    }
}

fn three_results() -> Vec<Value> {
    vec![
        fake_brave::result(
            "Async in depth | <strong>Tokio</strong>",
            "https://tokio.rs/tokio/tutorial/async",
            "Understanding <strong>Rust</strong> <strong>async</strong> &amp; futures.",
        ),
        fake_brave::result(
            "The Async Book",
            "https://rust-lang.github.io/async-book/",
            "Asynchronous Programming in Rust",
        ),
        fake_brave::result("Third", "https://example.org/3", ""),
    ]
}

#[tokio::test]
async fn results_are_numbered_without_marks_and_the_request_is_exactly_braves() {
    let brave = FakeBrave::start().await;
    brave.set_results(three_results());
    let search = search_tool(&brave, fake_brave::KEY);
    let answer = search.run(json!({"query": "  rust async ", "count": 2})).await.unwrap();
    assert_eq!(
        answer,
        "Web results for `rust async` (Brave Search):\n\n\
         1. Async in depth | Tokio\n   https://tokio.rs/tokio/tutorial/async\n   Understanding Rust async & futures.\n\n\
         2. The Async Book\n   https://rust-lang.github.io/async-book/\n   Asynchronous Programming in Rust"
    );
    let searches = brave.searches();
    assert_eq!(searches.len(), 1);
    let request = &searches[0].request;
    assert_eq!((request.method.as_str(), request.path.as_str()), ("GET", "/res/v1/web/search"));
    assert_eq!(searches[0].query, "q=rust+async&count=2");
    assert_eq!(request.header("accept"), Some("application/json"));
    assert_eq!(request.header("x-subscription-token"), Some(fake_brave::KEY));
    assert_eq!(request.body, Value::Null);

    // Without `count`, five; past Brave's 20, twenty (the fake, like Brave, refuses 21).
    search.run(json!({"query": "rust"})).await.unwrap();
    search.run(json!({"query": "rust", "count": 500})).await.unwrap();
    let queries: Vec<String> = brave.searches().into_iter().map(|search| search.query).collect();
    assert_eq!(queries[1..], ["q=rust&count=5", "q=rust&count=20"]);
    brave.set_results(Vec::new());
    assert_eq!(search.run(json!({"query": "nothing"})).await.unwrap(), "no web results for `nothing`");
}

#[tokio::test]
async fn the_fake_refuses_what_brave_refuses() {
    let brave = FakeBrave::start().await;
    let client = reqwest::Client::new();
    let url = format!("{}/web/search", brave.api_url());
    let get = |query: &[(&str, &str)], key: Option<&str>| {
        let mut request = client.get(&url).query(query);
        if let Some(key) = key {
            request = request.header("X-Subscription-Token", key);
        }
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = get(&[("q", "rust"), ("count", "21")], Some(fake_brave::KEY)).await;
    assert_eq!(status, 422);
    assert_eq!(body["error"]["code"], "VALIDATION");
    assert_eq!(body["error"]["meta"]["errors"][0]["loc"], json!(["query", "count"]));
    let long = "x".repeat(401);
    assert_eq!(get(&[("q", long.as_str())], Some(fake_brave::KEY)).await.0, 422);
    let (status, body) = get(&[("count", "3")], Some(fake_brave::KEY)).await;
    assert_eq!((status, body["error"]["meta"]["errors"][0]["loc"].clone()), (422, json!(["query", "q"])));
    let (status, body) = get(&[("q", "rust")], None).await;
    assert_eq!(
        (status, body["error"]["meta"]["errors"][0]["loc"].clone()),
        (422, json!(["header", "x-subscription-token"]))
    );
    let (status, body) = get(&[("q", "rust")], Some("wrong")).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("SUBSCRIPTION_TOKEN_INVALID")));
}

#[tokio::test]
async fn a_refused_key_is_a_clear_error_that_never_holds_the_key() {
    let brave = FakeBrave::start().await;
    let wrong = "BSAwrong-key-that-must-stay-secret";
    let search = search_tool(&brave, wrong);
    let error = search.run(json!({"query": "rust"})).await.unwrap_err();
    assert_eq!(
        error,
        "web search is unavailable: Brave Search refused the API key (SUBSCRIPTION_TOKEN_INVALID); the operator \
         must check `BRAVE_API_KEY`. Do not retry; answer without web search"
    );
    assert_eq!(brave.searches().len(), 1, "a refused key is not retried");

    // A plain 401, as a proxy in front of Brave may answer, reads the same way.
    let search = search_tool(&brave, fake_brave::KEY);
    brave.refuse_next(401, "UNAUTHORIZED", &format!("token {} rejected", fake_brave::KEY));
    let error = search.run(json!({"query": "rust"})).await.unwrap_err();
    assert!(error.starts_with("web search is unavailable: Brave Search refused the API key (UNAUTHORIZED)"), "{error}");
    assert!(!error.contains(fake_brave::KEY), "{error}");
}

#[tokio::test]
async fn a_bad_request_names_braves_reason_and_a_query_past_its_limits_is_never_sent() {
    let brave = FakeBrave::start().await;
    let search = search_tool(&brave, fake_brave::KEY);
    brave.refuse_next(422, "OPTION_NOT_IN_PLAN", &format!("The option is not in the plan of {}.", fake_brave::KEY));
    let error = search.run(json!({"query": "rust"})).await.unwrap_err();
    assert_eq!(
        error,
        "Brave Search refused the request (OPTION_NOT_IN_PLAN): The option is not in the plan of [redacted]"
    );
    let long = "word ".repeat(51);
    let error = search.run(json!({"query": long})).await.unwrap_err();
    assert!(error.contains("51 words") && error.contains("at most 400 characters and 50 words"), "{error}");
    assert!(search.run(json!({"count": 3})).await.unwrap_err().starts_with("invalid arguments"));
    assert_eq!(brave.searches().len(), 1, "only the first search reached Brave");
}

#[tokio::test]
async fn a_per_second_limit_is_waited_out_once_then_told_with_when_to_retry() {
    let brave = FakeBrave::start().await;
    brave.set_results(three_results());
    let search = search_tool(&brave, fake_brave::KEY);
    brave.rate_limit_next(1, 1);
    let answer = search.run(json!({"query": "rust", "count": 1})).await.unwrap();
    assert!(answer.contains("1. Async in depth | Tokio"), "{answer}");
    assert_eq!(brave.searches().len(), 2, "retried once after the second passed");

    brave.rate_limit_next(2, 1);
    let error = search.run(json!({"query": "rust"})).await.unwrap_err();
    assert_eq!(
        error,
        "Brave Search is rate-limiting this key (at most 1 request per 1 s); retry in 1 s, one search at a time"
    );
    assert_eq!(brave.searches().len(), 4);
}

#[tokio::test]
async fn a_spent_quota_says_when_it_renews_and_is_not_retried() {
    let brave = FakeBrave::start().await;
    let search = search_tool(&brave, fake_brave::KEY);
    brave.exhaust_quota_next(1);
    let error = search.run(json!({"query": "rust"})).await.unwrap_err();
    assert_eq!(
        error,
        "the Brave Search plan's quota is used up; it renews in 17 days. Do not retry; answer without web search"
    );
    assert_eq!(brave.searches().len(), 1);
    brave.refuse_next(503, "UNAVAILABLE", "down");
    assert_eq!(
        search.run(json!({"query": "rust"})).await.unwrap_err(),
        "Brave Search failed (HTTP 503); try again later"
    );
}

#[tokio::test]
async fn without_a_key_the_tool_is_not_offered() {
    let registry = Registry::built_in(&ToolSettings::default());
    let offered: Vec<String> = registry.offered(Rights::Operator).into_iter().map(|spec| spec.name).collect();
    assert!(!offered.contains(&"web_search".to_owned()), "{offered:?}");
    assert!(registry.permitted("web_search", Rights::Operator).is_err());
}
