//! Every HTTP route of the gateway, in one table: health and readiness, the web page and its
//! sign-in, the gateway WebSocket on `/` and `/ws`, the chat platforms' webhooks, the admin
//! page and API, and the replication endpoints. Who may call what is decided in
//! [`crate::daemon::auth`]; the handlers live beside this file and in `admin/`.

mod health;
mod page;
mod replication;
mod webhooks;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use serde_json::json;

use super::admin::{api, exec as admin_exec, skills, web as admin_web};
use super::state::Gateway;
use super::web;

pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/", get(page::root))
        .route("/ws", get(page::websocket))
        .route("/auth/token", post(page::token_exchange))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/assets/app.js", get(|| async { web::app_js() }))
        .route("/assets/style.css", get(|| async { web::style_css() }))
        // Never behind Access: the platforms authenticate with their own signatures.
        .route("/channels/telegram/webhook", post(webhooks::telegram_webhook))
        .route("/channels/slack/events", post(webhooks::slack_events))
        .route("/api/admin/devices", get(api::devices))
        .route("/api/admin/devices/{id}/approve", post(api::approve_device))
        .route("/api/admin/devices/{id}/reject", post(api::reject_device))
        .route("/api/admin/devices/{id}/rotate", post(api::rotate_device))
        .route("/api/admin/devices/{id}", delete(api::revoke_device))
        .route("/api/admin/codes", get(api::codes))
        .route("/api/admin/codes/{channel}/{code}/approve", post(api::approve_code))
        .route("/api/admin/codes/{channel}/{code}/reject", post(api::reject_code))
        .route("/api/admin/policies", get(api::policies))
        .route("/api/admin/policies/{channel}", put(api::set_policy))
        .route("/api/admin/tools", get(api::tools).put(api::set_tools))
        .route(
            "/api/admin/skills",
            get(skills::list).post(skills::add).layer(DefaultBodyLimit::max(skills::MAX_BODY_BYTES)),
        )
        .route("/api/admin/skills/{name}", put(skills::set).delete(skills::remove))
        .route("/api/admin/exec", get(admin_exec::overview))
        .route("/api/admin/exec/allowlist", delete(admin_exec::remove_allowed))
        .route("/api/admin/exec/{id}/resolve", post(admin_exec::resolve))
        .route("/api/admin/status", get(api::status))
        .route("/api/admin/audit", get(api::audit))
        .route("/api/admin/events", get(api::events))
        .route("/api/admin/replication", get(replication::status))
        .route("/api/admin/replication/backup", post(replication::backup))
        .route("/_admin", get(admin_web::redirect))
        .route("/_admin/", get(admin_web::index))
        .route("/_admin/admin.js", get(admin_web::script))
        .route("/_admin/admin.css", get(admin_web::style))
        .route("/_admin/exec.js", get(admin_web::exec_script))
        .fallback(|| async { (StatusCode::NOT_FOUND, axum::Json(json!({"error": "not found"}))) })
        .with_state(gateway)
}
