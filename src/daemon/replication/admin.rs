//! The admin API's replication endpoints: `GET /api/admin/replication` (status) and
//! `POST /api/admin/replication/backup` (ship everything and snapshot now). Allowed with the
//! gateway token from a direct loopback connection, as `molt gateway backup` on the same host.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::ReplicationError;
use crate::daemon::state::Gateway;

pub fn routes() -> Router<Arc<Gateway>> {
    Router::new().route("/api/admin/replication", get(status)).route("/api/admin/replication/backup", post(backup))
}

fn authorized(gateway: &Gateway, socket: SocketAddr, headers: &HeaderMap) -> Result<(), (StatusCode, &'static str)> {
    let peer = gateway.peer(socket, headers);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    if !peer.direct_loopback {
        return Err((StatusCode::FORBIDDEN, "the admin API is served to this host only"));
    }
    if !gateway.token.matches(token) {
        return Err((StatusCode::UNAUTHORIZED, "a valid gateway token is required"));
    }
    Ok(())
}

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"ok": false, "error": message}))).into_response()
}

async fn status(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(socket): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Err((code, message)) = authorized(&gateway, socket, &headers) {
        return error(code, message);
    }
    axum::Json(json!({"ok": true, "replication": gateway.replication.status()})).into_response()
}

async fn backup(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(socket): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Err((code, message)) = authorized(&gateway, socket, &headers) {
        return error(code, message);
    }
    match gateway.replication.backup_now().await {
        Ok(report) => axum::Json(json!({"ok": true, "snapshot": report})).into_response(),
        Err(failure) => {
            let status = match failure {
                ReplicationError::NotConfigured => StatusCode::CONFLICT,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            error(status, &failure.to_string())
        }
    }
}
