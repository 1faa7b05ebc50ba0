//! Gateway figures for BENCHMARKS.md: exec → `/readyz` 200, RSS idle and after 1,000 turns,
//! per-delta latency (fake provider → WebSocket client), RSS with a client that stops reading
//! during a long reply, and the release binary's size.
//! Run: `cargo bench --bench gateway` (prints a Markdown table).

#[path = "../tests/it/support/mod.rs"]
mod support;

#[path = "measure/mod.rs"]
mod measure;

use measure::{Proc, percentile};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::response::IntoResponse;
use serde_json::json;
use support::client::{Client, ConnectOptions};
use support::fake_anthropic::{FakeAnthropic, Reply};
use support::process::GatewayProcess;

/// Connect options of a molt client: it appends each delta's `deltaText`.
fn molt_client() -> ConnectOptions {
    ConnectOptions::new("t").caps(&["chat-delta-text"])
}

const STARTS: usize = 30;
const TURNS: usize = 1000;
const DELTAS: usize = 2000;

fn startup(fresh: bool) -> Vec<f64> {
    let base = tempfile::tempdir().unwrap();
    let mut samples = Vec::new();
    for run in 0..STARTS {
        let dir = if fresh { base.path().join(format!("d{run}")) } else { base.path().join("same") };
        let started = Instant::now();
        let mut gateway = GatewayProcess::start(&dir, &[("MOLT_GATEWAY_TOKEN", "t")], &[]);
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        gateway.signal("TERM");
        gateway.wait_exit(Duration::from_secs(15));
    }
    samples.sort_by(f64::total_cmp);
    samples
}

async fn memory() -> (u64, u64, u64) {
    let fake = FakeAnthropic::start().await;
    let url = fake.base_url();
    let dir = tempfile::tempdir().unwrap();
    let env = [("ANTHROPIC_API_KEY", "k"), ("ANTHROPIC_BASE_URL", url.as_str()), ("MOLT_GATEWAY_TOKEN", "t")];
    let gateway = GatewayProcess::start(dir.path(), &env, &[]);
    let pid = gateway.child.id();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle = Proc::new(pid).rss_kib();
    let (mut client, _) = Client::connect(&gateway.ws_url(), &molt_client()).await.unwrap();
    for turn in 0..TURNS {
        let key = format!("agent:main:bench{}", turn % 20);
        let ack = client
            .call("chat.send", json!({"sessionKey": key, "message": format!("turn {turn} says hello to the gateway"), "idempotencyKey": format!("k{turn}")}))
            .await;
        client.chat_run(ack["runId"].as_str().unwrap()).await;
    }
    client.close().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    (idle, Proc::new(pid).rss_kib(), Proc::new(pid).peak_kib())
}

fn now_nanos() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos()
}

/// A provider that stamps each delta with the time it was written.
async fn stamping_provider() -> String {
    async fn messages() -> impl IntoResponse {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::convert::Infallible>>(16);
        tokio::spawn(async move {
            let event = |name: &str, data: serde_json::Value| format!("event: {name}\ndata: {data}\n\n");
            let _ = tx
                .send(Ok(event(
                    "message_start",
                    json!({"type":"message_start","message":{"usage":{"input_tokens":1,"output_tokens":1}}}),
                )))
                .await;
            let _ = tx
                .send(Ok(event(
                    "content_block_start",
                    json!({"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}),
                )))
                .await;
            for _ in 0..DELTAS {
                tokio::time::sleep(Duration::from_millis(1)).await;
                let text = format!("{}|", now_nanos());
                let delta = event(
                    "content_block_delta",
                    json!({"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":text}}),
                );
                if tx.send(Ok(delta)).await.is_err() {
                    return;
                }
            }
            let _ = tx
                .send(Ok(event(
                    "message_delta",
                    json!({"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":DELTAS}}),
                )))
                .await;
            let _ = tx.send(Ok(event("message_stop", json!({"type":"message_stop"})))).await;
        });
        let body = axum::body::Body::from_stream(tokio_stream_from(rx));
        ([("content-type", "text/event-stream")], body)
    }
    let app = axum::Router::new().route("/v1/messages", axum::routing::post(messages));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(support::no_delay(listener), app).await.unwrap() });
    url
}

fn tokio_stream_from(
    mut rx: tokio::sync::mpsc::Receiver<Result<String, std::convert::Infallible>>,
) -> impl futures_util::Stream<Item = Result<String, std::convert::Infallible>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

async fn delta_latency() -> Vec<f64> {
    let url = stamping_provider().await;
    let dir = tempfile::tempdir().unwrap();
    let env = [("ANTHROPIC_API_KEY", "k"), ("ANTHROPIC_BASE_URL", url.as_str()), ("MOLT_GATEWAY_TOKEN", "t")];
    let gateway = GatewayProcess::start(dir.path(), &env, &[]);
    let (mut client, _) = Client::connect(&gateway.ws_url(), &molt_client()).await.unwrap();
    let ack = client.call("chat.send", json!({"sessionKey": "main", "message": "go", "idempotencyKey": "d"})).await;
    let run = ack["runId"].as_str().unwrap().to_owned();
    let mut samples = Vec::new();
    loop {
        let event = client.event("chat").await;
        let received = now_nanos();
        let payload = &event["payload"];
        if payload["runId"] != run.as_str() {
            continue;
        }
        if payload["state"] != "delta" {
            break;
        }
        let sent: u128 = payload["deltaText"].as_str().unwrap().trim_end_matches('|').parse().unwrap();
        samples.push((received - sent) as f64 / 1_000_000.0);
    }
    samples.sort_by(f64::total_cmp);
    samples
}

/// The long reply a stuck client asks for: 2,000 deltas of 4,000 bytes (8 MB).
const STUCK_CHUNKS: usize = 2000;
const STUCK_CHUNK_BYTES: usize = 4000;

/// A client that asks for a long reply and stops reading (its socket open, its receive buffer
/// small) while another reads it all: RSS before, peak, and after; and how the stuck one ended.
async fn stuck_client() -> (u64, u64, u64, String) {
    let fake = FakeAnthropic::start().await;
    let chunks: Vec<String> =
        (0..STUCK_CHUNKS).map(|i| format!("{i:06} {}", "x".repeat(STUCK_CHUNK_BYTES - 7))).collect();
    fake.push(Reply::Slow { chunks, delay_ms: 1 });
    let url = fake.base_url();
    let dir = tempfile::tempdir().unwrap();
    let env = [("ANTHROPIC_API_KEY", "k"), ("ANTHROPIC_BASE_URL", url.as_str()), ("MOLT_GATEWAY_TOKEN", "t")];
    let gateway = GatewayProcess::start(dir.path(), &env, &[]);
    let pid = gateway.child.id();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let tcp = socket.connect(gateway.addr.parse().unwrap()).await.unwrap();
    let (mut stuck, _) = Client::connect_over(&gateway.ws_url(), tcp, &molt_client()).await.unwrap();
    let (mut reader, _) = Client::connect(&gateway.ws_url(), &molt_client()).await.unwrap();
    reader.call("sessions.messages.subscribe", json!({"key": "main"})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = Proc::new(pid).rss_kib();
    stuck
        .send_json(&json!({"type": "req", "id": "s1", "method": "chat.send",
            "params": {"sessionKey": "main", "message": "long", "idempotencyKey": "s1"}}))
        .await;
    let first = reader.event("chat").await["payload"].clone();
    reader.chat_run(first["runId"].as_str().unwrap()).await;
    let peak = Proc::new(pid).peak_kib();
    let (_, close) = stuck.read_to_close(1_000_000).await;
    let ended = close
        .map_or_else(|| "socket dropped".to_owned(), |frame| format!("{} `{}`", u16::from(frame.code), frame.reason));
    tokio::time::sleep(Duration::from_millis(500)).await;
    (before, peak, Proc::new(pid).rss_kib(), ended)
}

const APPROVALS: usize = 20;

/// `molt pair approve` (a process, as an operator runs it) → the waiting device's hello-ok.
async fn approval_round_trip() -> Vec<f64> {
    let dir = tempfile::tempdir().unwrap();
    let env = [("MOLT_GATEWAY_TOKEN", "t"), ("MOLT_LOOPBACK_AUTO_APPROVE", "false")];
    let gateway = GatewayProcess::start(dir.path(), &env, &[]);
    let url = format!("http://{}", gateway.addr);
    let mut samples = Vec::new();
    for _ in 0..APPROVALS {
        let (mut device, request_id) = Client::connect_waiting(&gateway.ws_url(), &[], &ConnectOptions::new("t")).await;
        let started = Instant::now();
        let mut approve = support::process::molt();
        approve.args(["pair", "--url", &url, "approve", &request_id]).env("MOLT_GATEWAY_TOKEN", "t");
        let child = approve.stdout(std::process::Stdio::null()).spawn().unwrap();
        let hello = device.recv_json().await.unwrap();
        samples.push(started.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(hello["ok"], true);
        tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
        device.close().await;
    }
    samples.sort_by(f64::total_cmp);
    samples
}

#[tokio::main]
async fn main() {
    let binary = std::fs::metadata(env!("CARGO_BIN_EXE_molt")).unwrap().len();
    let fresh = tokio::task::spawn_blocking(|| startup(true)).await.unwrap();
    let warm = tokio::task::spawn_blocking(|| startup(false)).await.unwrap();
    let (idle, after, peak) = memory().await;
    let deltas = delta_latency().await;
    let approvals = approval_round_trip().await;
    let (stuck_before, stuck_peak, stuck_after, stuck_end) = stuck_client().await;
    println!("| figure | value | goal |");
    println!("|---|---|---|");
    println!(
        "| exec → `/readyz` 200, new data dir (median / p90 of {STARTS}) | {:.1} ms / {:.1} ms | ≤ 20 ms median |",
        percentile(&fresh, 0.5),
        percentile(&fresh, 0.9)
    );
    println!(
        "| exec → `/readyz` 200, existing data dir (median / p90 of {STARTS}) | {:.1} ms / {:.1} ms | ≤ 20 ms median |",
        percentile(&warm, 0.5),
        percentile(&warm, 0.9)
    );
    println!("| RSS after start | {:.1} MB | ≤ 15 MB idle |", idle as f64 / 1024.0);
    println!(
        "| RSS after {TURNS} chat turns (peak) | {:.1} MB ({:.1} MB) | |",
        after as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    println!(
        "| delta latency provider → client, p50 / p99 / max of {} | {:.3} ms / {:.3} ms / {:.3} ms | p99 ≤ 1 ms |",
        deltas.len(),
        percentile(&deltas, 0.5),
        percentile(&deltas, 0.99),
        deltas[deltas.len() - 1]
    );
    println!(
        "| RSS with one stuck client during an {} MB reply: before / peak / after | {:.1} MB / {:.1} MB / {:.1} MB (closed: {stuck_end}) | bounded |",
        STUCK_CHUNKS * STUCK_CHUNK_BYTES / 1_000_000,
        stuck_before as f64 / 1024.0,
        stuck_peak as f64 / 1024.0,
        stuck_after as f64 / 1024.0
    );
    println!("| release binary, stripped | {:.1} MB | ≤ 12 MB |", binary as f64 / 1_048_576.0);
    println!(
        "| `molt pair approve` → device connected (median / p90 of {APPROVALS}) | {:.1} ms / {:.1} ms | ≤ 50 ms |",
        percentile(&approvals, 0.5),
        percentile(&approvals, 0.9)
    );
}
