//! Who may use the admin API: a Cloudflare Access identity when Access is configured; otherwise
//! the gateway token (bearer or the page's cookie) on a direct loopback connection only.
//! `DEV_MODE` takes the gateway token from anywhere. Failures count toward the address's limit.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};

use super::access;
use super::gateway_token::{self, TokenCheck, bearer};
use crate::core::scopes::Grants;
use crate::daemon::admin::error::ApiError;
use crate::daemon::pairing::Actor;
use crate::daemon::state::{Core, Gateway};

/// An authenticated admin call: who made it, and the gateway's open core.
pub struct Admin {
    pub actor: Actor,
    pub gateway: Arc<Gateway>,
}

impl Admin {
    pub fn core(&self) -> Result<&Core, ApiError> {
        Ok(self.gateway.core()?)
    }
}

/// The replication endpoints (`molt gateway backup` on the same host): the gateway token from a
/// direct loopback connection, checked like every token.
pub fn local_operator(
    gateway: &Gateway,
    socket: SocketAddr,
    headers: &axum::http::HeaderMap,
) -> Result<(), (StatusCode, String)> {
    let peer = gateway.peer(socket, headers);
    if !peer.direct_loopback {
        return Err((StatusCode::FORBIDDEN, "the admin API is served to this host only".into()));
    }
    match gateway_token::check(&gateway.token, &gateway.auth_limiter, peer.address, bearer(headers).unwrap_or_default())
    {
        TokenCheck::Matched => Ok(()),
        TokenCheck::Wrong => Err((StatusCode::UNAUTHORIZED, "a valid gateway token is required".into())),
        TokenCheck::Locked(wait) => Err((
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many failed sign-ins; retry in {} s", wait.as_secs().max(1)),
        )),
    }
}

impl FromRequestParts<Arc<Gateway>> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, gateway: &Arc<Gateway>) -> Result<Self, ApiError> {
        let socket = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0)
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        let peer = gateway.peer(socket, &parts.headers);
        let address = Some(peer.address.to_string());
        if let Some(wait) = gateway.auth_limiter.locked(peer.address) {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "AUTH_RATE_LIMITED",
                format!("too many failed sign-ins from {}; retry in {} s", peer.address, wait.as_secs().max(1)),
                None,
            ));
        }
        let fail = |error: ApiError| {
            gateway.auth_limiter.record_failure(peer.address);
            error
        };
        let gateway_token = bearer(&parts.headers).is_some_and(|token| gateway.token.matches(token));
        let cookie = gateway_token::has_cookie(&gateway.token, &parts.headers);
        let actor = if gateway.settings.auth.dev_mode && (gateway_token || cookie) {
            Actor { name: "local token".into(), address, grants: Grants::all() }
        } else if let Some(verifier) = &gateway.access {
            let token = access::token_from(&parts.headers).ok_or(access::AccessError::Missing)?;
            match verifier.verify(&token).await {
                Ok(identity) => Actor { name: identity.name, address, grants: Grants::all() },
                Err(error @ access::AccessError::KeysUnavailable { .. }) => return Err(error.into()),
                Err(error) => return Err(fail(error.into())),
            }
        } else if !peer.direct_loopback {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                "the admin API answers only on this machine unless Cloudflare Access is configured",
                Some("set `CF_ACCESS_TEAM_DOMAIN` and `CF_ACCESS_AUD`, or run `molt pair` on the gateway's host"),
            ));
        } else if gateway_token || cookie {
            Actor { name: "local token".into(), address, grants: Grants::all() }
        } else if bearer(&parts.headers).is_some() {
            return Err(fail(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "the gateway token does not match",
                Some("use the token in the gateway's data directory (`gateway-token`) or `MOLT_GATEWAY_TOKEN`"),
            )));
        } else {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "UNAUTHENTICATED",
                "no gateway token on the request",
                Some("open the URL `molt gateway` printed, then reload; or send `Authorization: Bearer <token>`"),
            ));
        };
        // A browser's cookie rides along on cross-site requests (and SameSite does not tell
        // one local port from another): changes must come from the gateway's own origin.
        if parts.method != Method::GET && !gateway_token && !gateway.origin_allowed(&parts.headers, &peer) {
            let origin = parts.headers.get(header::ORIGIN).and_then(|value| value.to_str().ok()).unwrap_or("?");
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "FORBIDDEN",
                format!("cross-origin request from `{origin}` refused"),
                Some("open the admin page from the gateway's own address, or add the origin to `MOLT_ALLOWED_ORIGINS`"),
            ));
        }
        gateway.auth_limiter.record_success(peer.address);
        Ok(Self { actor, gateway: Arc::clone(gateway) })
    }
}
