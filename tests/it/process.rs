//! The `molt gateway` binary as an operator runs it: first start, restart, SIGTERM during a
//! streamed reply, `--print-config`, JSON logs, and a data directory it cannot use.

use crate::support;

use std::time::Duration;

use serde_json::json;
use support::client::{Client, ConnectOptions};
use support::fake_anthropic::{FakeAnthropic, Reply};
use support::process::{GatewayProcess, molt};

fn token(data_dir: &std::path::Path) -> String {
    std::fs::read_to_string(data_dir.join("gateway-token")).unwrap().trim().to_owned()
}

#[tokio::test]
async fn first_start_prints_the_url_with_the_token_once_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut first = GatewayProcess::start(&data, &[("MOLT_LOG_FORMAT", "json"), ("RUST_LOG", "trace")], &[]);
    let token = token(&data);
    assert_eq!(token.len(), 64);
    assert_eq!(first.banner.trim(), format!("molt gateway is running: open http://{}/#token={token}", first.addr));
    let ready = reqwest::get(format!("http://{}/readyz", first.addr)).await.unwrap();
    assert_eq!(ready.status(), 200);
    // Old `/?token=` links, right and wrong, and the fragment's exchange leave no trace in the log.
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    for query in [token.as_str(), "wrong-guess-in-the-url"] {
        let old = client.get(format!("http://{}/?token={query}", first.addr)).send().await.unwrap();
        assert_eq!(old.status(), 303);
    }
    let exchange = client
        .post(format!("http://{}/auth/token", first.addr))
        .json(&json!({"token": "wrong-guess-in-the-body"}))
        .send()
        .await
        .unwrap();
    assert_eq!(exchange.status(), 401);
    first.signal("TERM");
    assert!(first.wait_exit(Duration::from_secs(15)).0.success());
    let logs = first.stderr();
    assert!(!logs.contains(&token), "the token is never logged");
    assert!(!logs.contains("wrong-guess"), "nor a guess at it: {logs}");
    for line in logs.lines() {
        let parsed: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|_| panic!("not a JSON log line: {line}"));
        assert!(parsed["level"].is_string() && parsed["fields"].is_object(), "{line}");
    }

    let second = GatewayProcess::start(&data, &[], &[]);
    assert!(!second.banner.contains(&token), "printed once, on first start: {}", second.banner);
    assert!(second.banner.contains("gateway-token"));
    let (_, hello) = Client::connect(&second.ws_url(), &ConnectOptions::new(&token)).await.unwrap();
    assert_eq!(hello["type"], "hello-ok", "the same token still works after a restart");
}

#[tokio::test]
async fn a_conversation_survives_a_restart() {
    let fake = FakeAnthropic::start().await;
    let url = fake.base_url();
    let env = [("ANTHROPIC_API_KEY", "k"), ("ANTHROPIC_BASE_URL", url.as_str()), ("MOLT_GATEWAY_TOKEN", "tok")];
    let dir = tempfile::tempdir().unwrap();
    let mut gateway = GatewayProcess::start(dir.path(), &env, &[]);
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new("tok")).await.unwrap();
    let ack =
        client.call("chat.send", json!({"sessionKey": "main", "message": "remember me", "idempotencyKey": "r1"})).await;
    client.chat_run(ack["runId"].as_str().unwrap()).await;
    gateway.signal("TERM");
    assert!(gateway.wait_exit(Duration::from_secs(15)).0.success());

    let gateway = GatewayProcess::start(dir.path(), &env, &[]);
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new("tok")).await.unwrap();
    let history = client.call("chat.history", json!({"sessionKey": "main"})).await;
    let texts: Vec<&str> =
        history["messages"].as_array().unwrap().iter().map(|m| m["content"][0]["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["remember me", "You said: remember me"]);
}

#[tokio::test]
async fn sigterm_during_a_streamed_reply_exits_in_bound_and_keeps_what_was_acknowledged() {
    let fake = FakeAnthropic::start().await;
    let chunks: Vec<String> = (0..400).map(|i| format!("w{i} ")).collect();
    fake.push(Reply::Slow { chunks, delay_ms: 25 });
    let url = fake.base_url();
    let env = [
        ("ANTHROPIC_API_KEY", "k"),
        ("ANTHROPIC_BASE_URL", url.as_str()),
        ("MOLT_GATEWAY_TOKEN", "tok"),
        ("MOLT_SHUTDOWN_GRACE_SECS", "1"),
    ];
    let dir = tempfile::tempdir().unwrap();
    let mut gateway = GatewayProcess::start(dir.path(), &env, &[]);
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new("tok")).await.unwrap();
    let mut acknowledged = Vec::new();
    for i in 0..3 {
        let key = format!("agent:main:s{i}");
        let ack = client
            .call(
                "chat.send",
                json!({"sessionKey": key, "message": format!("message {i}"), "idempotencyKey": format!("k{i}")}),
            )
            .await;
        acknowledged.push((key, format!("message {i}"), ack["runId"].as_str().unwrap().to_owned()));
    }
    let first_delta = client.event("chat").await;
    assert_eq!(first_delta["payload"]["state"], "delta");
    gateway.signal("TERM");
    let mut terminal = Vec::new();
    while let Some(frame) = client.recv_json().await {
        if frame["event"] == "chat" && frame["payload"]["state"] != "delta" {
            terminal.push(frame["payload"]["state"].clone());
        }
    }
    let (status, _) = gateway.wait_exit(Duration::from_secs(15));
    assert!(status.success(), "clean exit: {}", gateway.stderr());
    assert!(terminal.contains(&json!("aborted")), "the streaming run was aborted and the client told: {terminal:?}");

    let store = molt::daemon::store::Store::open(dir.path()).unwrap();
    let mut aborted = 0;
    for (key, text, run_id) in acknowledged {
        let history = store.history(&molt::core::ids::SessionKey::parse(&key).unwrap(), 10).await.unwrap();
        assert_eq!(
            history.first().map(|m| (m.content.as_str(), m.run_id.as_str())),
            Some((text.as_str(), run_id.as_str())),
            "acknowledged message in {key}"
        );
        aborted +=
            history.iter().filter(|m| m.stop_reason.as_deref() == Some("aborted") && !m.content.is_empty()).count();
    }
    // Whichever turn drew the slow reply was cut short; its partial text is kept.
    assert_eq!(aborted, 1, "the partial reply is kept");
}

#[test]
fn print_config_shows_sources_and_redacts_secrets() {
    let output = molt()
        .args(["gateway", "--print-config", "--port", "9999"])
        .env("ANTHROPIC_API_KEY", "sk-ant-secret-value")
        .env("MOLTBOT_GATEWAY_TOKEN", "gateway-secret-value")
        .env("MOLT_DATA_DIR", "/srv/molt")
        .env("MOLT_PROXY_SECRET", "proxy-secret-value")
        .env("MOLT_ALLOWED_ORIGINS", "https://chat.example.com")
        .env("MOLT_TRUSTED_PROXIES", "127.0.0.1,10.0.0.0/8")
        .output()
        .unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(!text.contains("secret-value"), "{text}");
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no `{name}` in:\n{text}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert_eq!(line("port"), "port 9999 (flag --port)");
    assert_eq!(line("data_dir"), "data_dir /srv/molt (env MOLT_DATA_DIR)");
    assert_eq!(line("gateway_token"), "gateway_token [redacted] (env MOLTBOT_GATEWAY_TOKEN)");
    assert_eq!(line("anthropic_api_key"), "anthropic_api_key [redacted] (env ANTHROPIC_API_KEY)");
    assert_eq!(line("bind"), "bind 127.0.0.1 (default)");
    assert_eq!(line("proxy_secret"), "proxy_secret [redacted] (env MOLT_PROXY_SECRET)");
    assert_eq!(line("allowed_origins"), "allowed_origins https://chat.example.com (env MOLT_ALLOWED_ORIGINS)");
    assert_eq!(line("trusted_proxies"), "trusted_proxies 127.0.0.1/32,10.0.0.0/8 (env MOLT_TRUSTED_PROXIES)");
}

#[test]
fn an_unusable_data_directory_exits_1_with_a_hint() {
    let output = molt().args(["gateway", "--port", "0", "--data-dir", "/proc/molt-cannot-be-here"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.starts_with("error: cannot create the data directory `/proc/molt-cannot-be-here`"), "{stderr}");
    assert!(stderr.contains("\nhint: choose a writable directory with `molt gateway --data-dir DIR`"), "{stderr}");
}

#[test]
fn a_bad_setting_exits_1_naming_the_variable() {
    let output = molt().args(["gateway"]).env("MOLT_PORT", "eighty").output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.starts_with("error: `MOLT_PORT` has an invalid value `eighty`"), "{stderr}");
    assert!(stderr.contains("hint: "), "{stderr}");
}

#[test]
fn a_port_in_use_exits_1_with_a_hint() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let output = molt().args(["gateway", "--port", &port, "--data-dir"]).arg(dir.path()).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("hint: pick another port with `molt gateway --port PORT`"), "{stderr}");
}
