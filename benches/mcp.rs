//! The cost of MCP servers on molt's side, with the reference servers `scripts/test.sh`
//! installs. First, a stdio tool call: molt's registry call in-process (the registry's lookup,
//! rmcp's request and response over the child's pipes, the result mapped to a tool output)
//! against the same call made by a bare line-by-line JSON-RPC client to a second instance of the
//! same server, interleaved; the difference is molt's share. Then the real `molt` binary with
//! three servers connected (server-everything over stdio and over Streamable HTTP,
//! server-filesystem over stdio): molt's own RSS (not the servers'), before and after N turns
//! whose model calls an MCP tool.
//! Run: `cargo bench --bench mcp -- [--calls 2000] [--turns 200]`.

#[path = "../tests/it/support/mod.rs"]
mod support;

#[path = "measure/mod.rs"]
mod measure;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use measure::{Proc, mib, ms, percentile, summary};
use molt::core::asker::{Asker, MemoryScope, Rights};
use molt::core::ids::SessionKey;
use molt::core::settings::{FileConfig, GatewayFlags, Settings};
use molt::daemon::agent::tools::{Registry, ToolContext};
use molt::daemon::mcp::Mcp;
use molt::daemon::store::Store;
use serde_json::{Value, json};
use support::client::{Client, ConnectOptions};
use support::fake_anthropic::{FakeAnthropic, Reply, ToolCall};
use support::mcp;
use support::process::GatewayProcess;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime");
    runtime.block_on(async {
        call_overhead(measure::flag("--calls", 2000)).await;
        rss_with_three_servers(measure::flag("--turns", 200)).await;
    });
    println!("load average: {}", std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim());
}

/// A bare JSON-RPC client of one stdio server: a line out, lines in until the answer.
struct Bare {
    _child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: BufReader<tokio::process::ChildStdout>,
    next: u64,
}

impl Bare {
    async fn start() -> Self {
        let mut child = tokio::process::Command::new("node")
            .args([mcp::everything(), "stdio".to_owned()])
            .env_clear()
            .env("PATH", mcp::path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start node");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut bare = Self { _child: child, stdin, stdout, next: 0 };
        let hello = json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bare", "version": "1"}});
        bare.request("initialize", hello).await;
        bare.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"})).await;
        bare
    }

    async fn send(&mut self, message: &Value) {
        let mut line = serde_json::to_vec(message).expect("json");
        line.push(b'\n');
        self.stdin.write_all(&line).await.expect("write");
    }

    async fn request(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})).await;
        let mut line = String::new();
        loop {
            line.clear();
            assert!(self.stdout.read_line(&mut line).await.expect("read") > 0, "the server ended");
            let message: Value = serde_json::from_str(&line).expect("a JSON line");
            if message["id"] == id {
                return message;
            }
        }
    }
}

async fn call_overhead(calls: usize) {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = mcp::write_config(
        dir.path(),
        &json!({"mcpServers": {"everything": {"command": "node", "args": [mcp::everything(), "stdio"]}}}),
    );
    let env: HashMap<&str, String> =
        [("MOLT_MCP_CONFIG", config.display().to_string()), ("PATH", mcp::path())].into_iter().collect();
    let lookup = |name: &str| env.get(name).cloned();
    let flags = GatewayFlags { data_dir: Some(dir.path().to_owned()), ..GatewayFlags::default() };
    let settings = Settings::resolve(&flags, &lookup, &FileConfig::default()).expect("settings");
    let servers = Mcp::new(&settings);
    let mut registry = Registry::empty();
    registry.add_source(servers.tools());
    servers.start();
    for _ in 0..1000 {
        if servers.public_status().values().all(|status| status.tools > 0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let store = Store::open(dir.path()).expect("store");
    let context = ToolContext {
        workspace: dir.path().to_owned(),
        store,
        session_key: SessionKey::main(),
        asker: Asker::Operator,
        scope: MemoryScope::Shared,
    };
    let mut bare = Bare::start().await;
    let input = json!({"message": "the quick brown fox"});
    let (mut molt, mut direct) = (Vec::with_capacity(calls), Vec::with_capacity(calls));
    for round in 0..calls + 200 {
        let started = Instant::now();
        let tool = registry.permitted("mcp__everything__echo", Rights::Operator).expect("the echo tool");
        let output = tool.call_output(input.clone(), &context).await.expect("echo answers");
        let through_molt = started.elapsed();
        assert_eq!(output.text, "Echo: the quick brown fox");
        let started = Instant::now();
        let answer = bare.request("tools/call", json!({"name": "echo", "arguments": input})).await;
        let through_bare = started.elapsed();
        assert_eq!(answer["result"]["content"][0]["text"], "Echo: the quick brown fox");
        // The first 200 warm both servers' JIT and molt's connection up.
        if round >= 200 {
            molt.push(ms(through_molt));
            direct.push(ms(through_bare));
        }
    }
    servers.stop().await;
    let molt_summary = summary(&mut molt);
    let bare_summary = summary(&mut direct);
    println!("stdio tool call (echo), {calls} calls each, interleaved:");
    println!("  through molt's registry and rmcp: {molt_summary}");
    println!("  bare JSON-RPC client, same server: {bare_summary}");
    println!(
        "  molt's share (difference of the percentiles): p50 {:.3} ms, p99 {:.3} ms",
        percentile(&molt, 0.5) - percentile(&direct, 0.5),
        percentile(&molt, 0.99) - percentile(&direct, 0.99)
    );
}

async fn rss_with_three_servers(turns: usize) {
    let http = mcp::HttpEverything::start().await;
    let model = FakeAnthropic::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let shared = dir.path().join("shared");
    std::fs::create_dir_all(&shared).expect("shared folder");
    let config = mcp::write_config(
        dir.path(),
        &json!({"mcpServers": {
            "everything": {"command": "node", "args": [mcp::everything(), "stdio"]},
            "files": {"command": "node", "args": [mcp::filesystem(), shared]},
            "remote": {"type": "http", "url": http.url()},
        }}),
    );
    let model_url = model.base_url();
    let config_path = config.display().to_string();
    let start = |data: std::path::PathBuf, with_mcp: bool| {
        let (model_url, config_path) = (model_url.clone(), config_path.clone());
        tokio::task::spawn_blocking(move || {
            let mut env = vec![
                ("MOLT_GATEWAY_TOKEN", "t"),
                ("ANTHROPIC_API_KEY", "k"),
                ("ANTHROPIC_BASE_URL", model_url.as_str()),
            ];
            if with_mcp {
                env.push(("MOLT_MCP_CONFIG", config_path.as_str()));
            }
            GatewayProcess::start(&data, &env, &[])
        })
    };
    let plain = start(dir.path().join("plain"), false).await.expect("gateway");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let plain_rss = Proc::new(plain.child.id()).rss_kib();
    drop(plain);

    let gateway = start(dir.path().join("data"), true).await.expect("gateway");
    let readyz = format!("http://{}/readyz", gateway.addr);
    let started = Instant::now();
    loop {
        let body: Value = reqwest::get(&readyz).await.expect("readyz").json().await.expect("readyz JSON");
        if ["everything", "files", "remote"].iter().all(|name| body["mcp"][name]["state"] == "up") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "servers not up: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let molt = Proc::new(gateway.child.id());
    let connected_rss = molt.rss_kib();
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new("t")).await.expect("connect");
    for turn in 0..turns {
        model.push(Reply::Tools {
            text: String::new(),
            calls: vec![ToolCall::new("mcp__everything__echo", &json!({"message": format!("turn {turn}")}))],
        });
        model.push(Reply::text("ok"));
        let ack = client
            .call("chat.send", json!({"sessionKey": format!("bench-{}", turn % 20), "message": format!("turn {turn}"), "idempotencyKey": format!("k{turn}")}))
            .await;
        let events = client.chat_run(ack["runId"].as_str().expect("run id")).await;
        assert_eq!(events.last().map(|event| event["state"].clone()), Some(json!("final")), "turn {turn}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    println!(
        "molt's RSS: {:.1} MiB without MCP; {:.1} MiB with three servers connected; {:.1} MiB after {turns} turns calling an MCP tool (peak {:.1} MiB)",
        mib(plain_rss),
        mib(connected_rss),
        mib(molt.rss_kib()),
        mib(molt.peak_kib())
    );
    client.close().await;
    drop(gateway);
}
