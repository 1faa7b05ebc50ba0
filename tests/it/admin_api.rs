//! The admin API without Access: the gateway token on a direct loopback connection only;
//! devices, codes, policies (surviving a restart with different environment), audit, events.

use crate::support;

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};
use support::client::{Client, ConnectOptions};
use support::gateway::{TOKEN, TestGateway};

fn api(gateway: &TestGateway, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
    reqwest::Client::new().request(method, gateway.http_url(path)).bearer_auth(TOKEN)
}

async fn json_of(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn only_the_gateway_token_on_loopback_gets_in() {
    let gateway = TestGateway::start(&[]).await;
    assert_eq!(json_of(api(&gateway, reqwest::Method::GET, "/api/admin/status")).await.0, 200);
    let client = reqwest::Client::new();
    let (code, body) = json_of(client.get(gateway.http_url("/api/admin/status"))).await;
    assert_eq!(code, 401);
    assert!(body["error"]["hint"].as_str().unwrap().contains("molt gateway"));
    let (code, _) = json_of(client.get(gateway.http_url("/api/admin/status")).bearer_auth("wrong")).await;
    assert_eq!(code, 401);
    let (code, body) =
        json_of(api(&gateway, reqwest::Method::GET, "/api/admin/status").header("x-forwarded-for", "203.0.113.1"))
            .await;
    assert_eq!(code, 403, "through a proxy the token alone is not enough");
    assert!(body["error"]["hint"].as_str().unwrap().contains("CF_ACCESS_TEAM_DOMAIN"));
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn the_page_cookie_works_but_not_from_another_origin() {
    let gateway = TestGateway::start(&[]).await;
    let redirect = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = redirect.get(gateway.http_url(&format!("/?token={TOKEN}"))).send().await.unwrap();
    let cookie = response.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let client = reqwest::Client::new();
    let (code, _) = json_of(client.get(gateway.http_url("/api/admin/devices")).header("cookie", &cookie)).await;
    assert_eq!(code, 200);
    let put = |origin: &str| {
        client
            .put(gateway.http_url("/api/admin/policies/slack"))
            .header("cookie", &cookie)
            .header("origin", origin)
            .json(&json!({"dmPolicy": "open"}))
    };
    assert_eq!(json_of(put("https://evil.example")).await.0, 403);
    assert_eq!(json_of(put(&format!("http://{}", gateway.addr))).await.0, 200);
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn approve_a_device_from_the_api_and_see_it_audited() {
    // The test's own connection plays the reverse proxy that names the client.
    let gateway = TestGateway::start(&[("MOLT_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let mut remote = Client::open_with(&gateway.ws_url(), &[("x-forwarded-for", "198.51.100.7")]).await;
    let refusal = remote.handshake(ConnectOptions::new(TOKEN).params(&remote.nonce())).await.unwrap_err();
    let request_id = refusal.response.unwrap()["error"]["details"]["requestId"].as_str().unwrap().to_owned();

    let (_, devices) = json_of(api(&gateway, reqwest::Method::GET, "/api/admin/devices")).await;
    assert_eq!(devices["pending"][0]["requestId"], request_id.as_str());
    assert_eq!(devices["pending"][0]["address"], "198.51.100.7");
    let (code, approved) =
        json_of(api(&gateway, reqwest::Method::POST, &format!("/api/admin/devices/{request_id}/approve"))).await;
    assert_eq!(code, 200);
    let device_id = approved["device"]["deviceId"].as_str().unwrap().to_owned();
    let (code, again) =
        json_of(api(&gateway, reqwest::Method::POST, &format!("/api/admin/devices/{request_id}/approve"))).await;
    assert_eq!(code, 404);
    assert!(again["error"]["hint"].as_str().unwrap().contains("molt pair list"));

    let (code, rotated) =
        json_of(api(&gateway, reqwest::Method::POST, &format!("/api/admin/devices/{device_id}/rotate"))).await;
    assert_eq!(code, 200);
    assert_eq!(rotated["deviceToken"].as_str().unwrap().len(), 64);
    let (code, revoked) =
        json_of(api(&gateway, reqwest::Method::DELETE, &format!("/api/admin/devices/{device_id}"))).await;
    assert_eq!((code, revoked["ok"].as_bool()), (200, Some(true)));

    let (_, audit) = json_of(api(&gateway, reqwest::Method::GET, "/api/admin/audit")).await;
    let actions: Vec<&str> =
        audit["entries"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["device.revoke", "device.rotate", "device.approve"]);
    assert_eq!(audit["entries"][2]["actor"], "local token");
    assert_eq!(audit["entries"][2]["address"], "127.0.0.1");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn codes_from_a_channel_are_listed_and_approved() {
    let gateway = TestGateway::start(&[]).await;
    // A channel adapter issues codes through the store the gateway uses.
    let store = molt::daemon::store::Store::open(&gateway.data_dir).unwrap();
    let issued = store.issue_pairing_code("telegram", "4242", Some("Ada")).await.unwrap();
    let molt::daemon::store::CodeIssue::New(code) = issued else { panic!("new code") };
    let (_, codes) = json_of(api(&gateway, reqwest::Method::GET, "/api/admin/codes")).await;
    assert_eq!(codes["codes"][0]["code"], code.code.as_str());
    assert_eq!(codes["codes"][0]["senderName"], "Ada");
    let path = format!("/api/admin/codes/telegram/{}/approve", code.code.to_lowercase());
    let (status, body) = json_of(api(&gateway, reqwest::Method::POST, &path)).await;
    assert_eq!((status, body["senderId"].as_str()), (200, Some("4242")));
    let (_, policies) = json_of(api(&gateway, reqwest::Method::GET, "/api/admin/policies")).await;
    assert_eq!(policies["channels"]["telegram"], json!({"dmPolicy": "pairing", "allowFrom": ["4242"]}));
    let (status, _) = json_of(api(&gateway, reqwest::Method::POST, "/api/admin/codes/matrix/ABCD2345/approve")).await;
    assert_eq!(status, 400);
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn a_policy_set_by_the_operator_survives_a_restart_with_different_environment() {
    let dir = tempfile::tempdir().unwrap();
    let first =
        TestGateway::start_in(dir.path(), &[("TELEGRAM_DM_POLICY", "allowlist"), ("TELEGRAM_DM_ALLOW_FROM", "1,2")])
            .await;
    let (_, seeded) = json_of(api(&first, reqwest::Method::GET, "/api/admin/policies")).await;
    assert_eq!(seeded["channels"]["telegram"], json!({"dmPolicy": "allowlist", "allowFrom": ["1", "2"]}));
    let (code, _) = json_of(
        api(&first, reqwest::Method::PUT, "/api/admin/policies/telegram")
            .json(&json!({"dmPolicy": "open", "allowFrom": ["2", "3"]})),
    )
    .await;
    assert_eq!(code, 200);
    first.stop().await.unwrap();

    let second =
        TestGateway::start_in(dir.path(), &[("TELEGRAM_DM_POLICY", "disabled"), ("TELEGRAM_DM_ALLOW_FROM", "9")]).await;
    let (_, after) = json_of(api(&second, reqwest::Method::GET, "/api/admin/policies")).await;
    assert_eq!(after["channels"]["telegram"], json!({"dmPolicy": "open", "allowFrom": ["2", "3"]}));
    let (code, bad) = json_of(
        api(&second, reqwest::Method::PUT, "/api/admin/policies/telegram").json(&json!({"dmPolicy": "everyone"})),
    )
    .await;
    assert_eq!(code, 400);
    assert!(bad["error"]["message"].as_str().unwrap().contains("unknown DM policy"));
    second.stop().await.unwrap();
}

#[tokio::test]
async fn the_event_stream_says_what_to_refetch() {
    let gateway = TestGateway::start(&[]).await;
    let response = api(&gateway, reqwest::Method::GET, "/api/admin/events").send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut body = response.bytes_stream();
    let mut remote = Client::open_with(&gateway.ws_url(), &[("x-forwarded-for", "198.51.100.7")]).await;
    let _ = remote.handshake(ConnectOptions::new(TOKEN).params(&remote.nonce())).await;
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains("event: devices") {
        let chunk =
            tokio::time::timeout_at(deadline, body.next()).await.expect("an event within 10 s").unwrap().unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn dev_mode_takes_the_token_from_anywhere() {
    let gateway = TestGateway::start(&[("DEV_MODE", "true")]).await;
    let (code, status) =
        json_of(api(&gateway, reqwest::Method::GET, "/api/admin/status").header("x-forwarded-for", "203.0.113.1"))
            .await;
    assert_eq!(code, 200);
    assert_eq!(status["devModeInsecure"], false, "loopback bind: not insecure");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn the_tools_guests_may_use_are_set_on_the_admin_api_audited_and_kept_over_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = TestGateway::start_in(dir.path(), &[("MOLT_GUEST_TOOLS", "edit_file")]).await;
    let guests = |view: &Value| -> Vec<String> {
        view["tools"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|tool| tool["access"] == "act" && tool["guests"] == true)
            .map(|tool| tool["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (code, seeded) = json_of(api(&first, reqwest::Method::GET, "/api/admin/tools")).await;
    assert_eq!(code, 200);
    assert_eq!(seeded["enabled"], true);
    assert_eq!(guests(&seeded), ["edit_file"], "seeded from the environment");
    let read = seeded["tools"].as_array().unwrap().iter().find(|tool| tool["name"] == "read_file").unwrap();
    assert_eq!((read["access"].as_str(), read["guests"].as_bool()), (Some("read"), Some(true)));

    let put = |body: Value| api(&first, reqwest::Method::PUT, "/api/admin/tools").json(&body);
    let (code, bad) = json_of(put(json!({"guestTools": ["rm_rf"]}))).await;
    assert_eq!((code, bad["error"]["message"].as_str()), (400, Some("there is no tool named `rm_rf`")));
    let (code, bad) = json_of(put(json!({"guestTools": ["read_file"]}))).await;
    assert_eq!(code, 400);
    assert!(bad["error"]["message"].as_str().unwrap().contains("only reads"));
    let (code, _) = json_of(put(json!({"guests": []}))).await;
    assert_eq!(code, 400, "unknown fields are refused");
    let (code, changed) = json_of(put(json!({"guestTools": ["write_file", "write_file"]}))).await;
    assert_eq!(code, 200);
    assert_eq!(guests(&changed), ["write_file"]);
    let (_, audit) = json_of(api(&first, reqwest::Method::GET, "/api/admin/audit")).await;
    let entry = audit["entries"].as_array().unwrap().iter().find(|entry| entry["action"] == "tools.guests").cloned();
    assert_eq!(entry.unwrap()["detail"], "write_file");
    first.stop().await.unwrap();

    let second = TestGateway::start_in(dir.path(), &[("MOLT_GUEST_TOOLS", "send_message")]).await;
    let (_, after) = json_of(api(&second, reqwest::Method::GET, "/api/admin/tools")).await;
    assert_eq!(guests(&after), ["write_file"], "the operator's choice, not the new environment");
    second.stop().await.unwrap();
}
