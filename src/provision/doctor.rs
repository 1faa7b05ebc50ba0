//! `molt doctor`'s checks of the whole chain: API token, account, R2 bucket, Access application
//! and AUD, Worker secrets, the Worker's `/healthz` and `/readyz`, each channel, the model
//! provider. Each check says what it saw and, when it fails, the command that fixes it. A check
//! that depends on something this gateway cannot report says so instead of guessing.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::cloudflare::Cloudflare;
use super::deploy::LOCAL_ONLY;
use crate::core::secret::Secret;
use crate::core::settings::{DeploySection, FileConfig};

const HTTP_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Fail,
    /// Not configured, or not something this version can check.
    Skip,
}

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub status: Status,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Check {
    pub(super) fn ok(name: &'static str, detail: impl Into<String>) -> Self {
        Self { name, status: Status::Ok, detail: detail.into(), hint: None }
    }
    pub(super) fn fail(name: &'static str, detail: impl Into<String>, hint: impl Into<String>) -> Self {
        Self { name, status: Status::Fail, detail: detail.into(), hint: Some(hint.into()) }
    }
    fn skip(name: &'static str, detail: impl Into<String>) -> Self {
        Self { name, status: Status::Skip, detail: detail.into(), hint: None }
    }
}

/// What the checks need, resolved by the caller.
pub struct Inputs {
    pub config: FileConfig,
    pub deploy: DeploySection,
    pub cloudflare: Cloudflare,
    pub local: BTreeMap<String, Secret>,
    /// The Worker's base URL; `None` to derive it from the workers.dev subdomain.
    pub worker_url: Option<String>,
    pub anthropic_base_url: String,
    pub openai_base_url: String,
    /// `--dir DIR` as the operator typed it, for hints.
    pub dir: String,
    /// An Access service token (`MOLT_ACCESS_CLIENT_ID`, `MOLT_ACCESS_CLIENT_SECRET`) for the
    /// admin status, when Access guards it.
    pub access: Option<(String, Secret)>,
}

pub async fn run(inputs: &Inputs) -> Vec<Check> {
    let deploy_cmd = format!("molt deploy --dir {}", inputs.dir);
    let cf = &inputs.cloudflare;
    let mut checks = Vec::new();
    let token_ok = match cf.verify_token().await {
        Ok(token) if token.status == "active" => {
            checks.push(Check::ok("token", "active"));
            true
        }
        Ok(token) => {
            checks.push(Check::fail(
                "token",
                format!("status `{}`", token.status),
                "store a new token with `molt init`",
            ));
            false
        }
        Err(error) => {
            checks.push(Check::fail("token", error.to_string(), "store a working token with `molt init`"));
            false
        }
    };
    if !token_ok {
        return checks;
    }
    checks.push(match cf.account().await {
        Ok(name) => Check::ok("account", format!("`{name}` ({})", cf.account_id)),
        Err(error) => Check::fail("account", error.to_string(), "fix the account id with `molt init --account-id ID`"),
    });
    checks.push(match cf.bucket(&inputs.deploy.bucket).await {
        Ok(Some(_)) => Check::ok("bucket", format!("`{}` exists", inputs.deploy.bucket)),
        Ok(None) => Check::fail(
            "bucket",
            format!("`{}` does not exist", inputs.deploy.bucket),
            format!("create it with `{deploy_cmd}`"),
        ),
        Err(error) => Check::fail(
            "bucket",
            error.to_string(),
            "give the token the Workers R2 Storage permission, then `molt doctor`",
        ),
    });
    checks.push(access(inputs, &deploy_cmd).await);
    checks.push(secrets(inputs).await);
    let worker_url = match &inputs.worker_url {
        Some(url) => Some(url.trim_end_matches('/').to_owned()),
        None => cf
            .workers_subdomain()
            .await
            .ok()
            .flatten()
            .map(|sub| format!("https://{}.{sub}.workers.dev", inputs.deploy.worker_name)),
    };
    let (reachable, ready, readiness) = gateway_health(worker_url.as_deref(), &deploy_cmd).await;
    checks.push(reachable);
    checks.push(ready);
    let push_cmd = format!("molt secrets push --dir {}", inputs.dir);
    checks.extend(channels(&inputs.deploy, readiness.as_ref(), &push_cmd));
    checks.extend(super::doctor_mcp::check(readiness.as_ref(), worker_url.as_deref(), inputs).await);
    checks.push(provider(inputs).await);
    checks
}

async fn access(inputs: &Inputs, deploy_cmd: &str) -> Check {
    let Some(_) = &inputs.deploy.access else {
        return Check::skip("access", "not configured: the admin paths are reachable only with the gateway token");
    };
    let name = format!("molt {} admin", inputs.deploy.worker_name);
    match inputs.cloudflare.access_apps().await {
        Ok(apps) => match apps.iter().find(|app| app.name == name) {
            None => Check::fail(
                "access",
                format!("no Access application `{name}`"),
                format!("create it with `{deploy_cmd}`"),
            ),
            Some(app) => match inputs.local.get("CF_ACCESS_AUD") {
                Some(aud) if aud.matches(&app.aud) => Check::ok("access", format!("`{name}`, AUD matches")),
                _ => Check::fail(
                    "access",
                    "the Worker's `CF_ACCESS_AUD` does not match the application",
                    format!("refresh it with `{deploy_cmd}`"),
                ),
            },
        },
        Err(error) => {
            Check::fail("access", error.to_string(), "give the token the Access: Apps and Policies permission")
        }
    }
}

async fn secrets(inputs: &Inputs) -> Check {
    let wanted: Vec<&String> = inputs.local.keys().filter(|name| !LOCAL_ONLY.contains(&name.as_str())).collect();
    match inputs.cloudflare.worker_secrets(&inputs.deploy.worker_name).await {
        Ok(Some(remote)) => {
            let missing: Vec<&str> = wanted
                .iter()
                .filter(|name| !remote.iter().any(|secret| secret.name == ***name))
                .map(|name| name.as_str())
                .collect();
            if missing.is_empty() {
                Check::ok("secrets", format!("{} present on the Worker", wanted.len()))
            } else {
                Check::fail(
                    "secrets",
                    format!("missing on the Worker: {}", missing.join(", ")),
                    format!("push them with `molt secrets push --dir {}`", inputs.dir),
                )
            }
        }
        Ok(None) => Check::fail(
            "secrets",
            format!("the Worker `{}` does not exist", inputs.deploy.worker_name),
            format!("deploy it with `molt deploy --dir {}`", inputs.dir),
        ),
        Err(error) => Check::fail("secrets", error.to_string(), "give the token the Workers Scripts permission"),
    }
}

/// `/healthz` (the Worker and container answer) and `/readyz` (the store is open).
async fn gateway_health(url: Option<&str>, deploy_cmd: &str) -> (Check, Check, Option<Value>) {
    let Some(url) = url else {
        let hint = format!("deploy it with `{deploy_cmd}`");
        return (
            Check::fail("worker", "no workers.dev subdomain, so no URL", hint),
            Check::skip("readyz", "no URL"),
            None,
        );
    };
    let http = reqwest::Client::builder().timeout(HTTP_TIMEOUT).build().unwrap_or_default();
    let reachable = match http.get(format!("{url}/healthz")).send().await {
        Ok(response) if response.status().is_success() => Check::ok("worker", format!("{url}/healthz answers")),
        Ok(response) => Check::fail(
            "worker",
            format!("{url}/healthz answered HTTP {}", response.status().as_u16()),
            "see why with `molt tail`",
        ),
        Err(error) => Check::fail(
            "worker",
            format!("{url}/healthz: {}", error.without_url()),
            format!("deploy with `{deploy_cmd}`, then see `molt tail`"),
        ),
    };
    let (ready, body) = match http.get(format!("{url}/readyz")).send().await {
        Ok(response) => {
            let status = response.status();
            let body: Option<Value> = response.json().await.ok();
            if status.is_success() {
                (Check::ok("readyz", "ready"), body)
            } else {
                let reason = body.as_ref().map(Value::to_string).unwrap_or_default();
                (
                    Check::fail(
                        "readyz",
                        format!("HTTP {}: {reason}", status.as_u16()),
                        "read the gateway's logs with `molt tail --gateway`",
                    ),
                    body,
                )
            }
        }
        Err(error) => (Check::fail("readyz", error.without_url().to_string(), "see why with `molt tail`"), None),
    };
    (reachable, ready, body)
}

/// Channel liveness, from `/readyz` when the gateway reports it; otherwise said plainly.
fn channels(deploy: &DeploySection, readiness: Option<&Value>, push_cmd: &str) -> Vec<Check> {
    let configured = [
        ("telegram", &deploy.channels.telegram),
        ("discord", &deploy.channels.discord),
        ("slack", &deploy.channels.slack),
    ];
    let mut checks = Vec::new();
    for (name, section) in configured {
        if section.is_none() {
            continue;
        }
        let label: &'static str = match name {
            "telegram" => "channel telegram",
            "discord" => "channel discord",
            _ => "channel slack",
        };
        checks.push(channel(label, name, readiness.and_then(|body| body.get("channels")), push_cmd));
    }
    if checks.is_empty() {
        checks.push(Check::skip("channels", "none configured"));
    }
    checks
}

/// One configured channel as `/readyz` reports it (`channels.<name>.connected`, `lastError`).
fn channel(label: &'static str, name: &str, reported: Option<&Value>, push_cmd: &str) -> Check {
    let Some(reported) = reported else {
        return Check::skip(label, "configured; this gateway does not report channel liveness");
    };
    let Some(state) = reported.get(name) else {
        return Check::fail(
            label,
            "configured, but the gateway does not run it: its token did not reach the gateway",
            format!("push the secrets with `{push_cmd}`, then check again with `molt doctor`"),
        );
    };
    let mode = state["mode"].as_str().unwrap_or("unknown mode");
    if state["connected"] == true {
        return Check::ok(label, format!("connected ({mode})"));
    }
    // `/readyz` is public and carries no error texts; the gateway's log and admin page do.
    let why = state["lastError"].as_str().map(|error| format!(": {error}")).unwrap_or_default();
    Check::fail(
        label,
        format!("not connected ({mode}){why}"),
        "read why with `molt tail --gateway`; the channel reconnects by itself once the cause is fixed",
    )
}

/// The model provider answers the operator's key (`GET /v1/models`).
async fn provider(inputs: &Inputs) -> Check {
    let http = reqwest::Client::builder().timeout(HTTP_TIMEOUT).build().unwrap_or_default();
    let provider = inputs.config.model.provider.as_deref().unwrap_or("anthropic");
    let (request, key_name) = match provider {
        "anthropic" => {
            let Some(key) = inputs.local.get("ANTHROPIC_API_KEY") else {
                return Check::fail(
                    "provider",
                    "no local `ANTHROPIC_API_KEY`",
                    "store it with `molt secrets set ANTHROPIC_API_KEY`",
                );
            };
            let url = format!("{}/v1/models", inputs.anthropic_base_url.trim_end_matches('/'));
            (
                http.get(url).header("x-api-key", key.expose()).header("anthropic-version", "2023-06-01"),
                "ANTHROPIC_API_KEY",
            )
        }
        "openai" => {
            let base = inputs.config.model.openai_base_url.clone().unwrap_or_else(|| inputs.openai_base_url.clone());
            let mut request = http.get(format!("{}/models", base.trim_end_matches('/')));
            if let Some(key) = inputs.local.get("OPENAI_API_KEY") {
                request = request.bearer_auth(key.expose());
            }
            (request, "OPENAI_API_KEY")
        }
        other => {
            return Check::skip(
                "provider",
                format!("`{other}`: reached through the gateway; send a message to test it"),
            );
        }
    };
    match request.send().await {
        Ok(response) if response.status().is_success() => {
            Check::ok("provider", format!("`{provider}` accepts the key"))
        }
        Ok(response) if matches!(response.status().as_u16(), 401 | 403) => Check::fail(
            "provider",
            format!("`{provider}` rejected the key (HTTP {})", response.status().as_u16()),
            format!("store a valid key with `molt secrets set {key_name}`, then `molt secrets push`"),
        ),
        Ok(response) => Check::fail(
            "provider",
            format!("`{provider}` answered HTTP {}", response.status().as_u16()),
            "try again later; see the provider's status page",
        ),
        Err(error) => {
            Check::fail("provider", format!("`{provider}` unreachable: {}", error.without_url()), "check the network")
        }
    }
}
