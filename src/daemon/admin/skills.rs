//! The admin API's skills: `GET /api/admin/skills` (each skill, whether it is on, usable and
//! listed, and why not), `POST` a `.zip` to add one (`?replace=true` to take the place of one of
//! the same name), `PUT /api/admin/skills/{name}` `{enabled}`, `DELETE` to remove one. Every
//! change is audited.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::{Path, Query};
use axum::http::{HeaderMap, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};

use super::error::{ApiError, json_body};
use crate::core::skills::Limits;
use crate::core::skills::archive::ArchiveError;
use crate::daemon::agent::SkillsError;
use crate::daemon::auth::admin::Admin;

type ApiResult = Result<Json<Value>, ApiError>;

/// The largest request body the add route reads.
pub const MAX_BODY_BYTES: usize = Limits::DEFAULT.archive_bytes as usize;

pub async fn list(admin: Admin) -> ApiResult {
    Ok(Json(json!(admin.core()?.agent.skills_view())))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddQuery {
    replace: Option<bool>,
}

/// Adds the skill in the `.zip` body; nothing is written unless all of it is acceptable.
pub async fn add(
    admin: Admin,
    query: Result<Query<AddQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult {
    let Query(query) =
        query.map_err(|error| bad_request(error.body_text(), Some("the only parameter is `replace=true`")))?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if !matches!(essence.as_str(), "" | "application/zip" | "application/x-zip-compressed" | "application/octet-stream")
    {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "INVALID_REQUEST",
            format!("a skill is sent as a `.zip` body, not `{essence}`"),
            Some("send the archive with `Content-Type: application/zip`, or run `molt skills add <folder or .zip>`"),
        ));
    }
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "TOO_LARGE",
                format!("the archive is over {MAX_BODY_BYTES} bytes, the most a skill's archive may be"),
                Some("leave large assets out of the skill; the model reads its files from the workspace"),
            )
        } else {
            bad_request(rejection.body_text(), None)
        }
    })?;
    let core = admin.core()?;
    let added = core.agent.add_skill(body.to_vec(), query.replace.unwrap_or(false)).await?;
    let detail = format!(
        "{} file(s), {} bytes{}",
        added.files,
        added.bytes,
        if added.replaced { ", replaced the installed one" } else { "" }
    );
    core.pairing.audit_for(&admin.actor, "skill.add", &added.skill.name, &detail).await;
    Ok(Json(json!({"skill": added.skill, "replaced": added.replaced})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Switch {
    enabled: bool,
}

pub async fn set(admin: Admin, Path(name): Path<String>, body: Result<Json<Switch>, JsonRejection>) -> ApiResult {
    let change = json_body(body, "send `{\"enabled\": false}`")?;
    let core = admin.core()?;
    let skill = core.agent.set_skill_enabled(&name, change.enabled).await?;
    let action = if change.enabled { "skill.enable" } else { "skill.disable" };
    core.pairing.audit_for(&admin.actor, action, &name, if skill.usable { "usable" } else { "not usable" }).await;
    Ok(Json(json!(skill)))
}

pub async fn remove(admin: Admin, Path(name): Path<String>) -> ApiResult {
    let core = admin.core()?;
    core.agent.remove_skill(&name).await?;
    core.pairing.audit_for(&admin.actor, "skill.remove", &name, "folder removed").await;
    Ok(Json(json!({"ok": true, "name": name})))
}

fn bad_request(message: impl Into<String>, hint: Option<&str>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "INVALID_REQUEST", message, hint)
}

impl From<SkillsError> for ApiError {
    fn from(error: SkillsError) -> Self {
        let message = error.to_string();
        match error {
            SkillsError::Archive(ArchiveError::ArchiveTooLarge { .. }) => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "TOO_LARGE",
                message,
                Some("leave large assets out of the skill; the model reads its files from the workspace"),
            ),
            SkillsError::Archive(_) => Self::new(
                StatusCode::BAD_REQUEST,
                "INVALID_SKILL",
                message,
                Some("fix the skill and add it again; nothing was written"),
            ),
            SkillsError::BadName(_) => bad_request(message, None),
            SkillsError::Unknown(_) => Self::new(
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
                message,
                Some("run `molt skills list` for the installed skills"),
            ),
            SkillsError::Exists(ref name) => Self::new(
                StatusCode::CONFLICT,
                "EXISTS",
                message.clone(),
                Some(&format!(
                    "replace it with `molt skills add --replace <folder or .zip>`, or remove it first with `molt skills remove {name}`"
                )),
            ),
            SkillsError::Full => Self::new(
                StatusCode::CONFLICT,
                "FULL",
                message,
                Some("remove a skill with `molt skills remove <name>`"),
            ),
            SkillsError::Install(_) | SkillsError::Worker => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "WRITE_FAILED",
                message,
                Some("check the workspace folder's permissions and free space"),
            ),
            SkillsError::Store(_) => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "UNAVAILABLE",
                message,
                Some("check the gateway's log and its data directory"),
            ),
        }
    }
}
