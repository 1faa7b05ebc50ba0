//! The gateway token and the page's cookie made from it: the one check behind every exchange
//! of the token (locked-out addresses refused first, a wrong token counted), and the cookie
//! that carries a digest of the token, never the token.

use std::net::IpAddr;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;
use sha2::{Digest, Sha256};

use super::ratelimit::AuthLimiter;
use crate::core::secret::Secret;

pub const TOKEN_COOKIE: &str = "molt_token";

/// How a presented token fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenCheck {
    Matched,
    Wrong,
    Locked(Duration),
}

/// Checks `given` against the gateway token for a request from `address`: locked-out addresses
/// are refused before the comparison, and a wrong (or empty) token counts toward the limit.
pub fn check(token: &Secret, limiter: &AuthLimiter, address: IpAddr, given: &str) -> TokenCheck {
    if let Some(wait) = limiter.locked(address) {
        return TokenCheck::Locked(wait);
    }
    if given.is_empty() || !token.matches(given) {
        limiter.record_failure(address);
        return TokenCheck::Wrong;
    }
    limiter.record_success(address);
    TokenCheck::Matched
}

/// The HttpOnly, SameSite=Strict cookie holding a digest of the token; `Secure` behind HTTPS.
/// `Secure` only narrows where the browser sends it, so any proxy's word for HTTPS is enough.
pub fn set_cookie(response: &mut Response, token: &Secret, headers: &HeaderMap) {
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

/// The cookie holds a digest of the token, never the token itself.
fn cookie_value(token: &Secret) -> String {
    hex::encode(Sha256::digest(format!("molt-cookie-v1:{}", token.expose())))
}

/// Whether the request carries a valid token cookie.
pub fn has_cookie(token: &Secret, headers: &HeaderMap) -> bool {
    let expected = Secret::new(cookie_value(token));
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(&format!("{TOKEN_COOKIE}=")).map(str::to_owned))
        .any(|value| expected.matches(&value))
}

/// The `Authorization: Bearer` token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::AUTHORIZATION)?.to_str().ok()?.strip_prefix("Bearer ").map(str::trim)
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
        assert!(has_cookie(&token, &headers));
        assert!(!has_cookie(&Secret::new("other"), &headers));
        let value = cookie_value(&token);
        assert!(!value.contains(token.expose()), "the cookie never carries the token: {value}");
        assert_eq!(value.len(), 64, "a SHA-256 digest in hex: {value}");
    }

    #[test]
    fn a_wrong_token_counts_and_a_locked_address_is_refused_before_the_compare() {
        let token = Secret::new("right");
        let limiter = AuthLimiter::default();
        let address = IpAddr::from([127, 0, 0, 9]);
        assert_eq!(check(&token, &limiter, address, "right"), TokenCheck::Matched);
        for _ in 0..20 {
            if matches!(check(&token, &limiter, address, "wrong"), TokenCheck::Locked(_)) {
                break;
            }
        }
        assert!(matches!(check(&token, &limiter, address, "right"), TokenCheck::Locked(_)));
        assert_eq!(check(&token, &limiter, IpAddr::from([127, 0, 0, 10]), ""), TokenCheck::Wrong);
    }
}
