//! The exec approval round trip: one operator client (as `molt chat` speaks the protocol, with
//! `operator.approvals`) sends N turns to the release gateway (`MOLT_EXEC=approve`); for each,
//! an instant fake model asks for `exec` with `date +%s%N`, the gateway announces
//! `exec.approval.requested`, and the client answers `allow-once`. Prints, p50/p99/max, the
//! time from the resolve request written to the socket to the command's own clock reading
//! (`date` runs first thing in the command; same machine, same clock), so it counts the
//! gateway's handling of the answer, the spawn of `sh` and the exec of `date`.
//! Run: `cargo bench --bench exec -- [--runs 200]`.

#[path = "../tests/it/support/mod.rs"]
mod support;

#[path = "measure/mod.rs"]
mod measure;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use measure::summary;
use serde_json::{Value, json};
use support::client::{Client, ConnectOptions};
use support::process::GatewayProcess;

/// The tool results the model was sent, in order.
type Results = Arc<Mutex<Vec<String>>>;

fn sse(events: &[(&str, Value)]) -> String {
    events.iter().map(|(name, data)| format!("event: {name}\ndata: {data}\n\n")).collect()
}

async fn messages(State(results): State<Results>, body: Bytes) -> impl IntoResponse {
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let last = request["messages"].as_array().and_then(|messages| messages.last()).cloned().unwrap_or_default();
    let usage = json!({"input_tokens": 10, "output_tokens": 1});
    let start = json!({"type": "message_start", "message": {"id": "msg_b", "type": "message", "role": "assistant",
        "model": "claude-bench", "content": [], "stop_reason": null, "usage": usage}});
    let (block, delta, stop) = if last["content"][0]["type"] == "tool_result" {
        let text = last["content"][0]["content"].as_str().unwrap_or_default().to_owned();
        results.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(text);
        (json!({"type": "text", "text": ""}), json!({"type": "text_delta", "text": "done"}), "end_turn")
    } else {
        (
            json!({"type": "tool_use", "id": format!("toolu_{}", rand::random::<u64>()), "name": "exec", "input": {}}),
            json!({"type": "input_json_delta", "partial_json": "{\"command\": \"date +%s%N\"}"}),
            "tool_use",
        )
    };
    let body = sse(&[
        ("message_start", start),
        ("content_block_start", json!({"type": "content_block_start", "index": 0, "content_block": block})),
        ("content_block_delta", json!({"type": "content_block_delta", "index": 0, "delta": delta})),
        ("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
        (
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": stop}, "usage": {"output_tokens": 1}}),
        ),
        ("message_stop", json!({"type": "message_stop"})),
    ]);
    ([("content-type", "text/event-stream")], body)
}

fn runs_arg() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|arg| arg == "--runs")
        .and_then(|at| args.get(at + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(200)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn now_ns() -> i128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |since| since.as_nanos() as i128)
}

fn main() {
    measure::pin_self(1);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    runtime.block_on(run(runs_arg()));
}

async fn run(runs: usize) {
    println!("load average before: {}", load_average());
    let results: Results = Arc::default();
    let app = axum::Router::new().route("/v1/messages", axum::routing::post(messages)).with_state(results.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the model");
    let model_url = format!("http://{}", listener.local_addr().expect("model address"));
    tokio::spawn(async move { axum::serve(support::no_delay(listener), app).await });

    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let env = [
        ("MOLT_GATEWAY_TOKEN", "t"),
        ("ANTHROPIC_API_KEY", "k"),
        ("ANTHROPIC_BASE_URL", model_url.as_str()),
        ("MOLT_EXEC", "approve"),
    ];
    let env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    let gateway = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        GatewayProcess::start_via(&["taskset", "-c", "0"], &data, &env, &[])
    })
    .await
    .expect("gateway start");
    let options = ConnectOptions::new("t").scopes(&["operator.read", "operator.write", "operator.approvals"]);
    let (mut client, _) = Client::connect(&gateway.ws_url(), &options).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(200)).await;

    let mut round_trips = Vec::with_capacity(runs);
    let started = Instant::now();
    for run in 0..runs {
        let ack = client
            .call("chat.send", json!({"sessionKey": format!("bench-{}", run % 20), "message": format!("run {run}"), "idempotencyKey": format!("k{run}")}))
            .await;
        let requested = client.event("exec.approval.requested").await;
        let resolve = json!({"type": "req", "id": format!("resolve-{run}"), "method": "exec.approval.resolve",
            "params": {"id": requested["payload"]["id"], "decision": "allow-once"}});
        client.send_json(&resolve).await;
        let sent = now_ns();
        let events = client.chat_run(ack["runId"].as_str().expect("run id")).await;
        assert_eq!(events.last().map(|event| event["state"].clone()), Some(json!("final")), "run {run}");
        let result =
            results.lock().unwrap_or_else(std::sync::PoisonError::into_inner).last().cloned().unwrap_or_default();
        let Some(ran) = result.lines().nth(2).and_then(|line| line.trim().parse::<i128>().ok()) else {
            panic!("run {run}: no timestamp in the result: {result:?}");
        };
        round_trips.push((ran - sent) as f64 / 1e6);
    }
    let elapsed = started.elapsed();
    println!("exec approvals: {runs} runs in {:.1} s", elapsed.as_secs_f64());
    println!(
        "exec approval round trip (allow-once written to the socket → the command's first clock reading), p50 / p99 / max: {}",
        summary(&mut round_trips)
    );
    println!("load average after: {}", load_average());
    client.close().await;
    drop(gateway);
}
