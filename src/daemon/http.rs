//! HTTP routes: health and readiness, the web page (with the token-for-cookie exchange:
//! `POST /auth/token` for the `#token=` fragment, `/?token=` for old links), its assets, and the
//! gateway WebSocket on `/` and `/ws` (browser origins checked before the upgrade).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::state::{Gateway, Peer, Readiness};
use super::{web, ws};
use crate::core::secret::Secret;

pub const TOKEN_COOKIE: &str = "molt_token";

pub fn router(gateway: Arc<Gateway>) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/ws", get(websocket))
        .route("/auth/token", post(token_exchange))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/assets/app.js", get(|| async { web::app_js() }))
        .route("/assets/style.css", get(|| async { web::style_css() }))
        .route("/channels/telegram/webhook", post(super::http_webhooks::telegram_webhook))
        .route("/channels/slack/events", post(super::http_webhooks::slack_events))
        .merge(super::admin::router())
        .merge(super::replication::admin::routes())
        .fallback(|| async { (StatusCode::NOT_FOUND, axum::Json(json!({"error": "not found"}))) })
        .with_state(gateway)
}

async fn healthz() -> impl IntoResponse {
    axum::Json(json!({"ok": true}))
}

/// Public, so it says the state and a reason without details: no bucket location (it names the
/// account and bucket), no error texts. The admin status (`/api/admin/status`) has those.
async fn readyz(State(gateway): State<Arc<Gateway>>) -> Response {
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

async fn root(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(socket): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: Uri,
    upgrade: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Response {
    if let Ok(upgrade) = upgrade {
        return websocket(State(gateway), ConnectInfo(socket), headers, upgrade).await;
    }
    match uri.query().and_then(query_token) {
        Some(token) => {
            let peer = gateway.peer(socket, &headers);
            let location = location_without_token(&uri);
            let mut response = (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response();
            // Old links keep working; a wrong guess still counts and sets nothing.
            match check_token(&gateway, &peer, &token) {
                TokenCheck::Matched => set_cookie(&mut response, &gateway.token, &headers),
                TokenCheck::Wrong => {}
                locked @ TokenCheck::Locked(_) => return token_refusal(&locked),
            }
            no_store(response)
        }
        None => web::index(),
    }
}

async fn websocket(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(socket): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let peer = gateway.peer(socket, &headers);
    if !gateway.origin_allowed(&headers, &peer) {
        return cross_origin(&headers);
    }
    let cookie = cookie_token(&gateway.token, &headers);
    ws::upgrade(gateway, upgrade, peer, cookie)
}

fn cross_origin(headers: &HeaderMap) -> Response {
    let origin = headers.get(header::ORIGIN).and_then(|value| value.to_str().ok()).unwrap_or("?");
    tracing::info!(origin, "cross-origin request refused");
    let body = json!({
        "error": format!("cross-origin request from `{origin}` refused"),
        "hint": "open the page from the gateway's own address, or add the origin to `MOLT_ALLOWED_ORIGINS`",
    });
    (StatusCode::FORBIDDEN, axum::Json(body)).into_response()
}

/// `POST /auth/token` with `{"token": "..."}`: the page trades the `#token=` fragment for the
/// cookie. 204 with the cookie, 401 for a wrong token (counted), 429 while locked out.
async fn token_exchange(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(socket): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let peer = gateway.peer(socket, &headers);
    if !gateway.origin_allowed(&headers, &peer) {
        return cross_origin(&headers);
    }
    let token = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|value| value["token"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let check = check_token(&gateway, &peer, &token);
    if !matches!(check, TokenCheck::Matched) {
        return token_refusal(&check);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    set_cookie(&mut response, &gateway.token, &headers);
    no_store(response)
}

/// How a token exchange went.
enum TokenCheck {
    Matched,
    Wrong,
    Locked(std::time::Duration),
}

/// The gateway token check behind both exchanges: locked-out addresses are refused before the
/// comparison, and a wrong token counts toward the failed-sign-in limit.
fn check_token(gateway: &Gateway, peer: &Peer, given: &str) -> TokenCheck {
    if let Some(wait) = gateway.auth_limiter.locked(peer.address) {
        return TokenCheck::Locked(wait);
    }
    if given.is_empty() || !gateway.token.matches(given) {
        gateway.auth_limiter.record_failure(peer.address);
        return TokenCheck::Wrong;
    }
    gateway.auth_limiter.record_success(peer.address);
    TokenCheck::Matched
}

fn token_refusal(check: &TokenCheck) -> Response {
    let (status, body) = match check {
        TokenCheck::Locked(wait) => (
            StatusCode::TOO_MANY_REQUESTS,
            json!({"error": format!("too many failed sign-ins; retry in {} s", wait.as_secs().max(1))}),
        ),
        _ => (
            StatusCode::UNAUTHORIZED,
            json!({"error": "the gateway token does not match", "hint": "open the URL `molt gateway` printed"}),
        ),
    };
    no_store((status, axum::Json(body)).into_response())
}

fn query_token(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| pair.strip_prefix("token=")).map(percent_decode)
}

/// The same page without `token=`, so the token leaves the address bar and the history.
fn location_without_token(uri: &Uri) -> String {
    let rest: Vec<&str> = uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.starts_with("token=") && !pair.is_empty())
        .collect();
    if rest.is_empty() { uri.path().to_owned() } else { format!("{}?{}", uri.path(), rest.join("&")) }
}

/// The HttpOnly, SameSite=Strict cookie holding a digest of the token; `Secure` behind HTTPS.
/// `Secure` only narrows where the browser sends it, so any proxy's word for HTTPS is enough.
fn set_cookie(response: &mut Response, token: &Secret, headers: &HeaderMap) {
    let secure =
        headers.get("x-forwarded-proto").is_some_and(|proto| proto == "https") || headers.contains_key("cf-visitor");
    let cookie = format!(
        "{TOKEN_COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000{}",
        cookie_value(token),
        if secure { "; Secure" } else { "" }
    );
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The cookie holds a digest of the token, never the token itself.
fn cookie_value(token: &Secret) -> String {
    hex::encode(Sha256::digest(format!("molt-cookie-v1:{}", token.expose())))
}

/// Whether the request carries a valid token cookie.
pub(crate) fn cookie_token(token: &Secret, headers: &HeaderMap) -> bool {
    let expected = Secret::new(cookie_value(token));
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(&format!("{TOKEN_COOKIE}=")).map(str::to_owned))
        .any(|value| expected.matches(&value))
}

fn percent_decode(raw: &str) -> String {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let decoded = (bytes[index] == b'%')
            .then(|| raw.get(index + 1..index + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match (decoded, bytes[index]) {
            (Some(byte), _) => {
                out.push(byte);
                index += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                index += 1;
            }
            (None, byte) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_cookie_round_trips_and_rejects_others() {
        // Hex digits only: a digest that quoted this token could be caught by `contains`.
        let token = Secret::new("deadbeefcafef00d");
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=b; {TOKEN_COOKIE}={}", cookie_value(&token))).unwrap(),
        );
        assert!(cookie_token(&token, &headers));
        assert!(!cookie_token(&Secret::new("other"), &headers));
        let value = cookie_value(&token);
        assert!(!value.contains(token.expose()), "the cookie never carries the token: {value}");
        assert_eq!(value.len(), 64, "a SHA-256 digest in hex: {value}");
    }

    #[test]
    fn query_tokens_are_decoded_and_removed_from_the_redirect() {
        assert_eq!(query_token("x=1&token=a%2Bb"), Some("a+b".into()));
        let uri: Uri = "/?session=s&token=abc".parse().unwrap();
        assert_eq!(location_without_token(&uri), "/?session=s");
        assert_eq!(location_without_token(&"/?token=abc".parse().unwrap()), "/");
    }
}
