//! `molt pair` against a running gateway, output pinned by snapshots (ids, times and ports
//! filtered), errors with their hints, and Access service-token headers.

use crate::support;

use std::process::Output;

use serde_json::json;
use support::client::{Client, ConnectOptions};
use support::gateway::{TOKEN, TestGateway};
use support::process::molt;

async fn pair(gateway_url: &str, args: &[&str]) -> Output {
    let mut command = molt();
    command.arg("pair").arg("--url").arg(gateway_url).args(args).env("MOLT_GATEWAY_TOKEN", TOKEN);
    tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

macro_rules! snapshot {
    ($name:expr, $value:expr) => {
        insta::with_settings!({filters => vec![
            (r"\b[0-9a-f]{64}\b", "[token]"),
            (r"\b[0-9a-f]{12}\b", "[device]"),
            (r"\b[0-9a-f]{8}\b", "[request]"),
            (r"\b\d+ (s|min|h|d)\b", "[n] $1"),
            (r"127\.0\.0\.1:\d+", "127.0.0.1:[port]"),
            (r"\b[A-HJ-NP-Z2-9]{8}\b", "[CODE]"),
        ]}, {
            insta::assert_snapshot!($name, $value);
        });
    };
}

async fn remote_request(gateway: &TestGateway) -> String {
    let mut remote = Client::open_with(&gateway.ws_url(), &[("x-forwarded-for", "198.51.100.7")]).await;
    let refusal = remote.handshake(ConnectOptions::new(TOKEN).params(&remote.nonce())).await.unwrap_err();
    refusal.response.unwrap()["error"]["details"]["requestId"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn list_approve_and_revoke() {
    // The test's own connection plays the reverse proxy that names the client.
    let gateway = TestGateway::start(&[("MOLT_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let url = gateway.http_url("");
    // Held open so the paired device lists as connected.
    let _local = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    let request_id = remote_request(&gateway).await;

    let list = pair(&url, &["list"]).await;
    assert!(list.status.success(), "{}", stderr(&list));
    snapshot!("pair_list", stdout(&list));

    let approved = pair(&url, &["approve", &request_id[..8]]).await;
    assert!(approved.status.success(), "{}", stderr(&approved));
    snapshot!("pair_approve", stdout(&approved));

    let json_list = pair(&url, &["list", "--json"]).await;
    let parsed: serde_json::Value = serde_json::from_slice(&json_list.stdout).unwrap();
    assert_eq!(parsed["pending"], json!([]));
    assert_eq!(parsed["paired"].as_array().unwrap().len(), 2);
    let remote_device =
        parsed["paired"].as_array().unwrap().iter().find(|d| d["approvedVia"] == "operator").unwrap()["deviceId"]
            .as_str()
            .unwrap()
            .to_owned();

    let rotated = pair(&url, &["rotate", &remote_device]).await;
    snapshot!("pair_rotate", stdout(&rotated));
    let revoked = pair(&url, &["revoke", &remote_device[..10]]).await;
    snapshot!("pair_revoke", stdout(&revoked));
    gateway.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_say_what_to_do() {
    let gateway = TestGateway::start(&[]).await;
    let url = gateway.http_url("");
    let unknown = pair(&url, &["approve", "zzzz"]).await;
    assert_eq!(unknown.status.code(), Some(1));
    snapshot!("pair_unknown_request", stderr(&unknown));
    let code = pair(&url, &["code", "approve", "telegram", "ABCD2345"]).await;
    assert_eq!(code.status.code(), Some(1));
    snapshot!("pair_unknown_code", stderr(&code));
    let mut wrong_token = molt();
    wrong_token.args(["pair", "--url", &url, "list"]).env("MOLT_GATEWAY_TOKEN", "wrong");
    let wrong = tokio::task::spawn_blocking(move || wrong_token.output().unwrap()).await.unwrap();
    assert_eq!(wrong.status.code(), Some(1));
    snapshot!("pair_wrong_token", stderr(&wrong));
    gateway.stop().await.unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let unreachable = pair(&dead, &["list"]).await;
    assert_eq!(unreachable.status.code(), Some(1));
    snapshot!("pair_unreachable", stderr(&unreachable));
}

#[tokio::test(flavor = "multi_thread")]
async fn codes_are_listed_and_approved() {
    let gateway = TestGateway::start(&[]).await;
    let url = gateway.http_url("");
    let store = molt::daemon::store::Store::open(&gateway.data_dir).unwrap();
    let molt::daemon::store::CodeIssue::New(code) =
        store.issue_pairing_code("telegram", "4242", Some("Ada")).await.unwrap()
    else {
        panic!("new code")
    };
    let list = pair(&url, &["code", "list"]).await;
    snapshot!("pair_code_list", stdout(&list));
    let approved = pair(&url, &["code", "approve", "telegram", &code.code.to_lowercase()]).await;
    assert!(approved.status.success(), "{}", stderr(&approved));
    snapshot!("pair_code_approve", stdout(&approved));
    assert!(store.is_allowed("telegram", "4242").await.unwrap());
    gateway.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn access_service_token_headers_are_sent() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = std::sync::Arc::clone(&seen);
    let edge = axum::Router::new().route(
        "/api/admin/devices",
        axum::routing::get(move |headers: axum::http::HeaderMap| {
            let record = std::sync::Arc::clone(&record);
            async move {
                let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
                record.lock().unwrap().push((header("cf-access-client-id"), header("cf-access-client-secret")));
                axum::Json(json!({"pending": [], "paired": []}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, edge).await.unwrap() });
    let mut command = molt();
    command
        .args(["pair", "--url", &url, "list"])
        .env("MOLT_ACCESS_CLIENT_ID", "id.access")
        .env("MOLT_ACCESS_CLIENT_SECRET", "s3cret");
    let output = tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(*seen.lock().unwrap(), [(Some("id.access".to_owned()), Some("s3cret".to_owned()))]);
}
