//! `molt tail` against the fake Workers tail API (session, `trace-v1` WebSocket with real-shaped
//! trace events, deletion on Ctrl-C), and `molt tail --gateway` against a real gateway process.

use crate::support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::{Value, json};
use support::fake_cloudflare::{ACCOUNT, FakeCloudflare, TOKEN};
use support::process::{GatewayProcess, molt};

/// Trace events shaped like the ones Cloudflare's tail WebSocket sends.
fn trace_events() -> Vec<Value> {
    vec![
        json!({
            "outcome": "ok", "scriptName": "molt", "diagnosticsChannelEvents": [], "exceptions": [],
            "logs": [{"message": ["forwarding to the container"], "level": "log", "timestamp": 1795953600010_i64}],
            "eventTimestamp": 1795953600000_i64,
            "event": {"request": {"url": "https://molt.ada.workers.dev/", "method": "GET", "headers": {"user-agent": "curl/8"}, "cf": {"colo": "AMS"}}, "response": {"status": 200}},
            "scriptVersion": {"id": "4b5a6c7d"}, "truncated": false, "executionModel": "stateless",
        }),
        json!({
            "outcome": "exception", "scriptName": "molt", "diagnosticsChannelEvents": [],
            "exceptions": [{"name": "Error", "message": "container did not start", "timestamp": 1795953601000_i64}],
            "logs": [{"message": ["starting container", {"port": 18789}], "level": "warn", "timestamp": 1795953600900_i64}],
            "eventTimestamp": 1795953600800_i64,
            "event": {"request": {"url": "https://molt.ada.workers.dev/channels/telegram/webhook", "method": "POST", "headers": {}}, "response": {"status": 500}},
            "scriptVersion": {"id": "4b5a6c7d"}, "truncated": false, "executionModel": "stateless",
        }),
    ]
}

fn init(home: &std::path::Path, fake: &FakeCloudflare) {
    fake.add_script("molt");
    let output = molt()
        .current_dir(home)
        .args(["init", "--non-interactive", "--dir", "deploy"])
        .env("CLOUDFLARE_API_BASE_URL", fake.base_url())
        .env("MOLT_CONFIG_DIR", home.join("config"))
        .env("MOLT_SECRET_STORE", "file")
        .env("CLOUDFLARE_ACCOUNT_ID", ACCOUNT)
        .env("CLOUDFLARE_API_TOKEN", TOKEN)
        .env("ANTHROPIC_API_KEY", "k")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

/// Starts `molt tail ARGS`, reads `count` stdout lines (30 s at most), then sends SIGINT and
/// waits for the exit (10 s at most). Returns the lines and the exit code.
fn tail_until(
    home: &std::path::Path,
    fake: &FakeCloudflare,
    args: &[&str],
    count: usize,
) -> (Vec<String>, Option<i32>) {
    let mut child: Child = molt()
        .current_dir(home)
        .args(["tail", "--dir", "deploy"])
        .args(args)
        .env("CLOUDFLARE_API_BASE_URL", fake.base_url())
        .env("MOLT_CONFIG_DIR", home.join("config"))
        .env("MOLT_SECRET_STORE", "file")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(home.join("tail.stderr")).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut lines = Vec::new();
    while lines.len() < count {
        match receiver.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => lines.push(line),
            Err(_) => break,
        }
    }
    let _ = std::process::Command::new("kill").arg("-INT").arg(child.id().to_string()).status();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("molt tail did not stop within 10 s of SIGINT");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    (lines, code)
}

#[tokio::test(flavor = "multi_thread")]
async fn tail_streams_trace_events_as_json_and_deletes_its_session() {
    let fake = FakeCloudflare::start().await;
    fake.state().tail_events = trace_events();
    let home = tempfile::tempdir().unwrap();
    init(home.path(), &fake);
    fake.clear_requests();
    let (home_path, fake_handle) = (home.path().to_owned(), fake.clone());
    let (lines, code) =
        tokio::task::spawn_blocking(move || tail_until(&home_path, &fake_handle, &["--json"], 2)).await.unwrap();
    let stderr = std::fs::read_to_string(home.path().join("tail.stderr")).unwrap();
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert!(stderr.contains("following `molt`"), "{stderr}");
    let first: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(first, trace_events()[0], "`--json` prints the events as Cloudflare sent them");

    let calls = fake.calls();
    let script = format!("/accounts/{ACCOUNT}/workers/scripts/molt/tails");
    assert_eq!(calls[0], format!("POST {script}"));
    let id = fake.state().tail_filters.len();
    assert_eq!(id, 1);
    let deleted = calls.iter().filter(|call| call.starts_with(&format!("DELETE {script}/"))).count();
    assert_eq!(deleted, 1, "the session is deleted on exit: {calls:?}");
    assert!(fake.state().tails.is_empty());
    let (protocol, first_message) = fake.state().tail_filters[0].clone();
    assert_eq!(protocol.as_deref(), Some("trace-v1"));
    assert_eq!(serde_json::from_str::<Value>(&first_message).unwrap(), json!({"debug": false}));
    let create = fake.requests().into_iter().find(|r| r.method == "POST").unwrap();
    assert_eq!(create.body, json!({"filters": []}));
}

#[tokio::test(flavor = "multi_thread")]
async fn tail_filters_by_status_and_prints_readable_lines_without_colour_when_piped() {
    let fake = FakeCloudflare::start().await;
    fake.state().tail_events = trace_events();
    let home = tempfile::tempdir().unwrap();
    init(home.path(), &fake);
    let (home_path, fake_handle) = (home.path().to_owned(), fake.clone());
    let args = ["--status", "error", "--method", "post"];
    let (lines, code) =
        tokio::task::spawn_blocking(move || tail_until(&home_path, &fake_handle, &args, 3)).await.unwrap();
    assert_eq!(code, Some(0));
    assert_eq!(
        lines,
        [
            "2026-11-29T12:00:00.800Z POST https://molt.ada.workers.dev/channels/telegram/webhook 500 exception",
            "  (warn) starting container {\"port\":18789}",
            "  ✘ Error: container did not start",
        ]
    );
    let create = fake.requests().into_iter().find(|r| r.method == "POST" && r.path.ends_with("/tails")).unwrap();
    let outcomes = json!({"outcome": ["exception", "exceededCpu", "exceededMemory", "unknown"]});
    assert_eq!(create.body, json!({"filters": [outcomes, {"method": ["POST"]}]}));
}

#[test]
fn tail_gateway_prints_the_daemons_own_log_lines() {
    let data = tempfile::tempdir().unwrap();
    let gateway = GatewayProcess::start(&data.path().join("data"), &[("MOLT_LOG_FORMAT", "json")], &[]);
    let token = gateway.banner.split("#token=").nth(1).unwrap().trim().to_owned();
    let url = gateway.ws_url();
    let run = |args: &[&str], token: &str| {
        molt()
            .args(["tail", "--gateway", "--no-follow", "--url", &url])
            .args(args)
            .env("MOLT_GATEWAY_TOKEN", token)
            .output()
            .unwrap()
    };
    let json_output = run(&["--json"], &token);
    assert!(json_output.status.success(), "{}", String::from_utf8_lossy(&json_output.stderr));
    let lines: Vec<Value> =
        String::from_utf8_lossy(&json_output.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let listening = lines.iter().find(|line| line["message"] == "listening").expect("the start-up line is in the ring");
    assert_eq!(listening["level"], "INFO");
    assert!(listening["fields"]["address"].as_str().unwrap().starts_with("127.0.0.1:"));

    let text = run(&[], &token);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.lines().any(|line| line.contains(" INFO ") && line.contains(": listening address=127.0.0.1:")),
        "{stdout}"
    );
    assert!(!stdout.contains("\x1b["), "no colour when piped");

    let refused = run(&[], "wrong-token");
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("AUTH_TOKEN_MISMATCH") && stderr.contains("hint: "), "{stderr}");
}

#[tokio::test]
async fn logs_tail_needs_the_admin_scope_and_is_listed_in_hello() {
    use support::client::{Client, ConnectOptions};
    use support::gateway::{TOKEN as GATEWAY_TOKEN, TestGateway};
    let gateway = TestGateway::start(&[]).await;
    let (mut reader, hello) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(GATEWAY_TOKEN)).await.unwrap();
    let methods = hello["features"]["methods"].as_array().unwrap();
    assert!(methods.iter().any(|method| method == "logs.tail"));
    let refused = reader.request("logs.tail", json!({})).await;
    assert_eq!(refused["error"]["details"]["code"], "MISSING_SCOPE");
    assert_eq!(refused["error"]["details"]["missingScope"], "operator.admin");

    let admin = ConnectOptions::new(GATEWAY_TOKEN).scopes(&["operator.admin"]);
    let (mut operator, _) = Client::connect(&gateway.ws_url(), &admin).await.unwrap();
    let answer = operator.request("logs.tail", json!({"limit": 5})).await;
    assert_eq!(answer["ok"], true, "{answer}");
    assert!(answer["payload"]["lines"].is_array() && answer["payload"]["cursor"].is_u64());
    let bad = operator.request("logs.tail", json!({"cursor": -1})).await;
    assert_eq!(bad["ok"], false);
    gateway.stop().await.unwrap();
}
