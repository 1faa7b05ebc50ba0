//! The tool round's cost: one client sends N turns to the release gateway; for each, an instant
//! fake model answers with a `read_file` call, then (seeing the result) with text. Prints the
//! gateway's overhead of a local tool round, from the model's tool-call answer written to the
//! next model request read (the SSE parse, the policy check, the tool, the request built and
//! sent), p50/p99, and the gateway's RSS before and after the N tool-using turns.
//! Run: `cargo bench --bench tools -- [--turns 1000] [--tool read_file]` (`--tool` names the
//! tool the model asks for: a tool that does not exist measures the round without any tool
//! work, the refusal only).

#[path = "../tests/it/support/mod.rs"]
mod support;

#[path = "measure/mod.rs"]
mod measure;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use measure::{Proc, mib, ms, summary};
use serde_json::{Value, json};
use support::client::{Client, ConnectOptions};
use support::process::GatewayProcess;

/// Per turn (by its user text): when the tool call's answer was ready, and when the request
/// carrying its result arrived.
#[derive(Default)]
struct Stamps {
    answered: HashMap<String, Instant>,
    followed: HashMap<String, Instant>,
}

type Shared = Arc<Mutex<Stamps>>;

fn sse(events: &[(&str, Value)]) -> String {
    events.iter().map(|(name, data)| format!("event: {name}\ndata: {data}\n\n")).collect()
}

#[derive(Clone)]
struct Model {
    stamps: Shared,
    tool: Arc<str>,
}

async fn messages(State(Model { stamps, tool }): State<Model>, body: Bytes) -> impl IntoResponse {
    let received = Instant::now();
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let messages = request["messages"].as_array().cloned().unwrap_or_default();
    let with_result = messages.last().is_some_and(|last| last["content"][0]["type"] == "tool_result");
    let key =
        messages.iter().rev().find_map(|message| message["content"].as_str().map(str::to_owned)).unwrap_or_default();
    let usage = json!({"input_tokens": 10, "output_tokens": 1});
    let start = json!({"type": "message_start", "message": {"id": "msg_b", "type": "message", "role": "assistant",
        "model": "claude-bench", "content": [], "stop_reason": null, "usage": usage}});
    let body = if with_result {
        stamps.lock().unwrap_or_else(std::sync::PoisonError::into_inner).followed.insert(key, received);
        sse(&[
            ("message_start", start),
            (
                "content_block_start",
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "done"}}),
            ),
            ("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
            (
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": 1}}),
            ),
            ("message_stop", json!({"type": "message_stop"})),
        ])
    } else {
        let tool =
            json!({"type": "tool_use", "id": format!("toolu_{}", rand::random::<u64>()), "name": &*tool, "input": {}});
        let body = sse(&[
            ("message_start", start),
            ("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": tool})),
            (
                "content_block_delta",
                json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": "{\"path\": \"notes.md\"}"}}),
            ),
            ("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
            (
                "message_delta",
                json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 5}}),
            ),
            ("message_stop", json!({"type": "message_stop"})),
        ]);
        stamps.lock().unwrap_or_else(std::sync::PoisonError::into_inner).answered.insert(key, Instant::now());
        body
    };
    ([("content-type", "text/event-stream")], body)
}

fn main() {
    measure::pin_self(1);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    let turns = measure::flag("--turns", 1000);
    runtime.block_on(run(turns, measure::flag("--tool", "read_file".to_owned())));
}

async fn run(turns: usize, tool: String) {
    let stamps: Shared = Arc::default();
    let model = Model { stamps: stamps.clone(), tool: tool.clone().into() };
    let app = axum::Router::new().route("/v1/messages", axum::routing::post(messages)).with_state(model);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the model");
    let model_url = format!("http://{}", listener.local_addr().expect("model address"));
    tokio::spawn(async move { axum::serve(support::no_delay(listener), app).await });

    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(data.join("workspace")).expect("workspace");
    std::fs::write(data.join("workspace/notes.md"), "- milk\n- bread\n- a birthday card for Ada\n").expect("notes");
    let env = [("MOLT_GATEWAY_TOKEN", "t"), ("ANTHROPIC_API_KEY", "k"), ("ANTHROPIC_BASE_URL", model_url.as_str())];
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let gateway = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        GatewayProcess::start_via(&["taskset", "-c", "0"], &data, &env, &[])
    })
    .await
    .expect("gateway start");
    let molt = Proc::new(gateway.child.id());
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new("t")).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle_rss = molt.rss_kib();

    let mut overhead = Vec::with_capacity(turns);
    let started = Instant::now();
    for turn in 0..turns {
        let text = format!("turn {turn}: what is on my list?");
        let ack = client
            .call("chat.send", json!({"sessionKey": format!("bench-{}", turn % 50), "message": text, "idempotencyKey": format!("k{turn}")}))
            .await;
        let events = client.chat_run(ack["runId"].as_str().expect("run id")).await;
        assert_eq!(events.last().map(|event| event["state"].clone()), Some(json!("final")), "turn {turn}");
        let stamps = stamps.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let (Some(answered), Some(followed)) = (stamps.answered.get(&text), stamps.followed.get(&text)) {
            overhead.push(ms(followed.duration_since(*answered)));
        }
    }
    let elapsed = started.elapsed();
    let mut slowest: Vec<(usize, f64)> = overhead.iter().copied().enumerate().collect();
    slowest.sort_by(|a, b| b.1.total_cmp(&a.1));
    let shown: Vec<String> = slowest.iter().take(12).map(|(turn, ms)| format!("#{turn} {ms:.2}")).collect();
    println!("slowest rounds (turn, ms): {}", shown.join(", "));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rss = molt.rss_kib();
    println!("tool rounds: {} of {turns} turns measured in {:.1} s", overhead.len(), elapsed.as_secs_f64());
    println!("gateway overhead of a local tool round ({tool}), ms: {}", summary(&mut overhead));
    println!(
        "gateway RSS: {:.1} MiB idle, {:.1} MiB after {turns} tool-using turns (peak {:.1} MiB)",
        mib(idle_rss),
        mib(rss),
        mib(molt.peak_kib())
    );
    client.close().await;
    drop(gateway);
}
