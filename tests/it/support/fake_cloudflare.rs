//! A fake of the Cloudflare API v4 on 127.0.0.1, faithful to the wire: the `{success, errors,
//! messages, result}` envelope, bearer-token authentication with the real error codes (1000,
//! 10000, 9106), already-exists conflicts (R2 10004), not-found codes (10006, 10007) and the 7003
//! answer for routes it does not know. It serves what `molt deploy` and wrangler's `r2 bucket
//! list` / `secret put` call, Workers tail sessions (with a `trace-v1` WebSocket sending scripted
//! events), and — under `/telegram` — Telegram's `getWebhookInfo`/`setWebhook`. The server
//! records every request (bodies included) so tests assert on exactly what was sent.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use serde_json::{Value, json};

use super::fake_server::{FakeServer, RecordedRequest, json_response, random_id};

pub const TOKEN: &str = "cf-test-token-0123456789";
pub const ACCOUNT: &str = "0123456789abcdef0123456789abcdef";
pub const R2_GROUP_ID: &str = "2efd5506f9c8494dacb1fa10a3e7d5b6";
pub const TEAM_DOMAIN: &str = "ada.cloudflareaccess.com";

#[derive(Default)]
pub struct FakeState {
    pub buckets: BTreeSet<String>,
    pub subdomain: Option<String>,
    /// Scripts (Workers) and their secrets (name → value).
    pub scripts: BTreeMap<String, BTreeMap<String, String>>,
    pub tokens: Vec<Value>,
    pub apps: Vec<Value>,
    pub policies: BTreeMap<String, Vec<Value>>,
    pub tails: BTreeSet<String>,
    pub telegram_webhook: Option<(String, String)>,
    /// Trace events (JSON) every tail WebSocket sends after the client's filter message.
    pub tail_events: Vec<Value>,
    /// The sub-protocol each tail WebSocket asked for, and the first message it sent.
    pub tail_filters: Vec<(Option<String>, String)>,
    /// `ws://127.0.0.1:PORT`, for the tail sessions' URLs.
    pub tail_base: String,
}

/// A handle on the fake; clones share it, and the server stops when the last one is dropped.
#[derive(Clone)]
pub struct FakeCloudflare {
    pub addr: SocketAddr,
    server: Arc<FakeServer>,
    state: Arc<Mutex<FakeState>>,
}

impl FakeCloudflare {
    pub async fn start() -> FakeCloudflare {
        let bound = FakeServer::bind().await;
        let addr = bound.addr();
        let state = Arc::new(Mutex::new(FakeState { tail_base: format!("ws://{addr}"), ..FakeState::default() }));
        let router = Router::new().route("/tail/{id}", get(tail_socket)).fallback(handle).with_state(state.clone());
        FakeCloudflare { addr, server: Arc::new(bound.serve(router)), state }
    }

    /// The value for `CLOUDFLARE_API_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}/client/v4", self.addr)
    }

    /// The value for `MOLT_TELEGRAM_API_URL`.
    pub fn telegram_url(&self) -> String {
        format!("http://{}/telegram", self.addr)
    }

    pub fn state(&self) -> MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Every request received so far, in order (tail WebSocket upgrades included).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.server.requests()
    }

    /// `METHOD /path` of every request, without the `/client/v4` prefix.
    pub fn calls(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path.strip_prefix("/client/v4").unwrap_or(&r.path)))
            .collect()
    }

    /// Requests that would change something on the account.
    pub fn changes(&self) -> Vec<String> {
        self.calls().into_iter().filter(|call| !call.starts_with("GET ")).collect()
    }

    pub fn clear_requests(&self) {
        self.server.journal().clear();
    }
}

fn envelope(status: u16, result: Value) -> Response {
    json_response(status, &json!({"success": true, "errors": [], "messages": [], "result": result}), &[])
}

fn failure(status: u16, code: u64, message: &str) -> Response {
    let body =
        json!({"success": false, "errors": [{"code": code, "message": message}], "messages": [], "result": null});
    json_response(status, &body, &[])
}

fn now() -> String {
    "2026-11-29T12:00:00.000Z".to_owned()
}

async fn handle(
    State(state): State<Arc<Mutex<FakeState>>>,
    Extension(recorded): Extension<RecordedRequest>,
) -> Response {
    let mut guard = state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(rest) = recorded.path.strip_prefix("/telegram/") {
        return telegram(&mut guard, rest, &recorded.body);
    }
    let Some(path) = recorded.path.strip_prefix("/client/v4") else {
        return failure(404, 7003, "Could not route to the requested path");
    };
    match recorded.header("authorization") {
        None => return failure(400, 9106, "Missing X-Auth-Key, X-Auth-Email or Authorization headers"),
        Some(value) if value != format!("Bearer {TOKEN}") => {
            return if path == "/user/tokens/verify" {
                failure(401, 1000, "Invalid API Token")
            } else {
                failure(403, 10000, "Authentication error")
            };
        }
        Some(_) => {}
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = recorded.method.as_str();
    let body = &recorded.body;
    match (method, segments.as_slice()) {
        ("GET", ["user", "tokens", "verify"]) => {
            envelope(200, json!({"id": "tok-verify-id", "status": "active", "not_before": null, "expires_on": null}))
        }
        ("GET", ["user", "tokens", "permission_groups"]) => envelope(
            200,
            json!([
                {"id": "c8fed203ed3043cba015a93ad1616f1f", "name": "Zone Read", "scopes": ["com.cloudflare.api.account.zone"]},
                {"id": R2_GROUP_ID, "name": "Workers R2 Storage Bucket Item Write", "scopes": ["com.cloudflare.edge.r2.bucket"]},
            ]),
        ),
        ("POST", ["user", "tokens"]) => {
            let id = random_id("", 32).to_ascii_lowercase();
            let token = json!({"id": id, "name": body["name"], "status": "active", "policies": body["policies"], "value": random_id("", 40)});
            guard.tokens.push(token.clone());
            envelope(200, token)
        }
        (_, ["accounts", account, ..]) if *account != ACCOUNT => failure(403, 10000, "Authentication error"),
        (_, ["accounts", _, rest @ ..]) => account_call(&mut guard, method, rest, body),
        _ => failure(404, 7003, &format!("Could not route to {path}, perhaps your object identifier is invalid?")),
    }
}

fn account_call(state: &mut FakeState, method: &str, rest: &[&str], body: &Value) -> Response {
    let bucket_json =
        |name: &str| json!({"name": name, "creation_date": now(), "location": "WEUR", "storage_class": "Standard"});
    match (method, rest) {
        ("GET", []) => {
            envelope(200, json!({"id": ACCOUNT, "name": "Ada's account", "type": "standard", "created_on": now()}))
        }
        ("GET", ["r2", "buckets"]) => {
            let buckets: Vec<Value> = state.buckets.iter().map(|name| bucket_json(name)).collect();
            envelope(200, json!({"buckets": buckets}))
        }
        ("POST", ["r2", "buckets"]) => {
            let Some(name) = body["name"].as_str() else {
                return failure(400, 10005, "The JSON you provided was not well formed.");
            };
            if !state.buckets.insert(name.to_owned()) {
                return failure(409, 10004, "The bucket you tried to create already exists, and you own it.");
            }
            envelope(200, bucket_json(name))
        }
        ("GET", ["r2", "buckets", name]) if state.buckets.contains(*name) => envelope(200, bucket_json(name)),
        ("GET", ["r2", "buckets", _]) => failure(404, 10006, "The specified bucket does not exist."),
        ("GET", ["workers", "subdomain"]) => match &state.subdomain {
            Some(name) => envelope(200, json!({"subdomain": name})),
            None => failure(404, 10007, "This account does not have a workers.dev subdomain."),
        },
        ("PUT", ["workers", "subdomain"]) => {
            let name = body["subdomain"].as_str().unwrap_or_default().to_owned();
            state.subdomain = Some(name.clone());
            envelope(200, json!({"subdomain": name}))
        }
        ("GET", ["access", "apps"]) => envelope(200, Value::Array(state.apps.clone())),
        ("POST", ["access", "apps"]) => {
            let app = json!({
                "id": random_id("app-", 12),
                "uid": random_id("", 12),
                "name": body["name"],
                "domain": body["domain"],
                "destinations": body["destinations"],
                "type": body["type"],
                "aud": random_id("", 64).to_ascii_lowercase(),
                "session_duration": body["session_duration"],
                "created_at": now(),
            });
            state.apps.push(app.clone());
            envelope(201, app)
        }
        ("GET", ["access", "apps", id, "policies"]) => {
            envelope(200, Value::Array(state.policies.get(*id).cloned().unwrap_or_default()))
        }
        ("POST", ["access", "apps", id, "policies"]) => {
            if !state.apps.iter().any(|app| app["id"] == *id) {
                return failure(404, 12130, "access.api.error.not_found");
            }
            let policy = json!({"id": random_id("pol-", 12), "name": body["name"], "decision": body["decision"], "include": body["include"], "precedence": body["precedence"]});
            state.policies.entry((*id).to_owned()).or_default().push(policy.clone());
            envelope(201, policy)
        }
        ("GET", ["access", "organizations"]) => {
            envelope(200, json!({"name": "ada", "auth_domain": TEAM_DOMAIN, "created_at": now()}))
        }
        (_, ["workers", "scripts", script, ..]) if !state.scripts.contains_key(*script) => {
            failure(404, 10007, "This Worker does not exist on your account.")
        }
        ("GET", ["workers", "scripts", script, "secrets"]) => {
            let names: Vec<Value> =
                state.scripts[*script].keys().map(|name| json!({"name": name, "type": "secret_text"})).collect();
            envelope(200, Value::Array(names))
        }
        ("PUT", ["workers", "scripts", script, "secrets"]) => {
            let (Some(name), Some(text)) = (body["name"].as_str(), body["text"].as_str()) else {
                return failure(400, 10021, "secret name and text are required");
            };
            if let Some(secrets) = state.scripts.get_mut(*script) {
                secrets.insert(name.to_owned(), text.to_owned());
            }
            envelope(200, json!({"name": name, "type": "secret_text"}))
        }
        ("POST", ["workers", "scripts", _, "tails"]) => {
            if !body["filters"].is_array() {
                return failure(400, 10021, "tail filters must be an array");
            }
            let id = random_id("", 32).to_ascii_lowercase();
            state.tails.insert(id.clone());
            envelope(
                200,
                json!({"id": id, "url": format!("{}/tail/{id}", state.tail_base), "expires_at": "2026-11-29T18:00:00Z"}),
            )
        }
        ("DELETE", ["workers", "scripts", _, "tails", id]) => {
            if state.tails.remove(*id) {
                envelope(200, Value::Null)
            } else {
                failure(404, 10057, "Tail not found")
            }
        }
        _ => failure(404, 7003, "Could not route to the requested path, perhaps your object identifier is invalid?"),
    }
}

fn telegram(state: &mut FakeState, rest: &str, body: &Value) -> Response {
    let (bot, method) = rest.split_once('/').unwrap_or((rest, ""));
    if !bot.starts_with("bot") || bot.len() < 8 {
        return json_response(404, &json!({"ok": false, "error_code": 404, "description": "Not Found"}), &[]);
    }
    match method {
        "getWebhookInfo" => {
            let url = state.telegram_webhook.as_ref().map(|(url, _)| url.clone()).unwrap_or_default();
            json_response(
                200,
                &json!({"ok": true, "result": {"url": url, "has_custom_certificate": false, "pending_update_count": 0}}),
                &[],
            )
        }
        "setWebhook" => {
            let url = body["url"].as_str().unwrap_or_default().to_owned();
            let secret = body["secret_token"].as_str().unwrap_or_default().to_owned();
            if !url.starts_with("https://") {
                return json_response(
                    400,
                    &json!({"ok": false, "error_code": 400, "description": "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"}),
                    &[],
                );
            }
            state.telegram_webhook = Some((url, secret));
            json_response(200, &json!({"ok": true, "result": true, "description": "Webhook was set"}), &[])
        }
        _ => json_response(404, &json!({"ok": false, "error_code": 404, "description": "Not Found"}), &[]),
    }
}

async fn tail_socket(
    State(state): State<Arc<Mutex<FakeState>>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let known = state.lock().map(|guard| guard.tails.contains(&id)).unwrap_or(false);
    if !known {
        return failure(404, 10057, "Tail not found").into_response();
    }
    let protocol = headers.get("sec-websocket-protocol").and_then(|value| value.to_str().ok()).map(str::to_owned);
    upgrade.protocols(["trace-v1"]).on_upgrade(move |socket| tail_session(state, socket, protocol))
}

async fn tail_session(state: Arc<Mutex<FakeState>>, mut socket: WebSocket, protocol: Option<String>) {
    let first = tokio::time::timeout(std::time::Duration::from_secs(10), socket.recv()).await;
    let first_message = match first {
        Ok(Some(Ok(Message::Text(text)))) => text.to_string(),
        _ => String::new(),
    };
    let events = {
        let mut guard = state.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        guard.tail_filters.push((protocol, first_message));
        guard.tail_events.clone()
    };
    for event in events {
        // Cloudflare sends trace events as binary frames holding JSON.
        if socket.send(Message::Binary(event.to_string().into_bytes().into())).await.is_err() {
            return;
        }
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(30), socket.recv()).await;
}

impl FakeCloudflare {
    /// Makes a Worker exist (as `wrangler deploy` would have).
    pub fn add_script(&self, name: &str) {
        self.state().scripts.entry(name.to_owned()).or_default();
    }
}
