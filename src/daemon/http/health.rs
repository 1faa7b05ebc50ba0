//! `/healthz` (alive) and `/readyz` (public: state and a short reason, no details).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::daemon::state::{Gateway, Readiness};

pub async fn healthz() -> impl IntoResponse {
    axum::Json(json!({"ok": true}))
}

/// Public, so it says the state and a reason without details: no bucket location (it names the
/// account and bucket), no error texts. The admin status (`/api/admin/status`) has those.
pub async fn readyz(State(gateway): State<Arc<Gateway>>) -> Response {
    let readiness = gateway.readiness.borrow().clone();
    let status = if readiness == Readiness::Ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let mut body = json!({"state": state_name(&readiness), "ready": status == StatusCode::OK});
    if let Some(reason) = public_reason(&readiness) {
        body["reason"] = json!(reason);
    }
    if gateway.replication.is_configured() {
        let replication = gateway.replication.status();
        // Still serving (so still 200), but the operator should know the bucket is behind.
        if let Some(reason) = replication.degraded.as_ref().filter(|_| readiness == Readiness::Ready) {
            body["state"] = json!("degraded");
            body["reason"] = json!(reason);
        }
        body["replication"] = json!({"phase": replication.phase});
    }
    // Informational: a deaf chat channel does not make the gateway unready.
    let mut channels = serde_json::Map::new();
    if let Some(all) = gateway.channels.status().as_object() {
        for (name, state) in all {
            channels.insert(name.clone(), json!({"connected": state["connected"], "mode": state["mode"]}));
        }
    }
    body["channels"] = serde_json::Value::Object(channels);
    // Informational too, per server: its state and tool count, never its errors or stderr.
    let mcp = gateway.mcp.public_status();
    if !mcp.is_empty() {
        body["mcp"] = json!(mcp);
    }
    (status, axum::Json(body)).into_response()
}

fn state_name(readiness: &Readiness) -> &'static str {
    match readiness {
        Readiness::Starting { .. } => "starting",
        Readiness::Restoring { .. } => "restoring",
        Readiness::Ready => "ready",
        Readiness::Failed { .. } => "failed",
        Readiness::Stopping { .. } => "stopping",
    }
}

/// The reason's leading clause only (`restore refused`, `replication fenced`): its details
/// (keys, locations, error texts) stay in the admin status and the log.
fn public_reason(readiness: &Readiness) -> Option<String> {
    let reason = match readiness {
        Readiness::Ready => return None,
        Readiness::Restoring { .. } => return Some("restoring the store from the bucket".to_owned()),
        Readiness::Starting { reason } | Readiness::Failed { reason } | Readiness::Stopping { reason } => reason,
    };
    let clause = reason.split([':', '`', '(']).next().unwrap_or_default().trim();
    Some(if clause.is_empty() { "see the admin status".to_owned() } else { clause.to_owned() })
}
