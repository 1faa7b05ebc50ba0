//! Admin API handlers: devices, pairing codes, DM policies, status, audit log, live events.

use std::convert::Infallible;

use axum::Json;
use axum::extract::{Path, Query};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_stream::wrappers::BroadcastStream;
use tokio_stream::wrappers::errors::BroadcastStreamRecvError;

use super::error::{ApiError, json_body};
use crate::core::pairing::DmPolicy;
use crate::core::scopes::Scope;
use crate::daemon::auth::admin::Admin;
use crate::daemon::pairing::channel_name;

type ApiResult = Result<Json<Value>, ApiError>;

pub async fn devices(admin: Admin) -> ApiResult {
    let pairing = &admin.core()?.pairing;
    Ok(Json(json!({"pending": pairing.pending(), "paired": pairing.paired().await?})))
}

pub async fn approve_device(admin: Admin, Path(id): Path<String>) -> ApiResult {
    let device = admin.core()?.pairing.approve(&id, &admin.actor).await?;
    Ok(Json(json!({"ok": true, "device": device})))
}

pub async fn reject_device(admin: Admin, Path(id): Path<String>) -> ApiResult {
    admin.core()?.pairing.reject(&id, &admin.actor).await?;
    Ok(Json(json!({"ok": true})))
}

pub async fn revoke_device(admin: Admin, Path(id): Path<String>) -> ApiResult {
    let closed = admin.core()?.pairing.revoke(&id, &admin.actor).await?;
    Ok(Json(json!({"ok": true, "closedConnections": closed})))
}

pub async fn rotate_device(admin: Admin, Path(id): Path<String>) -> ApiResult {
    let (token, expires) = admin.core()?.pairing.rotate(&id, &admin.actor).await?;
    Ok(Json(json!({"ok": true, "deviceToken": token.expose(), "expiresAtMs": expires})))
}

pub async fn codes(admin: Admin) -> ApiResult {
    Ok(Json(json!({"codes": admin.core()?.pairing.codes().await?})))
}

async fn resolve_code(admin: Admin, channel: String, code: String, approve: bool) -> ApiResult {
    let resolved = admin.core()?.pairing.resolve_code(&channel, &code, approve, &admin.actor).await?;
    Ok(Json(json!({"ok": true, "channel": resolved.channel, "senderId": resolved.sender_id})))
}

pub async fn approve_code(admin: Admin, Path((channel, code)): Path<(String, String)>) -> ApiResult {
    resolve_code(admin, channel, code, true).await
}

pub async fn reject_code(admin: Admin, Path((channel, code)): Path<(String, String)>) -> ApiResult {
    resolve_code(admin, channel, code, false).await
}

pub async fn policies(admin: Admin) -> ApiResult {
    let pairing = &admin.core()?.pairing;
    let mut channels = serde_json::Map::new();
    for channel in crate::core::pairing::CHANNELS {
        channels.insert(channel.to_owned(), json!(pairing.policy_view(channel).await?));
    }
    Ok(Json(json!({"channels": channels})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyChange {
    dm_policy: Option<String>,
    allow_from: Option<Vec<String>>,
}

pub async fn set_policy(
    admin: Admin,
    Path(channel): Path<String>,
    body: Result<Json<PolicyChange>, axum::extract::rejection::JsonRejection>,
) -> ApiResult {
    let change = json_body(body, "send `{\"dmPolicy\": \"pairing\", \"allowFrom\": [\"123\"]}`")?;
    let channel = channel_name(&channel)?;
    let policy = change
        .dm_policy
        .map(|raw| raw.parse::<DmPolicy>())
        .transpose()
        .map_err(|message| ApiError::new(axum::http::StatusCode::BAD_REQUEST, "INVALID_REQUEST", message, None))?;
    let view = admin.core()?.pairing.set_policy(channel, policy, change.allow_from, &admin.actor).await?;
    Ok(Json(json!(view)))
}

pub async fn tools(admin: Admin) -> ApiResult {
    Ok(Json(json!(admin.core()?.agent.tools_view())))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GuestTools {
    guest_tools: Vec<String>,
}

/// Sets which acting tools guests may use; the change is audited.
pub async fn set_tools(
    admin: Admin,
    body: Result<Json<GuestTools>, axum::extract::rejection::JsonRejection>,
) -> ApiResult {
    let change = json_body(body, "send `{\"guestTools\": [\"write_file\"]}`")?;
    let core = admin.core()?;
    let view = core.agent.set_guest_tools(change.guest_tools).await?;
    let granted: Vec<&str> =
        view.tools.iter().filter(|tool| tool.guests && tool.access == "act").map(|tool| tool.name.as_str()).collect();
    let detail = if granted.is_empty() { "none".to_owned() } else { granted.join(",") };
    core.pairing.audit_for(&admin.actor, "tools.guests", "tools", &detail).await;
    Ok(Json(json!(view)))
}

pub async fn status(admin: Admin) -> ApiResult {
    let gateway = &admin.gateway;
    let settings = &gateway.settings;
    // Answers before the store is open too (restoring, a refused restore): that is when the
    // operator needs the details `/readyz` keeps private.
    let store = match gateway.core() {
        Ok(core) => json!({"path": core.store.path(), "messages": core.store.message_count().await.ok()}),
        Err(_) => json!(null),
    };
    let provider = match &settings.model.provider {
        Some(provider) => json!({"configured": true, "name": provider.name, "model": settings.model.model}),
        None => json!({"configured": false, "hint": crate::core::settings::NO_PROVIDER_HINT}),
    };
    Ok(Json(json!({
        "gateway": {"version": crate::VERSION, "uptimeMs": u64::try_from(gateway.started.elapsed().as_millis()).unwrap_or(u64::MAX), "readiness": *gateway.readiness.borrow()},
        "store": store,
        "provider": provider,
        "channels": gateway.channels.status(),
        "access": match &gateway.access {
            Some(access) => json!({"configured": true, "teamDomain": access.settings().team_domain}),
            None => json!({"configured": false}),
        },
        "replication": gateway.replication.status(),
        "mcp": gateway.mcp.admin_status(),
        "devModeInsecure": settings.auth.dev_mode && settings.insecure,
        "connections": gateway.connection_tasks.len(),
    })))
}

#[derive(Deserialize)]
pub struct AuditQuery {
    limit: Option<usize>,
}

pub async fn audit(admin: Admin, Query(query): Query<AuditQuery>) -> ApiResult {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    Ok(Json(
        json!({"entries": admin.core()?.store.audit_log(limit).await.map_err(crate::daemon::pairing::PairingError::from)?}),
    ))
}

/// Names the admin page refetches on: `devices`, `codes`, `policies`, `audit`, `exec`.
fn admin_event(bus_event: &str) -> Option<&'static str> {
    match bus_event {
        "device.pair.requested" | "device.pair.resolved" | "device.pair.changed" | "device.presence" => Some("devices"),
        "pairing.code.requested" | "pairing.code.resolved" => Some("codes"),
        "policies.changed" => Some("policies"),
        "audit.appended" => Some("audit"),
        "exec.approval.requested" | "exec.approval.resolved" => Some("exec"),
        _ => None,
    }
}

pub async fn events(admin: Admin) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let bus = &admin.gateway.events;
    let feeds = futures_util::stream::select(
        futures_util::stream::select(
            BroadcastStream::new(bus.subscribe(Scope::Pairing)),
            BroadcastStream::new(bus.subscribe(Scope::Admin)),
        ),
        BroadcastStream::new(bus.subscribe(Scope::Approvals)),
    );
    let closing = admin.gateway.close_connections.clone().cancelled_owned();
    let stream = feeds
        .filter_map(|received| async move {
            let name = match received {
                Ok(event) => admin_event(event.event)?,
                // Fell behind: ask the page to refetch everything.
                Err(BroadcastStreamRecvError::Lagged(_)) => "devices",
            };
            Some(Ok(Event::default().event(name).data("{}")))
        })
        .take_until(closing);
    Sse::new(stream).keep_alive(KeepAlive::default())
}
