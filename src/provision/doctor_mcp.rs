//! `molt doctor`'s check of the gateway's MCP servers: their states from `/readyz` (public, so
//! no reasons there), and, when the admin status answers (the gateway token, plus an Access
//! service token when Access guards the admin paths), why each one that is not up failed and
//! its last stderr lines.

use std::time::Duration;

use serde_json::Value;

use super::doctor::{Check, Inputs};

const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Lines of a failing server's stderr shown, its last ones.
const STDERR_SHOWN: usize = 5;
const HINT: &str = "fix the server's entry in `mcp.json` or what it needs; the gateway restarts it by itself \
                    (its errors and stderr: `GET /api/admin/status`, `mcp.servers`)";

/// The check, when the gateway reports MCP servers.
pub async fn check(readiness: Option<&Value>, worker_url: Option<&str>, inputs: &Inputs) -> Option<Check> {
    let servers = readiness?.get("mcp")?.as_object()?;
    let mut up = Vec::new();
    let mut failing = Vec::new();
    for (name, state) in servers {
        match state["state"].as_str().unwrap_or("unknown") {
            "up" => up.push(format!("{name} ({} tools)", state["tools"])),
            "disabled" => {}
            other => failing.push((name.clone(), other.to_owned())),
        }
    }
    if failing.is_empty() {
        let detail = if up.is_empty() { "every server disabled".to_owned() } else { format!("up: {}", up.join(", ")) };
        return Some(Check::ok("mcp", detail));
    }
    let details = match worker_url {
        Some(url) => admin_servers(url, inputs).await,
        None => None,
    };
    let mut lines = Vec::new();
    for (name, state) in &failing {
        let mut line = format!("`{name}` {state}");
        match details.as_ref().and_then(|servers| servers.get(name)) {
            Some(server) => {
                if let Some(error) = server["lastError"].as_str() {
                    line.push_str(&format!(": {error}"));
                }
                let stderr: Vec<&str> =
                    server["stderr"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                for stderr_line in &stderr[stderr.len().saturating_sub(STDERR_SHOWN)..] {
                    line.push_str(&format!("\n       stderr: {stderr_line}"));
                }
            }
            None if details.is_none() => line.push_str("; why is in the admin status, which did not answer"),
            None => {}
        }
        lines.push(line);
    }
    if !up.is_empty() {
        lines.push(format!("up: {}", up.join(", ")));
    }
    Some(Check::fail("mcp", lines.join("\n     "), HINT))
}

/// The admin status's `mcp.servers`, when it answers.
async fn admin_servers(url: &str, inputs: &Inputs) -> Option<serde_json::Map<String, Value>> {
    let http = reqwest::Client::builder().timeout(HTTP_TIMEOUT).build().ok()?;
    let mut request = http.get(format!("{url}/api/admin/status"));
    if let Some(token) = inputs.local.get("MOLTBOT_GATEWAY_TOKEN") {
        request = request.bearer_auth(token.expose());
    }
    if let Some((id, secret)) = &inputs.access {
        request = request.header("CF-Access-Client-Id", id).header("CF-Access-Client-Secret", secret.expose());
    }
    let response = request.send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    let body: Value = response.json().await.ok()?;
    body["mcp"]["servers"].as_object().cloned()
}
