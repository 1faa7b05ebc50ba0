//! The methods molt serves after the handshake, each with the scope it needs.

use serde_json::{Map, Value, json};

use super::MAX_PAYLOAD;
use super::follow::Follows;
use super::handshake::Authorized;
use super::pairing_methods;
use crate::core::frames::{ErrorShape, PROTOCOL_VERSION, Request};
use crate::core::ids::{MAIN_SESSION, RunId, SessionKey};
use crate::core::scopes::Scope;
use crate::core::time::now_ms;
use crate::daemon::state::{Core, Gateway, Readiness};
use crate::daemon::store::StoredMessage;

/// Every method and the scope it requires.
pub const METHODS: &[(&str, Scope)] = &[
    ("health", Scope::Read),
    ("status", Scope::Read),
    ("chat.send", Scope::Write),
    ("chat.history", Scope::Read),
    ("chat.abort", Scope::Write),
    ("sessions.list", Scope::Read),
    ("sessions.subscribe", Scope::Read),
    ("sessions.unsubscribe", Scope::Read),
    ("sessions.messages.subscribe", Scope::Read),
    ("sessions.messages.unsubscribe", Scope::Read),
    ("sessions.reset", Scope::Write),
    ("sessions.delete", Scope::Write),
    ("models.list", Scope::Read),
    ("channels.status", Scope::Read),
    ("device.pair.list", Scope::Pairing),
    ("device.pair.approve", Scope::Pairing),
    ("device.pair.reject", Scope::Pairing),
    ("device.pair.remove", Scope::Pairing),
    ("device.token.rotate", Scope::Pairing),
    ("device.token.revoke", Scope::Pairing),
    ("pairing.code.list", Scope::Pairing),
    ("pairing.code.approve", Scope::Pairing),
    ("pairing.code.reject", Scope::Pairing),
    ("logs.tail", Scope::Admin),
];

pub const EVENTS: &[&str] = &[
    "connect.challenge",
    "tick",
    "chat",
    "sessions.changed",
    "shutdown",
    "device.pair.pending",
    "device.pair.requested",
    "device.pair.resolved",
    "device.pair.changed",
    "device.presence",
    "pairing.code.requested",
    "pairing.code.resolved",
    "policies.changed",
];

const DEFAULT_HISTORY: usize = 200;
const MAX_HISTORY: usize = 1000;

pub async fn dispatch(
    gateway: &Gateway,
    client: &Authorized,
    address: &str,
    follows: &mut Follows,
    request: Request,
) -> Result<Value, ErrorShape> {
    let Some(&(_, scope)) = METHODS.iter().find(|(name, _)| *name == request.method) else {
        return Err(ErrorShape::invalid(format!("unknown method: {}", request.method)));
    };
    if !client.grants.allows(scope) {
        return Err(ErrorShape::missing_scope(scope.as_str()));
    }
    let params = request.params_object()?;
    match request.method.as_str() {
        "health" => Ok(health(gateway).await),
        "status" => Ok(status(gateway).await),
        "logs.tail" => crate::daemon::logs::tail(params),
        "channels.status" => Ok(json!({"channels": gateway.channels.status()})),
        "sessions.subscribe" | "sessions.unsubscribe" => {
            follows.session_list = request.method == "sessions.subscribe";
            Ok(json!({"ok": true, "subscribed": follows.session_list}))
        }
        "sessions.messages.subscribe" | "sessions.messages.unsubscribe" => {
            let key = session_param(params, &request.method)?;
            let subscribe = request.method == "sessions.messages.subscribe";
            if subscribe {
                follows.follow(&gateway.events, &key);
            } else {
                follows.unfollow(&key);
            }
            Ok(json!({"ok": true, "key": key, "subscribed": subscribe}))
        }
        method => {
            let core = gateway
                .core()
                .ok_or_else(|| ErrorShape::unavailable("the gateway is still starting; retry shortly"))?;
            match method {
                // A client follows the sessions it sends to or reads, from before the run starts
                // or the history is read, so no event falls between.
                "chat.send" => {
                    follows.follow(&gateway.events, &session_key(params, "sessionKey", method)?);
                    chat_send(core, params).await
                }
                "chat.history" => {
                    follows.follow(&gateway.events, &session_key(params, "sessionKey", method)?);
                    chat_history(core, params).await
                }
                "chat.abort" => chat_abort(core, params),
                "sessions.list" => sessions_list(core).await,
                "sessions.reset" => sessions_reset(gateway, core, params).await,
                "sessions.delete" => sessions_delete(gateway, core, params).await,
                "models.list" => Ok(models_list(core)),
                method if pairing_methods::METHODS.contains(&method) => {
                    pairing_methods::dispatch(&core.pairing, client, address, method, params).await
                }
                _ => Err(ErrorShape::invalid(format!("unknown method: {method}"))),
            }
        }
    }
}

/// The `hello-ok` payload.
pub async fn hello(gateway: &Gateway, client: &Authorized, conn_id: &str) -> Value {
    json!({
        "type": "hello-ok",
        "protocol": client.protocol,
        "server": {"version": crate::VERSION, "connId": conn_id, "bootId": gateway.boot_id},
        "features": {
            "methods": METHODS.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
            "events": EVENTS,
        },
        "snapshot": {
            "health": health(gateway).await,
            "uptimeMs": uptime_ms(gateway),
            "sessionDefaults": {"defaultAgentId": "main", "mainKey": "main", "mainSessionKey": MAIN_SESSION},
        },
        "auth": auth_payload(client),
        "policy": {
            "maxPayload": MAX_PAYLOAD,
            "maxBufferedBytes": gateway.settings.max_buffered_bytes,
            "tickIntervalMs": u64::try_from(gateway.settings.tick_interval.as_millis()).unwrap_or(u64::MAX),
        },
        "protocolVersion": PROTOCOL_VERSION,
    })
}

fn auth_payload(client: &Authorized) -> Value {
    let mut auth = json!({"method": client.auth_method, "role": client.role, "scopes": client.grants.names()});
    if let Some((token, expires)) = &client.issued_token {
        auth["deviceToken"] = json!(token.expose());
        auth["deviceTokenExpiresAtMs"] = json!(expires);
    }
    auth
}

fn uptime_ms(gateway: &Gateway) -> u64 {
    u64::try_from(gateway.started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn provider_state(gateway: &Gateway) -> Value {
    let model = &gateway.settings.model;
    match &model.provider {
        Some(provider) => {
            json!({"configured": true, "name": provider.name, "model": model.model, "fallbacks": model.fallbacks})
        }
        None => json!({"configured": false, "hint": crate::core::settings::NO_PROVIDER_HINT}),
    }
}

async fn health(gateway: &Gateway) -> Value {
    let readiness = gateway.readiness.borrow().clone();
    let replication = gateway.replication.status();
    json!({
        "ok": readiness == Readiness::Ready,
        "ts": now_ms(),
        "store": readiness,
        "provider": provider_state(gateway),
        "channels": {},
        "uptimeMs": uptime_ms(gateway),
        "replication": {"phase": replication.phase, "degraded": replication.degraded},
    })
}

async fn status(gateway: &Gateway) -> Value {
    let (store, active_runs) = match gateway.core() {
        Some(core) => {
            let messages = core.store.message_count().await.ok();
            (json!({"ready": true, "path": core.store.path(), "messages": messages}), core.agent.active_runs())
        }
        None => (json!({"ready": false}), 0),
    };
    json!({
        "runtimeVersion": crate::VERSION,
        "uptimeMs": uptime_ms(gateway),
        "store": store,
        "provider": provider_state(gateway),
        "connections": gateway.connection_tasks.len(),
        "activeRuns": active_runs,
        "channelSummary": [],
        "replication": gateway.replication.status(),
    })
}

fn session_key(params: &Map<String, Value>, field: &str, method: &str) -> Result<SessionKey, ErrorShape> {
    let raw = params.get(field).and_then(Value::as_str).ok_or_else(|| {
        ErrorShape::invalid(format!("invalid {method} params: must have required property '{field}'"))
    })?;
    SessionKey::parse(raw).map_err(|reason| ErrorShape::invalid(format!("invalid {method} params: {reason}")))
}

/// The session of a `sessions.*` method: `key` as OpenClaw's session methods name it, or
/// `sessionKey`.
fn session_param(params: &Map<String, Value>, method: &str) -> Result<SessionKey, ErrorShape> {
    let field = if params.contains_key("key") { "key" } else { "sessionKey" };
    session_key(params, field, method)
}

fn required_text<'a>(params: &'a Map<String, Value>, field: &str, method: &str) -> Result<&'a str, ErrorShape> {
    params
        .get(field)
        .and_then(Value::as_str)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| ErrorShape::invalid(format!("invalid {method} params: must have required property '{field}'")))
}

async fn chat_send(core: &Core, params: &Map<String, Value>) -> Result<Value, ErrorShape> {
    let key = session_key(params, "sessionKey", "chat.send")?;
    let message = required_text(params, "message", "chat.send")?.to_owned();
    let idempotency = required_text(params, "idempotencyKey", "chat.send")?.to_owned();
    let ack = core.agent.send(key, message, idempotency, crate::core::asker::Asker::Operator).await?;
    Ok(json!({"runId": ack.run_id, "status": ack.status}))
}

fn message_json(message: &StoredMessage) -> Value {
    let mut value = json!({
        "id": message.id.to_string(),
        "runId": message.run_id,
        "role": message.role,
        "content": [{"type": "text", "text": message.content}],
        "timestamp": message.created_ms,
    });
    if let Some(reason) = &message.stop_reason {
        value["stopReason"] = json!(reason);
        value["usage"] = json!(message.usage);
    }
    if let Some(model) = &message.model {
        value["model"] = json!(model);
    }
    value
}

async fn chat_history(core: &Core, params: &Map<String, Value>) -> Result<Value, ErrorShape> {
    let key = session_key(params, "sessionKey", "chat.history")?;
    let limit = match params.get("limit") {
        None | Some(Value::Null) => DEFAULT_HISTORY,
        Some(value) => value
            .as_u64()
            .and_then(|limit| usize::try_from(limit).ok())
            .filter(|limit| (1..=MAX_HISTORY).contains(limit))
            .ok_or_else(|| {
                ErrorShape::invalid(format!(
                    "invalid chat.history params: limit must be an integer from 1 to {MAX_HISTORY}"
                ))
            })?,
    };
    let messages = core.store.history(&key, limit).await.map_err(store_error)?;
    Ok(json!({"sessionKey": key, "messages": messages.iter().map(message_json).collect::<Vec<_>>()}))
}

fn chat_abort(core: &Core, params: &Map<String, Value>) -> Result<Value, ErrorShape> {
    let key = session_key(params, "sessionKey", "chat.abort")?;
    let run_id = params.get("runId").and_then(Value::as_str).map(|raw| RunId::from_stored(raw.to_owned()));
    core.agent.abort(&key, run_id.as_ref())
}

async fn sessions_list(core: &Core) -> Result<Value, ErrorShape> {
    let sessions = core.store.list_sessions(500).await.map_err(store_error)?;
    let model = core.agent.model();
    let rows: Vec<Value> = sessions
        .iter()
        .map(|session| {
            json!({
                "key": session.key,
                "kind": "direct",
                "displayName": session.label.clone().unwrap_or_else(|| display_name(&session.key)),
                "createdAt": session.created_ms,
                "updatedAt": session.updated_ms,
                "lastMessagePreview": session.last_message_preview,
                "messageCount": session.message_count,
                "inputTokens": session.input_tokens,
                "outputTokens": session.output_tokens,
                "totalTokens": session.input_tokens + session.output_tokens,
                "model": model.model,
            })
        })
        .collect();
    Ok(json!({
        "ts": now_ms(),
        "path": core.store.path(),
        "count": rows.len(),
        "defaults": {"modelProvider": core.agent.provider_name(), "model": model.model, "contextTokens": null},
        "sessions": rows,
    }))
}

fn display_name(key: &str) -> String {
    if key == MAIN_SESSION {
        return "Main".into();
    }
    key.strip_prefix("agent:main:").unwrap_or(key).to_owned()
}

async fn sessions_reset(gateway: &Gateway, core: &Core, params: &Map<String, Value>) -> Result<Value, ErrorShape> {
    let key = session_key(params, "key", "sessions.reset")?;
    core.agent.abort(&key, None)?;
    let removed = core.store.reset_session(&key).await.map_err(store_error)?;
    gateway.events.publish("sessions.changed", Scope::Read, &json!({"sessionKey": key, "reason": "reset"}));
    Ok(json!({"ok": true, "key": key, "removedMessages": removed}))
}

async fn sessions_delete(gateway: &Gateway, core: &Core, params: &Map<String, Value>) -> Result<Value, ErrorShape> {
    let key = session_key(params, "key", "sessions.delete")?;
    core.agent.abort(&key, None)?;
    let deleted = core.store.delete_session(&key).await.map_err(store_error)?;
    gateway.events.publish("sessions.changed", Scope::Read, &json!({"sessionKey": key, "reason": "delete"}));
    Ok(json!({"ok": true, "key": key, "deleted": deleted}))
}

fn models_list(core: &Core) -> Value {
    let model = core.agent.model();
    let provider = core.agent.provider_name();
    let models: Vec<Value> = std::iter::once(&model.model)
        .chain(&model.fallbacks)
        .map(|id| json!({"id": id, "name": id, "provider": provider, "available": provider.is_some()}))
        .collect();
    json!({"models": models})
}

fn store_error(error: crate::daemon::store::StoreError) -> ErrorShape {
    tracing::error!(%error, "store call failed");
    ErrorShape::unavailable(format!("store unavailable: {error}"))
}
