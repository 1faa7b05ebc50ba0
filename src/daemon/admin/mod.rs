//! The admin surface: the JSON API under `/api/admin/`, its live event stream, and the embedded
//! admin page at `/_admin/`. Every API call is authenticated by [`auth::Admin`].

mod api;
mod auth;
mod error;
mod web;

use std::sync::Arc;

use axum::Router;
use axum::routing::{delete, get, post};

use super::state::Gateway;

pub fn router() -> Router<Arc<Gateway>> {
    Router::new()
        .route("/api/admin/devices", get(api::devices))
        .route("/api/admin/devices/{id}/approve", post(api::approve_device))
        .route("/api/admin/devices/{id}/reject", post(api::reject_device))
        .route("/api/admin/devices/{id}/rotate", post(api::rotate_device))
        .route("/api/admin/devices/{id}", delete(api::revoke_device))
        .route("/api/admin/codes", get(api::codes))
        .route("/api/admin/codes/{channel}/{code}/approve", post(api::approve_code))
        .route("/api/admin/codes/{channel}/{code}/reject", post(api::reject_code))
        .route("/api/admin/policies", get(api::policies))
        .route("/api/admin/policies/{channel}", axum::routing::put(api::set_policy))
        .route("/api/admin/status", get(api::status))
        .route("/api/admin/audit", get(api::audit))
        .route("/api/admin/events", get(api::events))
        .route("/_admin", get(web::redirect))
        .route("/_admin/", get(web::index))
        .route("/_admin/admin.js", get(web::script))
        .route("/_admin/admin.css", get(web::style))
}
