//! The reference MCP servers from npm (installed by `scripts/test.sh` at pinned versions) as the
//! MCP tests and benches start them: over stdio through the gateway's `mcp.json`, or
//! server-everything over Streamable HTTP on a loopback port; and waits on a gateway's view of
//! its servers.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

use super::gateway::TestGateway;

/// Where `scripts/test.sh` installs the servers: `MOLT_MCP_SERVERS_DIR`, else its default.
pub fn servers_dir() -> PathBuf {
    let dir = match std::env::var_os("MOLT_MCP_SERVERS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").expect("HOME is set")).join(".cache/molt/mcp-servers-2026.8.31"),
    };
    let everything = dir.join("node_modules/@modelcontextprotocol/server-everything/dist/index.js");
    assert!(
        everything.exists(),
        "the MCP reference servers are not installed in `{}`: run `scripts/test.sh`, which installs them",
        dir.display()
    );
    dir
}

fn package(name: &str) -> PathBuf {
    servers_dir().join("node_modules/@modelcontextprotocol").join(name)
}

/// `server-everything`'s entry point (`node everything.js [stdio|streamableHttp]`).
pub fn everything() -> String {
    package("server-everything/dist/index.js").display().to_string()
}

/// `server-filesystem`'s entry point (`node filesystem.js DIR…`).
pub fn filesystem() -> String {
    package("server-filesystem/dist/index.js").display().to_string()
}

/// The installed `@modelcontextprotocol/sdk`, for the fixture servers.
pub fn sdk() -> String {
    package("sdk").display().to_string()
}

/// A file of `tests/fixtures/mcp/`.
pub fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mcp").join(name).display().to_string()
}

/// `value` written as `mcp.json` in `dir`; returns its path.
pub fn write_config(dir: &Path, value: &Value) -> PathBuf {
    let path = dir.join("mcp.json");
    std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    path
}

/// The test process's `PATH`, which the gateway hands its stdio servers (`node`, `sh`, `sleep`).
pub fn path() -> String {
    std::env::var("PATH").unwrap_or_default()
}

/// server-everything over Streamable HTTP on a loopback port, stopped on drop.
pub struct HttpEverything {
    child: Child,
    pub port: u16,
}

impl HttpEverything {
    pub async fn start() -> Self {
        Self::start_on(std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()).await
    }

    /// On a given port (again, after an earlier one stopped).
    pub async fn start_on(port: u16) -> Self {
        let child = Command::new("node")
            .args(["--require", &fixture("loopback.cjs"), &everything(), "streamableHttp"])
            .env_clear()
            .env("PATH", path())
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node");
        // Held from here, so a failed start still stops it (on drop).
        let server = Self { child, port };
        for _ in 0..1000 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("server-everything did not listen on 127.0.0.1:{port} within 10 s");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/mcp", self.port)
    }
}

impl Drop for HttpEverything {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `/readyz`'s `mcp` object.
pub async fn servers(gateway: &TestGateway) -> Value {
    gateway.readyz().await.1["mcp"].clone()
}

/// Waits until `check` holds of `/readyz`'s `mcp` object (30 s at most: a server may be
/// restarting after a backoff); returns it.
pub async fn wait_for(gateway: &TestGateway, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..1500 {
        last = servers(gateway).await;
        if check(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{what}: not seen within 30 s; /readyz's mcp: {last}");
}

/// Waits until every server named is `up`.
pub async fn wait_up(gateway: &TestGateway, names: &[&str]) -> Value {
    wait_for(gateway, "servers up", |mcp| names.iter().all(|name| mcp[name]["state"] == "up")).await
}
