//! `molt doctor` against a deployment made on the fake Cloudflare API, a real gateway standing in
//! for the Worker (its Telegram channel on the fake Bot API), and a fake of Anthropic's
//! `GET /v1/models`: all green, then each failure with the hint that fixes it and exit code 1.

use crate::support;

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use serde_json::{Value, json};
use support::fake_cloudflare::{ACCOUNT, FakeCloudflare, TOKEN};
use support::fake_server::FakeServer;
use support::fake_telegram::FakeTelegram;
use support::gateway::TestGateway;
use support::process::molt;

const KEY: &str = "sk-ant-doctor";

/// Anthropic's model list: 200 for the right `x-api-key`, its 401 error body otherwise.
async fn fake_models() -> FakeServer {
    let router = Router::new().route(
        "/v1/models",
        get(|headers: HeaderMap| async move {
            if headers.get("x-api-key").and_then(|v| v.to_str().ok()) == Some(KEY) {
                (
                    StatusCode::OK,
                    axum::Json(json!({"data": [{"type": "model", "id": "claude-sonnet-4-5"}], "has_more": false})),
                )
            } else {
                let error =
                    json!({"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}});
                (StatusCode::UNAUTHORIZED, axum::Json(error))
            }
        }),
    );
    FakeServer::start(router).await
}

struct Setup {
    fake: FakeCloudflare,
    home: tempfile::TempDir,
    gateway: TestGateway,
    telegram: FakeTelegram,
    models: FakeServer,
}

/// A deployment with Telegram configured, and a gateway whose Telegram channel polls the fake
/// Bot API; `before` prepares the fake before the gateway starts.
async fn setup_with(before: impl FnOnce(&FakeTelegram)) -> Setup {
    let fake = FakeCloudflare::start().await;
    fake.add_script("molt");
    let home = tempfile::tempdir().unwrap();
    let telegram = FakeTelegram::start().await;
    before(&telegram);
    // Polls of one second, so the first answer (and `connected`) comes soon.
    let gateway = TestGateway::builder().telegram(&telegram).env("MOLT_CHANNEL_DEAF_AFTER_SECS", "2").start().await;
    let setup = Setup { fake, home, gateway, telegram, models: fake_models().await };
    let init = [
        "init",
        "--non-interactive",
        "--dir",
        "deploy",
        "--channels",
        "telegram",
        "--access-team-domain",
        "ada.cloudflareaccess.com",
        "--access-emails",
        "ada@example.com",
    ];
    let env = [
        ("CLOUDFLARE_ACCOUNT_ID", ACCOUNT),
        ("CLOUDFLARE_API_TOKEN", TOKEN),
        ("ANTHROPIC_API_KEY", KEY),
        ("TELEGRAM_BOT_TOKEN", "123456:tg-doctor"),
    ];
    assert!(setup.run(&init, &env).await.status.success());
    let deployed = setup.run(&["deploy", "--skip-wrangler", "--dir", "deploy"], &[]).await;
    assert!(deployed.status.success(), "{}", String::from_utf8_lossy(&deployed.stderr));
    setup
}

async fn setup() -> Setup {
    setup_with(|_| {}).await
}

impl Setup {
    /// Waits (bounded) until `/readyz` reports the Telegram channel as `check` wants it.
    async fn wait_for_telegram(&self, what: &str, check: impl Fn(&Value) -> bool) {
        let url = self.gateway.http_url("/readyz");
        for _ in 0..200 {
            let body: Value = reqwest::get(&url).await.unwrap().json().await.unwrap();
            if check(&body["channels"]["telegram"]) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("the telegram channel never became {what}");
    }

    async fn run(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        let mut command = molt();
        command
            .current_dir(self.home.path())
            .args(args)
            .env("CLOUDFLARE_API_BASE_URL", self.fake.base_url())
            .env("MOLT_TELEGRAM_API_URL", self.fake.telegram_url())
            .env("MOLT_CONFIG_DIR", self.home.path().join("config"))
            .env("MOLT_SECRET_STORE", "file")
            .env("ANTHROPIC_BASE_URL", self.models.base_url())
            .envs(env.iter().copied());
        tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap()
    }

    async fn doctor(&self, json: bool) -> std::process::Output {
        let url = self.gateway.http_url("");
        let mut args = vec!["doctor", "--dir", "deploy", "--url", url.as_str()];
        if json {
            args.push("--json");
        }
        self.run(&args, &[]).await
    }
}

fn statuses(output: &std::process::Output) -> Vec<(String, String)> {
    let report: Value = serde_json::from_slice(&output.stdout).expect("doctor --json prints JSON");
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["name"].as_str().unwrap().to_owned(), c["status"].as_str().unwrap().to_owned()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_healthy_deployment_passes_every_check() {
    let setup = setup().await;
    setup.wait_for_telegram("connected", |telegram| telegram["connected"] == true).await;
    let output = setup.doctor(true).await;
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stdout));
    let expected = [
        ("token", "ok"),
        ("account", "ok"),
        ("bucket", "ok"),
        ("access", "ok"),
        ("secrets", "ok"),
        ("worker", "ok"),
        ("readyz", "ok"),
        ("channel telegram", "ok"),
        ("provider", "ok"),
    ];
    let expected: Vec<(String, String)> = expected.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect();
    assert_eq!(statuses(&output), expected);
    let text = setup.doctor(false).await;
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("ok   channel telegram  connected (polling)\n"), "{stdout}");
    assert!(!setup.telegram.calls_of("getUpdates").is_empty(), "the channel really polls the fake");
    setup.gateway.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deaf_channel_fails_with_its_error_and_a_hint() {
    let setup = setup_with(|telegram| telegram.fail("getUpdates", 1000, 502, "Bad Gateway", None)).await;
    setup.wait_for_telegram("deaf", |telegram| telegram["connected"] == false && telegram["mode"] == "polling").await;
    let output = setup.doctor(false).await;
    assert_eq!(output.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().position(|line| line.starts_with("FAIL channel telegram")).expect(&stdout);
    let lines: Vec<&str> = stdout.lines().skip(line).take(2).collect();
    // `/readyz` is public: the state, never the platform's error text (the log has it).
    assert_eq!(lines[0], "FAIL channel telegram  not connected (polling)", "{stdout}");
    assert_eq!(
        lines[1],
        "     hint: read why with `molt tail --gateway`; the channel reconnects by itself once the cause is fixed"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("error: 1 check(s) failed"), "{stderr}");
    setup.gateway.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn each_failure_names_the_command_that_fixes_it() {
    let setup = setup().await;
    setup.fake.state().scripts.get_mut("molt").unwrap().remove("ANTHROPIC_API_KEY");
    setup.fake.state().buckets.clear();
    let broken = setup.run(&["doctor", "--dir", "deploy", "--url", "http://127.0.0.1:9"], &[]).await;
    assert_eq!(broken.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&broken.stdout);
    assert!(
        stdout.contains(
            "FAIL bucket            `molt-data` does not exist\n     hint: create it with `molt deploy --dir deploy`"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("FAIL secrets           missing on the Worker: ANTHROPIC_API_KEY\n     hint: push them with `molt secrets push --dir deploy`"), "{stdout}");
    assert!(stdout.contains("FAIL worker"), "{stdout}");
    let stderr = String::from_utf8_lossy(&broken.stderr);
    assert!(stderr.contains("error: 4 check(s) failed"), "{stderr}");

    let wrong = setup
        .run(
            &["doctor", "--dir", "deploy", "--json", "--url", &setup.gateway.http_url("")],
            &[("CLOUDFLARE_API_TOKEN", "revoked")],
        )
        .await;
    assert_eq!(wrong.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&wrong.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["checks"][0]["name"], "token");
    assert!(report["checks"][0]["detail"].as_str().unwrap().contains("code 1000"));
    assert_eq!(report["checks"][0]["hint"], "store a working token with `molt init`");
    setup.gateway.stop().await.unwrap();
}
