//! `web_fetch` called through the library against a local server on 127.0.0.1: HTML as
//! Markdown with the final URL and content type, the address guard on loopback literals, names
//! and redirect hops, the allowlist, the redirect bound, the read cap, the timeout and the
//! schemes refused. The private, link-local and metadata ranges are tested on the guard
//! itself (`daemon::net`), never by sending a request there.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use molt::core::asker::{Asker, MemoryScope};
use molt::core::ids::SessionKey;
use molt::daemon::agent::tools::web_fetch::WebFetch;
use molt::daemon::agent::tools::{Tool, ToolContext};
use molt::daemon::store::Store;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::fake_server::FakeServer;

const PAGE: &str = r#"<!doctype html><html><head><title>Fake page</title>
<style>body { color: red }</style><script>window.secret = "s3cr3t";</script></head>
<body><h1>Welcome</h1><p>Read <a href="/docs">the docs</a> or <em>leave</em>.</p>
<script>document.write("injected")</script></body></html>"#;

fn redirect(location: &str) -> Response {
    (StatusCode::FOUND, [(header::LOCATION, location.to_owned())]).into_response()
}

/// A site with a page, redirect chains, a big text file, an image and a page that never answers.
async fn site() -> FakeServer {
    let bound = FakeServer::bind().await;
    let port = bound.addr().port();
    let stopping = bound.stopping();
    let router = Router::new()
        .route("/page", get(|| async { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], PAGE) }))
        .route(
            "/hops/{count}",
            get(|Path(count): Path<u32>| async move {
                match count {
                    0 => redirect("/page"),
                    more => redirect(&format!("/hops/{}", more - 1)),
                }
            }),
        )
        .route("/to-other-loopback", get(move || async move { redirect(&format!("http://127.0.0.2:{port}/page")) }))
        .route("/to-file", get(|| async { redirect("file:///etc/passwd") }))
        .route(
            "/big",
            get(|| async {
                let line =
                    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abcdefghijklmnopq\n";
                ([(header::CONTENT_TYPE, "text/plain")], line.repeat(3 * 1024 * 1024 / line.len()))
            }),
        )
        .route(
            "/image",
            get(|| async { ([(header::CONTENT_TYPE, "image/png")], Body::from(vec![0x89, b'P', b'N', b'G'])) }),
        )
        .route("/missing", get(|| async { (StatusCode::NOT_FOUND, "no such page") }))
        .route(
            "/hang",
            get(move || {
                let stopping = stopping.clone();
                async move {
                    stopping.cancelled().await;
                    "too late"
                }
            }),
        );
    bound.serve(router)
}

struct Harness {
    _dir: TempDir,
    context: ToolContext,
}

fn harness() -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let context = ToolContext {
        workspace: dir.path().to_owned(),
        store: Store::open(dir.path()).unwrap(),
        session_key: SessionKey::main(),
        asker: Asker::Operator,
        scope: MemoryScope::Shared,
    };
    Harness { _dir: dir, context }
}

/// Runs `web_fetch` with `allow` and `input`; the text, or the error's text.
async fn fetch_with(allow: &[String], timeout: Duration, input: Value) -> Result<String, String> {
    let harness = harness();
    let tool = WebFetch::with_timeout(allow, timeout);
    tool.call(input, &harness.context).await.map_err(|error| error.to_string())
}

async fn fetch(allow: &[String], url: &str) -> Result<String, String> {
    fetch_with(allow, Duration::from_secs(10), json!({"url": url})).await
}

fn allow(server: &FakeServer) -> Vec<String> {
    vec![format!("127.0.0.1:{}", server.addr().port())]
}

#[tokio::test]
async fn an_allowed_page_comes_back_as_markdown_with_its_url_and_content_type() {
    let server = site().await;
    let url = format!("{}/page", server.base_url());
    let text = fetch(&allow(&server), &url).await.unwrap();
    assert_eq!(
        text,
        format!(
            "URL: {url} · content-type: text/html; charset=utf-8\nTitle: Fake page\n\n# Welcome\n\n\
             Read [the docs]({}/docs) or *leave*.",
            server.base_url()
        )
    );
    for leaked in ["s3cr3t", "injected", "color"] {
        assert!(!text.contains(leaked), "{leaked} leaked");
    }
    let request = &server.requests()[0];
    assert!(request.header("user-agent").is_some_and(|agent| agent.starts_with("molt/")), "{request:?}");
}

#[tokio::test]
async fn loopback_is_refused_without_the_allowlist_and_nothing_is_sent() {
    let server = site().await;
    let port = server.addr().port();
    let refused = fetch(&[], &format!("http://127.0.0.1:{port}/page")).await.unwrap_err();
    assert!(refused.starts_with("refused: `127.0.0.1` is a loopback address (127.0.0.0/8)"), "{refused}");
    assert!(refused.contains("MOLT_WEB_FETCH_ALLOW"), "{refused}");
    let elsewhere = [format!("127.0.0.1:{}", port.wrapping_add(1))];
    let other_port = fetch(&elsewhere, &format!("http://127.0.0.1:{port}/page")).await.unwrap_err();
    assert!(other_port.starts_with("refused: `127.0.0.1`"), "allowed on another port only: {other_port}");
    let ipv6 = fetch(&[], &format!("http://[::1]:{port}/page")).await.unwrap_err();
    assert!(ipv6.starts_with("refused: `[::1]` is a loopback address (::1/128)"), "{ipv6}");
    let mapped = fetch(&[], &format!("http://[::ffff:127.0.0.1]:{port}/page")).await.unwrap_err();
    assert!(mapped.starts_with("refused: `[::ffff:7f00:1]` carries 127.0.0.1, a loopback address"), "{mapped}");
    let decimal = fetch(&[], &format!("http://2130706433:{port}/page")).await.unwrap_err();
    assert!(decimal.starts_with("refused: `127.0.0.1` is a loopback address"), "{decimal}");
    assert!(server.requests().is_empty(), "a refused address is never connected to");
}

#[tokio::test]
async fn a_name_that_resolves_to_loopback_is_refused() {
    let server = site().await;
    let refused = fetch(&[], &format!("http://localhost:{}/page", server.addr().port())).await.unwrap_err();
    assert!(refused.starts_with("refused: `localhost` resolves to "), "{refused}");
    assert!(refused.contains("a loopback address"), "{refused}");
    assert!(server.requests().is_empty());
}

#[tokio::test]
async fn every_redirect_hop_is_checked_again() {
    let server = site().await;
    let port = server.addr().port();
    let refused = fetch(&allow(&server), &format!("{}/to-other-loopback", server.base_url())).await.unwrap_err();
    assert!(refused.starts_with("refused: `127.0.0.2` is a loopback address (127.0.0.0/8)"), "{refused}");
    let scheme = fetch(&allow(&server), &format!("{}/to-file", server.base_url())).await.unwrap_err();
    assert_eq!(scheme, "`file:` URLs are not fetched; only `http` and `https`");
    let paths: Vec<String> = server.requests().into_iter().map(|request| request.path).collect();
    assert_eq!(paths, ["/to-other-loopback", "/to-file"], "port {port}: no hop past the refused one");
}

#[tokio::test]
async fn five_redirects_are_followed_and_a_sixth_is_refused() {
    let server = site().await;
    let five = fetch(&allow(&server), &format!("{}/hops/4", server.base_url())).await.unwrap();
    assert!(five.starts_with(&format!("URL: {}/page · content-type: text/html", server.base_url())), "{five}");
    server.journal().clear();
    let six = fetch(&allow(&server), &format!("{}/hops/5", server.base_url())).await.unwrap_err();
    assert_eq!(six, format!("more than 5 redirects; the last one pointed to `{}/page`", server.base_url()));
    assert_eq!(server.requests().len(), 6, "the sixth redirect is not followed");
}

#[tokio::test]
async fn an_oversized_body_is_cut_with_a_note_and_max_bytes_lowers_the_text() {
    let server = site().await;
    let url = format!("{}/big", server.base_url());
    let text = fetch(&allow(&server), &url).await.unwrap();
    assert!(text.len() <= 100_000, "{} bytes", text.len());
    assert!(text.starts_with(&format!("URL: {url} · content-type: text/plain\n\n0123456789abc")), "{}", &text[..200]);
    assert!(
        text.ends_with("[cut: the page is longer than 2097152 bytes; only the first 2097152 were read]"),
        "{}",
        &text[text.len() - 300..]
    );
    assert!(text.contains("[cut: the result was 2097152 bytes; only the first "), "the text is cut too");
    let short =
        fetch_with(&allow(&server), Duration::from_secs(10), json!({"url": url, "max_bytes": 2_000})).await.unwrap();
    assert!(short.len() <= 2_000, "{} bytes", short.len());
    let raised =
        fetch_with(&allow(&server), Duration::from_secs(10), json!({"url": url, "max_bytes": 10_000_000})).await;
    assert!(raised.unwrap().len() <= 100_000, "max_bytes never raises the cap");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = site().await;
    let url = format!("{}/hang", server.base_url());
    let error = fetch_with(&allow(&server), Duration::from_millis(300), json!({"url": url})).await.unwrap_err();
    assert_eq!(error, format!("`{url}` did not answer within 300 ms"));
}

#[tokio::test]
async fn error_statuses_binary_content_and_bad_urls_are_clear_errors() {
    let server = site().await;
    let base = server.base_url();
    let missing = fetch(&allow(&server), &format!("{base}/missing")).await.unwrap_err();
    assert_eq!(missing, format!("`{base}/missing` answered HTTP 404 Not Found"));
    let image = fetch(&allow(&server), &format!("{base}/image")).await.unwrap_err();
    assert_eq!(
        image,
        format!("`{base}/image` is `image/png` (4 bytes), not text or HTML; `web_fetch` reads only pages and text")
    );
    let bad = fetch(&[], "not a url").await.unwrap_err();
    assert_eq!(bad, "invalid URL `not a url`: relative URL without a base");
    let no_url = fetch_with(&[], Duration::from_secs(1), json!({"address": base})).await.unwrap_err();
    assert!(no_url.starts_with("invalid arguments: missing field `url`"), "{no_url}");
}

#[tokio::test]
async fn only_http_and_https_are_fetched() {
    for (url, scheme) in
        [("file:///etc/passwd", "file"), ("ftp://127.0.0.1/readme.txt", "ftp"), ("gopher://example.com/", "gopher")]
    {
        let error = fetch(&[], url).await.unwrap_err();
        assert_eq!(error, format!("`{scheme}:` URLs are not fetched; only `http` and `https`"));
    }
}

#[tokio::test]
async fn a_guest_never_reaches_the_operators_allowed_hosts() {
    let server = site().await;
    let harness = harness();
    let guest = ToolContext {
        asker: Asker::Sender { channel: "telegram".into(), sender_id: "5555".into() },
        scope: MemoryScope::Sender { channel: "telegram".into(), sender_id: "5555".into() },
        ..harness.context.clone()
    };
    let tool = WebFetch::with_timeout(&allow(&server), Duration::from_secs(10));
    let url = json!({"url": format!("{}/page", server.base_url())});
    let refused = tool.call(url.clone(), &guest).await.unwrap_err().to_string();
    assert!(refused.starts_with("refused: `127.0.0.1` is a loopback address"), "{refused}");
    assert!(server.requests().is_empty(), "nothing was sent for the guest");
    assert!(tool.call(url, &harness.context).await.is_ok(), "the operator reaches it");
}
