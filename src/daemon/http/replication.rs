//! The admin API's replication endpoints: `GET /api/admin/replication` (status) and
//! `POST /api/admin/replication/backup` (ship everything and snapshot now). Allowed with the
//! gateway token from a direct loopback connection, as `molt gateway backup` on the same host.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::daemon::auth::admin::local_operator;
use crate::daemon::replication::ReplicationError;
use crate::daemon::state::Gateway;

fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"ok": false, "error": message}))).into_response()
}

pub async fn status(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(socket): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Err((code, message)) = local_operator(&gateway, socket, &headers) {
        return error(code, &message);
    }
    axum::Json(json!({"ok": true, "replication": gateway.replication.status()})).into_response()
}

pub async fn backup(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(socket): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Err((code, message)) = local_operator(&gateway, socket, &headers) {
        return error(code, &message);
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
