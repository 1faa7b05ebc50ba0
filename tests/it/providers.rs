//! Model providers end to end: the exact requests molt sends to the fake Anthropic and
//! OpenAI-compatible servers, and the exact `chat` events the client receives, including
//! retries, fallbacks, errors after 200 and stalled streams.

use crate::support;

use serde_json::{Value, json};
use support::client::{Client, ConnectOptions};
use support::fake_anthropic::{self, FakeAnthropic};
use support::fake_openai::{self, FakeOpenAi};
use support::gateway::{TOKEN, TestGateway};

/// Sends one message and returns the run's `chat` events.
async fn turn(gateway: &TestGateway, message: &str) -> Vec<Value> {
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    let key = uuid_like();
    let ack = client.call("chat.send", json!({"sessionKey": "main", "message": message, "idempotencyKey": key})).await;
    let events = client.chat_run(ack["runId"].as_str().unwrap()).await;
    client.close().await;
    events
}

fn uuid_like() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn final_text(events: &[Value]) -> String {
    events.last().unwrap()["message"]["content"][0]["text"].as_str().unwrap_or_default().to_owned()
}

async fn anthropic_gateway(extra: &[(&str, &str)]) -> (TestGateway, FakeAnthropic) {
    let fake = FakeAnthropic::start_with_key("sk-ant-test").await;
    (TestGateway::builder().model(&fake).envs(extra).start().await, fake)
}

#[tokio::test]
async fn anthropic_gets_the_exact_request_with_the_cached_prefix() {
    let fake = FakeAnthropic::start_with_key("sk-ant-test").await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("workspace")).unwrap();
    std::fs::write(dir.path().join("workspace/SOUL.md"), "You are Molty.").unwrap();
    let gateway = TestGateway::builder().model(&fake).data_dir(dir.path()).env("MOLT_MAX_TOKENS", "1000").start().await;
    fake.push(fake_anthropic::Reply::text("First answer."));
    turn(&gateway, "first question").await;
    let events = turn(&gateway, "second question").await;
    assert_eq!(events.last().unwrap()["state"], "final");

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let request = &requests[1];
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/v1/messages"));
    assert_eq!(request.header("x-api-key"), Some("sk-ant-test"));
    assert_eq!(request.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(request.header("content-type"), Some("application/json"));
    let system = request.body["system"][0]["text"].as_str().unwrap();
    assert!(system.ends_with("## SOUL.md\n\nYou are Molty."), "{system}");
    let mut body = request.body.clone();
    let tools = body.as_object_mut().unwrap().remove("tools").expect("the memory tool is offered");
    assert_eq!(tools[0]["name"], "memory_write");
    assert_eq!(tools[0]["input_schema"]["required"], json!(["text"]));
    assert_eq!(
        body,
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 1000,
            "stream": true,
            "system": [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": "first question"},
                {"role": "assistant", "content": [
                    {"type": "text", "text": "First answer.", "cache_control": {"type": "ephemeral"}},
                ]},
                {"role": "user", "content": "second question"},
            ],
        })
    );
    assert_eq!(requests[0].body["system"], request.body["system"], "the prefix is byte-identical between turns");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn usage_with_cache_reads_and_writes_is_recorded_per_message() {
    let (gateway, fake) = anthropic_gateway(&[]).await;
    let usage = fake_anthropic::Usage {
        input_tokens: 11,
        output_tokens: 3,
        cache_read_input_tokens: 900,
        cache_creation_input_tokens: 40,
    };
    fake.push(fake_anthropic::Reply::Text { chunks: vec!["a".into(), "b".into(), "c".into()], usage });
    let events = turn(&gateway, "count").await;
    let expected = json!({"inputTokens": 11, "outputTokens": 3, "cacheReadTokens": 900, "cacheWriteTokens": 40});
    assert_eq!(events.last().unwrap()["usage"], expected);
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    let history = client.call("chat.history", json!({"sessionKey": "main"})).await;
    assert_eq!(history["messages"][1]["usage"], expected);
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn rate_limits_are_retried_after_retry_after() {
    let (gateway, fake) = anthropic_gateway(&[]).await;
    fake.push(fake_anthropic::Reply::Status {
        status: 429,
        error_type: "rate_limit_error".into(),
        message: "Number of request tokens has exceeded your per-minute rate limit".into(),
        retry_after: Some("1".into()),
    });
    fake.push(fake_anthropic::Reply::text("after the wait"));
    let started = std::time::Instant::now();
    let events = turn(&gateway, "hello").await;
    assert_eq!(final_text(&events), "after the wait");
    assert!(started.elapsed() >= std::time::Duration::from_secs(1), "waited for retry-after");
    assert_eq!(fake.requests().len(), 2);
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn an_absurd_retry_after_is_an_error_at_once_and_the_gateway_keeps_serving() {
    let (gateway, fake) = anthropic_gateway(&[]).await;
    fake.push(fake_anthropic::Reply::Status {
        status: 429,
        error_type: "rate_limit_error".into(),
        message: "slow down".into(),
        retry_after: Some("1e20".into()),
    });
    let events = turn(&gateway, "hello").await;
    let last = events.last().unwrap();
    assert_eq!((last["state"].as_str(), last["errorKind"].as_str()), (Some("error"), Some("rate_limit")));
    assert_eq!(last["errorMessage"], "the model provider is rate limiting requests (HTTP 429): slow down");
    assert_eq!(fake.requests().len(), 1, "a wait past the bound is not waited out");

    fake.push(fake_anthropic::Reply::text("still here"));
    assert_eq!(final_text(&turn(&gateway, "again").await), "still here");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn overload_is_retried_then_the_fallback_model_answers() {
    let (gateway, fake) =
        anthropic_gateway(&[("MOLT_FALLBACK_MODELS", "claude-haiku-4-5"), ("MOLT_MODEL_MAX_ATTEMPTS", "2")]).await;
    for _ in 0..2 {
        fake.push(fake_anthropic::Reply::status(529, "overloaded_error", "Overloaded"));
    }
    fake.push(fake_anthropic::Reply::text("from the fallback"));
    let events = turn(&gateway, "hello").await;
    assert_eq!(final_text(&events), "from the fallback");
    assert_eq!(events.last().unwrap()["model"], "claude-haiku-4-5");
    let models: Vec<Value> = fake.requests().iter().map(|r| r.body["model"].clone()).collect();
    assert_eq!(models, [json!("claude-sonnet-4-5"), json!("claude-sonnet-4-5"), json!("claude-haiku-4-5")]);
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn a_bad_key_is_never_retried_and_the_client_is_told() {
    let fake = FakeAnthropic::start_with_key("the-right-key").await;
    let url = fake.base_url();
    let gateway = TestGateway::start(&[("ANTHROPIC_API_KEY", "a-wrong-key"), ("ANTHROPIC_BASE_URL", &url)]).await;
    let events = turn(&gateway, "hello").await;
    let last = events.last().unwrap();
    assert_eq!(last["state"], "error");
    assert_eq!(last["errorKind"], "unknown");
    let message = last["errorMessage"].as_str().unwrap();
    assert!(message.starts_with("the model provider refused the API key (HTTP 401)"), "{message}");
    assert!(!message.contains("a-wrong-key"), "the key never reaches the client");
    assert_eq!(fake.requests().len(), 1);
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn context_too_long_is_named() {
    let (gateway, fake) = anthropic_gateway(&[]).await;
    fake.push(fake_anthropic::Reply::status(
        400,
        "invalid_request_error",
        "prompt is too long: 250000 tokens > 200000 maximum",
    ));
    let events = turn(&gateway, "hello").await;
    assert_eq!(events.last().unwrap()["errorKind"], "context_length");
    assert_eq!(fake.requests().len(), 1);
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn an_error_event_after_200_reaches_the_client_and_keeps_the_partial_text() {
    let (gateway, fake) = anthropic_gateway(&[]).await;
    fake.push(fake_anthropic::Reply::ErrorAfter {
        chunks: vec!["Half ".into(), "an ".into()],
        error_type: "overloaded_error".into(),
        message: "Overloaded".into(),
    });
    let events = turn(&gateway, "hello").await;
    let states: Vec<&str> = events.iter().map(|e| e["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["delta", "delta", "error"]);
    assert_eq!(events[2]["errorMessage"], "the model provider is overloaded (mid-stream): Overloaded");
    assert_eq!(fake.requests().len(), 1, "text already streamed: no retry that would repeat it");
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    let history = client.call("chat.history", json!({"sessionKey": "main"})).await;
    assert_eq!(history["messages"][1]["content"][0]["text"], "Half an ");
    assert_eq!(history["messages"][1]["stopReason"], "error");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn a_stalled_stream_times_out_with_a_clear_error() {
    let (gateway, fake) = anthropic_gateway(&[("MOLT_MODEL_TIMEOUT_SECS", "1")]).await;
    fake.push(fake_anthropic::Reply::Stall { chunks: vec!["Hmm".into()] });
    let events = turn(&gateway, "hello").await;
    let last = events.last().unwrap();
    assert_eq!((last["state"].as_str(), last["errorKind"].as_str()), (Some("error"), Some("timeout")));
    assert_eq!(last["errorMessage"], "the model stream stalled: nothing received for 1 s");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn a_broken_stream_is_an_error_not_a_stall() {
    let (gateway, fake) = anthropic_gateway(&[("MOLT_MODEL_MAX_ATTEMPTS", "1")]).await;
    fake.push(fake_anthropic::Reply::Broken);
    let events = turn(&gateway, "hello").await;
    let message = events.last().unwrap()["errorMessage"].as_str().unwrap().to_owned();
    assert!(message.starts_with("broken model stream"), "{message}");
    let after = turn(&gateway, "again").await;
    assert_eq!(after.last().unwrap()["state"], "final", "the gateway keeps serving");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn an_unknown_tool_gets_an_error_result_and_the_reply_goes_on() {
    let (gateway, fake) = anthropic_gateway(&[]).await;
    fake.push(fake_anthropic::Reply::ToolUse {
        text: "Let me look.".into(),
        tool_name: "search".into(),
        input_json_chunks: vec!["{\"q\":".into(), "\"rust\"}".into()],
    });
    fake.push(fake_anthropic::Reply::text(" Nothing found."));
    let events = turn(&gateway, "search rust").await;
    let last = events.last().unwrap();
    assert_eq!(last["stopReason"], "end_turn");
    assert_eq!(final_text(&events), "Let me look. Nothing found.");
    let second = &fake.requests()[1];
    let result = second.body["messages"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(result["content"][0]["content"], "there is no tool named `search`");
    assert_eq!(result["content"][0]["is_error"], true);
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn ai_gateway_for_anthropic_uses_the_url_form_and_cf_aig_authorization() {
    let fake = FakeAnthropic::start_with_key("sk-provider").await;
    let url = fake.base_url();
    let gateway = TestGateway::start(&[
        ("CF_AI_GATEWAY_ACCOUNT_ID", "acc123"),
        ("CF_AI_GATEWAY_GATEWAY_ID", "gw1"),
        ("CF_AI_GATEWAY_MODEL", "anthropic/claude-haiku-4-5"),
        ("CLOUDFLARE_AI_GATEWAY_API_KEY", "sk-provider"),
        ("CF_AI_GATEWAY_TOKEN", "cf-aig-secret"),
        ("MOLT_AI_GATEWAY_URL", &url),
    ])
    .await;
    let events = turn(&gateway, "via the gateway").await;
    assert_eq!(final_text(&events), "You said: via the gateway");
    let request = &fake.requests()[0];
    assert_eq!(request.path, "/acc123/gw1/anthropic/v1/messages");
    assert_eq!(request.header("cf-aig-authorization"), Some("Bearer cf-aig-secret"));
    assert_eq!(request.header("x-api-key"), Some("sk-provider"));
    assert_eq!(request.body["model"], "claude-haiku-4-5");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn openai_compatible_request_and_lenient_stream() {
    let fake = FakeOpenAi::start_with_key("sk-openai").await;
    let url = format!("{}/v1", fake.base_url());
    let gateway =
        TestGateway::start(&[("OPENAI_API_KEY", "sk-openai"), ("OPENAI_BASE_URL", &url), ("MOLT_MODEL", "llama3.2")])
            .await;
    fake.push(fake_openai::Reply::Quirky { chunks: vec!["Odd ".into(), "but ".into(), "fine".into()] });
    let events = turn(&gateway, "hi").await;
    assert_eq!(final_text(&events), "Odd but fine");
    let request = &fake.requests()[0];
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(request.header("authorization"), Some("Bearer sk-openai"));
    let system = request.body["messages"][0]["content"].clone();
    let mut body = request.body.clone();
    let tools = body.as_object_mut().unwrap().remove("tools").expect("the memory tool is offered");
    assert_eq!(
        (tools[0]["type"].as_str(), tools[0]["function"]["name"].as_str()),
        (Some("function"), Some("memory_write"))
    );
    assert_eq!(
        body,
        json!({
            "model": "llama3.2",
            "stream": true,
            "stream_options": {"include_usage": true},
            "max_tokens": 4096,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": "hi"}],
        })
    );
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn openai_rate_limit_then_success_and_usage() {
    let fake = FakeOpenAi::start().await;
    let url = format!("{}/v1", fake.base_url());
    let gateway = TestGateway::start(&[("OPENAI_BASE_URL", &url)]).await;
    fake.push(fake_openai::Reply::Status {
        status: 429,
        error_type: "rate_limit_exceeded".into(),
        message: "Rate limit reached".into(),
        retry_after: Some(0),
    });
    let usage = fake_openai::Usage {
        input_tokens: 7,
        output_tokens: 2,
        cache_read_input_tokens: 3,
        cache_creation_input_tokens: 0,
    };
    fake.push(fake_openai::Reply::Text { chunks: vec!["ok".into(), "!".into()], usage });
    let events = turn(&gateway, "hi").await;
    let last = events.last().unwrap();
    assert_eq!(final_text(&events), "ok!");
    assert_eq!(
        last["usage"],
        json!({"inputTokens": 7, "outputTokens": 2, "cacheReadTokens": 3, "cacheWriteTokens": 0})
    );
    assert_eq!(fake.requests()[1].header("authorization"), None, "no key configured, none sent (Ollama)");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn openai_through_ai_gateway() {
    let fake = FakeOpenAi::start_with_key("sk-openai").await;
    let url = fake.base_url();
    let gateway = TestGateway::start(&[
        ("CF_AI_GATEWAY_ACCOUNT_ID", "acc"),
        ("CF_AI_GATEWAY_GATEWAY_ID", "gw"),
        ("CF_AI_GATEWAY_MODEL", "openai/gpt-4.1-mini"),
        ("OPENAI_API_KEY", "sk-openai"),
        ("CF_AI_GATEWAY_TOKEN", "cf-aig"),
        ("MOLT_AI_GATEWAY_URL", &url),
    ])
    .await;
    let events = turn(&gateway, "hey").await;
    assert_eq!(events.last().unwrap()["state"], "final");
    let request = &fake.requests()[0];
    assert_eq!(request.path, "/acc/gw/openai/chat/completions");
    assert_eq!(request.header("cf-aig-authorization"), Some("Bearer cf-aig"));
    assert_eq!(request.header("authorization"), Some("Bearer sk-openai"));
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn an_unreachable_provider_is_reported_not_stalled() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let gateway = TestGateway::start(&[
        ("ANTHROPIC_API_KEY", "k"),
        ("ANTHROPIC_BASE_URL", &dead),
        ("MOLT_MODEL_MAX_ATTEMPTS", "2"),
    ])
    .await;
    let events = turn(&gateway, "hello").await;
    let message = events.last().unwrap()["errorMessage"].as_str().unwrap().to_owned();
    assert!(message.starts_with("cannot reach the model provider"), "{message}");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn the_memory_tool_saves_a_fact_that_every_other_session_then_sees() {
    let fake = FakeAnthropic::start_with_key("sk-ant-test").await;
    let gateway = TestGateway::builder().model(&fake).start().await;
    fake.push(fake_anthropic::Reply::ToolUse {
        text: "Noted. ".into(),
        tool_name: "remember".into(),
        input_json_chunks: vec!["{\"fact\": ".into(), "\"Ada takes her tea without sugar\"}".into()],
    });
    fake.push(fake_anthropic::Reply::text("I will remember that."));
    let events = turn(&gateway, "I take my tea without sugar").await;
    let last = events.last().unwrap();
    assert_eq!(last["state"], "final");
    assert_eq!(final_text(&events), "Noted. I will remember that.", "one reply across the tool round");
    let memory = std::fs::read_to_string(gateway.data_dir.join("workspace/MEMORY.md")).unwrap();
    assert_eq!(memory, "- Ada takes her tea without sugar\n");

    let requests = fake.requests();
    let messages = requests[1].body["messages"].as_array().unwrap().clone();
    let (call, result) = (&messages[messages.len() - 2], &messages[messages.len() - 1]);
    assert_eq!(call["role"], "assistant");
    assert_eq!(call["content"][1]["type"], "tool_use");
    assert_eq!(call["content"][1]["input"], json!({"fact": "Ada takes her tea without sugar"}));
    assert_eq!(result["content"][0]["type"], "tool_result");
    assert_eq!(result["content"][0]["tool_use_id"], call["content"][1]["id"]);
    assert_eq!(result["content"][0]["content"], "saved");

    // Another conversation (another channel's session) carries the fact in its cached prefix.
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    let ack = client
        .call(
            "chat.send",
            json!({"sessionKey": "agent:main:slack:direct:U1", "message": "tea?", "idempotencyKey": "s1"}),
        )
        .await;
    client.chat_run(ack["runId"].as_str().unwrap()).await;
    let other = fake.requests().pop().unwrap();
    let system = other.body["system"][0]["text"].as_str().unwrap();
    assert!(system.contains("## MEMORY.md\n\n- Ada takes her tea without sugar"), "{system}");
    gateway.stop().await.unwrap();
}
