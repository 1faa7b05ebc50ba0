//! Starts the real gateway in-process through `serve` on 127.0.0.1:0, with settings resolved
//! from a test's own environment map (built by `GatewayBuilder`, which knows what pointing the
//! gateway at each fake takes), and stops it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use molt::core::settings::{FileConfig, GatewayFlags, Settings};
use tokio_util::sync::CancellationToken;

use super::fake_anthropic::FakeAnthropic;
use super::fake_discord::{self, FakeDiscord};
use super::fake_slack::{self, FakeSlack};
use super::fake_telegram::{self, FakeTelegram};
use super::jwks::FakeAccess;

pub const TOKEN: &str = "test-gateway-token";
/// The Anthropic key a gateway gets for a fake model that takes any key.
pub const MODEL_KEY: &str = "sk-ant-test";

/// A gateway's environment and data directory, gathered before it starts:
/// `TestGateway::builder().model(&fake).telegram(&telegram).env("TELEGRAM_DM_POLICY", "open")`.
/// A variable set twice keeps its last value; `MOLT_GATEWAY_TOKEN` is [`TOKEN`] unless set.
#[derive(Default)]
pub struct GatewayBuilder {
    env: Vec<(String, String)>,
    data_dir: Option<PathBuf>,
}

impl GatewayBuilder {
    pub fn env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.push((name.to_owned(), value.into()));
        self
    }

    pub fn envs(mut self, pairs: &[(&str, &str)]) -> Self {
        self.env.extend(pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())));
        self
    }

    /// The fake Anthropic API as the model provider, with the key it requires (or [`MODEL_KEY`]).
    pub fn model(self, fake: &FakeAnthropic) -> Self {
        let key = fake.key().unwrap_or(MODEL_KEY).to_owned();
        self.env("ANTHROPIC_API_KEY", key).env("ANTHROPIC_BASE_URL", fake.base_url())
    }

    /// The Telegram channel, long-polling the fake Bot API.
    pub fn telegram(self, fake: &FakeTelegram) -> Self {
        self.env("TELEGRAM_BOT_TOKEN", fake_telegram::TOKEN).env("MOLT_TELEGRAM_API_URL", fake.base_url())
    }

    /// The Discord channel, on the fake REST API and gateway.
    pub fn discord(self, fake: &FakeDiscord) -> Self {
        self.env("DISCORD_BOT_TOKEN", fake_discord::TOKEN).env("MOLT_DISCORD_API_URL", fake.api_url())
    }

    /// The Slack channel on the fake Web API: the Events API only, unless Socket Mode's app
    /// token is added with [`GatewayBuilder::slack_socket`].
    pub fn slack(self, fake: &FakeSlack) -> Self {
        self.env("SLACK_BOT_TOKEN", fake_slack::BOT_TOKEN).env("MOLT_SLACK_API_URL", fake.api_url())
    }

    /// The Slack channel in Socket Mode on the fake.
    pub fn slack_socket(self, fake: &FakeSlack) -> Self {
        self.slack(fake).env("SLACK_APP_TOKEN", fake_slack::APP_TOKEN)
    }

    /// Cloudflare Access in front of the admin API, with the fake's keys.
    pub fn access(mut self, fake: &FakeAccess) -> Self {
        self.env.extend(fake.env().into_iter().map(|(name, value)| (name.to_owned(), value)));
        self
    }

    /// A given data directory (for restarts) instead of a fresh temporary one.
    pub fn data_dir(mut self, dir: &Path) -> Self {
        self.data_dir = Some(dir.to_owned());
        self
    }

    /// Starts the gateway and waits until `/readyz` answers 200.
    pub async fn start(self) -> TestGateway {
        let gateway = self.spawn().await;
        gateway.wait_ready().await;
        gateway
    }

    /// Starts the gateway without waiting for it to be ready (a restore may keep it from being).
    pub async fn spawn(self) -> TestGateway {
        let (data_dir, temp) = match self.data_dir {
            Some(dir) => (dir, None),
            None => {
                let temp = tempfile::tempdir().expect("temp dir");
                (temp.path().to_owned(), Some(temp))
            }
        };
        let mut map: HashMap<String, String> = self.env.into_iter().collect();
        map.entry("MOLT_GATEWAY_TOKEN".into()).or_insert_with(|| TOKEN.into());
        let env = move |name: &str| map.get(name).cloned();
        let flags = GatewayFlags { data_dir: Some(data_dir.clone()), port: Some(0), ..GatewayFlags::default() };
        let settings = Settings::resolve(&flags, &env, &FileConfig::default()).expect("settings");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(molt::daemon::serve(settings, listener, shutdown.clone()));
        TestGateway { addr, data_dir, _temp: temp, shutdown, task }
    }
}

pub struct TestGateway {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), molt::daemon::ServeError>>,
}

impl TestGateway {
    pub fn builder() -> GatewayBuilder {
        GatewayBuilder::default()
    }

    /// A gateway on a fresh data directory with `env` as its whole environment (plus the token).
    pub async fn start(env: &[(&str, &str)]) -> Self {
        Self::builder().envs(env).start().await
    }

    /// A gateway on a given data directory (for restarts).
    pub async fn start_in(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::builder().data_dir(data_dir).envs(env).start().await
    }

    /// Starts a gateway without waiting for it to be ready (a restore may keep it from being).
    pub async fn spawn_in(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::builder().data_dir(data_dir).envs(env).spawn().await
    }

    /// `/readyz`'s status code and body.
    pub async fn readyz(&self) -> (u16, serde_json::Value) {
        let response = reqwest::get(self.http_url("/readyz")).await.expect("readyz");
        let status = response.status().as_u16();
        (status, response.json().await.expect("readyz JSON"))
    }

    /// The admin status (gateway token, from loopback): the details `/readyz` keeps private.
    /// `None` while the gateway cannot answer it (before the store is open).
    pub async fn admin_status(&self) -> Option<serde_json::Value> {
        let response =
            reqwest::Client::new().get(self.http_url("/api/admin/status")).bearer_auth(TOKEN).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub fn http_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn wait_ready(&self) {
        let client = reqwest::Client::new();
        // 15 s: a gateway with a bucket restores before it is ready.
        let mut last = String::new();
        for _ in 0..1500 {
            if let Ok(response) = client.get(self.http_url("/readyz")).send().await {
                if response.status() == 200 {
                    return;
                }
                last = response.text().await.unwrap_or_default();
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the gateway did not become ready within 15 s; `/readyz` said {last}");
    }

    /// Stops the gateway as a signal would and waits for `serve` to return.
    pub async fn stop(self) -> Result<(), molt::daemon::ServeError> {
        self.shutdown.cancel();
        let result = tokio::time::timeout(std::time::Duration::from_secs(30), self.task).await;
        result.expect("serve must return within 30 s of shutdown").expect("serve task")
    }
}
