//! The web page and its sign-in: `/` (the page, or the WebSocket upgrade), `/ws`, and the
//! token-for-cookie exchange (`POST /auth/token` for the `#token=` fragment, `/?token=` for old
//! links). Browser origins are checked before an upgrade or an exchange.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::daemon::auth::gateway_token::{self, TokenCheck};
use crate::daemon::state::{Gateway, Peer};
use crate::daemon::{web, ws};

pub async fn root(
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
                TokenCheck::Matched => gateway_token::set_cookie(&mut response, &gateway.token, &headers),
                TokenCheck::Wrong => {}
                locked @ TokenCheck::Locked(_) => return token_refusal(&locked),
            }
            no_store(response)
        }
        None => web::index(),
    }
}

pub async fn websocket(
    State(gateway): State<Arc<Gateway>>,
    ConnectInfo(socket): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let peer = gateway.peer(socket, &headers);
    if !gateway.origin_allowed(&headers, &peer) {
        return cross_origin(&headers);
    }
    let cookie = gateway_token::has_cookie(&gateway.token, &headers);
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
/// The gateway token check behind both exchanges.
fn check_token(gateway: &Gateway, peer: &Peer, given: &str) -> TokenCheck {
    gateway_token::check(&gateway.token, &gateway.auth_limiter, peer.address, given)
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

pub async fn token_exchange(
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
    gateway_token::set_cookie(&mut response, &gateway.token, &headers);
    no_store(response)
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
    fn query_tokens_are_decoded_and_removed_from_the_redirect() {
        assert_eq!(query_token("x=1&token=a%2Bb"), Some("a+b".into()));
        let uri: Uri = "/?session=s&token=abc".parse().unwrap();
        assert_eq!(location_without_token(&uri), "/?session=s");
        assert_eq!(location_without_token(&"/?token=abc".parse().unwrap()), "/");
    }
}
