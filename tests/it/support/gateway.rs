//! Starts the real gateway in-process through `serve` on 127.0.0.1:0, with settings resolved
//! from a test's own environment map, and stops it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use molt::core::settings::{FileConfig, GatewayFlags, Settings};
use tokio_util::sync::CancellationToken;

pub const TOKEN: &str = "test-gateway-token";

pub struct TestGateway {
    pub addr: SocketAddr,
    pub data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    shutdown: CancellationToken,
    task: tokio::task::JoinHandle<Result<(), molt::daemon::ServeError>>,
}

impl TestGateway {
    /// A gateway on a fresh data directory with `env` as its whole environment (plus the token).
    pub async fn start(env: &[(&str, &str)]) -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let dir = temp.path().to_owned();
        let mut gateway = Self::start_in(&dir, env).await;
        gateway._temp = Some(temp);
        gateway
    }

    /// A gateway on a given data directory (for restarts).
    pub async fn start_in(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let gateway = Self::spawn_in(data_dir, env).await;
        gateway.wait_ready().await;
        gateway
    }

    /// Starts a gateway without waiting for it to be ready (a restore may keep it from being).
    pub async fn spawn_in(data_dir: &Path, env: &[(&str, &str)]) -> Self {
        let mut map: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        map.entry("MOLT_GATEWAY_TOKEN".into()).or_insert_with(|| TOKEN.into());
        let env = move |name: &str| map.get(name).cloned();
        let flags = GatewayFlags { data_dir: Some(data_dir.to_owned()), port: Some(0), ..GatewayFlags::default() };
        let settings = Settings::resolve(&flags, &env, &FileConfig::default()).expect("settings");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(molt::daemon::serve(settings, listener, shutdown.clone()));
        Self { addr, data_dir: data_dir.to_owned(), _temp: None, shutdown, task }
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
        for _ in 0..1500 {
            if let Ok(response) = client.get(self.http_url("/readyz")).send().await
                && response.status() == 200
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the gateway did not become ready within 15 s");
    }

    /// Stops the gateway as a signal would and waits for `serve` to return.
    pub async fn stop(self) -> Result<(), molt::daemon::ServeError> {
        self.shutdown.cancel();
        let result = tokio::time::timeout(std::time::Duration::from_secs(30), self.task).await;
        result.expect("serve must return within 30 s of shutdown").expect("serve task")
    }
}
