//! Admin API for `exec`: the commands waiting for the operator (answered with the same three
//! decisions as `exec.approval.resolve`) and the allowlist, whose entries can be removed.
//! Every answer and removal is audited by `ExecApprovals`.

use axum::Json;
use axum::extract::Path;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, json_body};
use crate::core::protocol::exec::ExecDecision;
use crate::daemon::agent::tools::exec::{AllowlistError, ResolveError, Resolver};
use crate::daemon::auth::admin::Admin;

type ApiResult = Result<Json<Value>, ApiError>;

fn resolver(admin: &Admin) -> Resolver {
    Resolver { name: admin.actor.name.clone(), address: admin.actor.address.clone() }
}

/// `{mode, timeoutSecs, pending, allowlist}`.
pub async fn overview(admin: Admin) -> ApiResult {
    let approvals = admin.core()?.agent.exec_approvals();
    let allowlist = approvals
        .allowlist()
        .entries()
        .await
        .map_err(|error| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", error.to_string(), None))?;
    Ok(Json(json!({
        "mode": approvals.mode().to_string(),
        "timeoutSecs": approvals.timeout().as_secs(),
        "pending": approvals.pending(),
        "allowlist": allowlist,
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Decision {
    decision: String,
    pattern: Option<String>,
}

pub async fn resolve(admin: Admin, Path(id): Path<String>, body: Result<Json<Decision>, JsonRejection>) -> ApiResult {
    let body = json_body(body, "send `{\"decision\": \"allow-once\"}`")?;
    let decision = ExecDecision::parse(&body.decision).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "invalid decision",
            Some("`decision` is one of `allow-once`, `allow-always`, `deny`"),
        )
    })?;
    let pattern = body.pattern.as_deref().filter(|pattern| !pattern.trim().is_empty());
    let approvals = admin.core()?.agent.exec_approvals();
    match approvals.resolve(&id, decision, pattern, &resolver(&admin)).await {
        Ok(resolved) => Ok(Json(json!({"ok": true, "pattern": resolved.pattern}))),
        Err(ResolveError::Unknown) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            ResolveError::Unknown.to_string(),
            Some("it was answered elsewhere, expired, or its turn was aborted"),
        )),
        Err(error @ ResolveError::Pattern(_)) => {
            Err(ApiError::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", error.to_string(), None))
        }
        Err(ResolveError::Store(error)) => {
            Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", error.to_string(), None))
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pattern: String,
}

pub async fn remove_allowed(admin: Admin, body: Result<Json<Entry>, JsonRejection>) -> ApiResult {
    let entry = json_body(body, "send `{\"pattern\": \"git status\"}`")?;
    let approvals = admin.core()?.agent.exec_approvals();
    match approvals.remove_allowed(&entry.pattern, &resolver(&admin)).await {
        Ok(()) => Ok(Json(json!({"ok": true}))),
        Err(error @ AllowlistError::Unknown(_)) => {
            Err(ApiError::new(StatusCode::NOT_FOUND, "NOT_FOUND", error.to_string(), None))
        }
        Err(error) => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE", error.to_string(), None)),
    }
}
