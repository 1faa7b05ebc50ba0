//! The embedded admin page, served with a strict CSP.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const INDEX_HTML: &str = include_str!("web/index.html");
const ADMIN_JS: &str = include_str!("web/admin.js");
const ADMIN_CSS: &str = include_str!("web/admin.css");
const EXEC_JS: &str = include_str!("web/exec.js");

const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response =
        ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

pub async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

pub async fn script() -> Response {
    asset("text/javascript; charset=utf-8", ADMIN_JS)
}

/// The commands waiting for approval and the allowlist (`exec`).
pub async fn exec_script() -> Response {
    asset("text/javascript; charset=utf-8", EXEC_JS)
}

pub async fn style() -> Response {
    asset("text/css; charset=utf-8", ADMIN_CSS)
}

pub async fn redirect() -> Response {
    (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, "/_admin/")]).into_response()
}
