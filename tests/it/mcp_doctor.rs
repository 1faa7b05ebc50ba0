//! `molt doctor` on a gateway with MCP servers: a server that is down fails the `mcp` check with
//! its error and last stderr lines (read from the admin status with the deployment's gateway
//! token), the ones that are up are named with their tool counts.

use crate::support;

use serde_json::{Value, json};
use support::fake_cloudflare::{ACCOUNT, FakeCloudflare, TOKEN};
use support::gateway::TestGateway;
use support::mcp;
use support::process::molt;

struct Deployment {
    fake: FakeCloudflare,
    home: tempfile::TempDir,
}

impl Deployment {
    async fn run(&self, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
        let mut command = molt();
        command
            .current_dir(self.home.path())
            .args(args)
            .env("CLOUDFLARE_API_BASE_URL", self.fake.base_url())
            .env("MOLT_CONFIG_DIR", self.home.path().join("config"))
            .env("MOLT_SECRET_STORE", "file")
            // Nothing answers there: the provider check fails without leaving this machine.
            .env("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
            .envs(env.iter().copied());
        tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn doctor_names_a_down_server_with_its_error_and_stderr() {
    let deployment = Deployment { fake: FakeCloudflare::start().await, home: tempfile::tempdir().unwrap() };
    deployment.fake.add_script("molt");
    let env = [("CLOUDFLARE_ACCOUNT_ID", ACCOUNT), ("CLOUDFLARE_API_TOKEN", TOKEN), ("ANTHROPIC_API_KEY", "sk-ant-x")];
    let init = deployment.run(&["init", "--non-interactive", "--dir", "deploy"], &env).await;
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let token = deployment.run(&["secrets", "get", "MOLTBOT_GATEWAY_TOKEN", "--dir", "deploy"], &[]).await;
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    assert_eq!(token.len(), 64, "the deployment's gateway token");

    let dir = tempfile::tempdir().unwrap();
    let config = mcp::write_config(
        dir.path(),
        &json!({"mcpServers": {
            "good": {"command": "node", "args": [mcp::everything()]},
            "broken": {"command": "sh", "args": ["-c", "echo 'cannot open the database' >&2; exit 1"]},
        }}),
    );
    let gateway = TestGateway::builder()
        .env("MOLT_GATEWAY_TOKEN", token)
        .env("MOLT_MCP_CONFIG", config.display().to_string())
        .env("PATH", mcp::path())
        .start()
        .await;
    mcp::wait_for(&gateway, "good up, broken down", |mcp| {
        mcp["good"]["state"] == "up" && mcp["broken"]["state"] == "down"
    })
    .await;

    let url = gateway.http_url("");
    let output = deployment.run(&["doctor", "--dir", "deploy", "--url", &url, "--json"], &[]).await;
    assert_eq!(output.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&output.stdout).expect("doctor --json prints JSON");
    let check = report["checks"].as_array().unwrap().iter().find(|check| check["name"] == "mcp").expect("an mcp check");
    assert_eq!(check["status"], "fail");
    let detail = check["detail"].as_str().unwrap();
    assert!(detail.starts_with("`broken` down: "), "{detail}");
    assert!(detail.contains("\n       stderr: cannot open the database"), "{detail}");
    assert!(detail.contains("up: good ("), "{detail}");
    assert!(check["hint"].as_str().unwrap().contains("mcp.json"), "{check}");
    gateway.stop().await.unwrap();
}
