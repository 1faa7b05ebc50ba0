//! Cloudflare Access in front of the admin API, against a local JWKS with real RS256 keys.

use crate::support;

use serde_json::json;
use support::gateway::TestGateway;
use support::jwks::{self, FakeAccess};

async fn gateway_behind(access: &FakeAccess) -> TestGateway {
    TestGateway::builder().access(access).start().await
}

async fn status(gateway: &TestGateway, token: Option<&str>) -> (u16, serde_json::Value) {
    let mut request = reqwest::Client::new().get(gateway.http_url("/api/admin/status"));
    if let Some(token) = token {
        request = request.header("Cf-Access-Jwt-Assertion", token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn a_valid_token_passes_and_bad_ones_are_refused() {
    let access = FakeAccess::start(&["key1"]).await;
    let gateway = gateway_behind(&access).await;
    let good = jwks::claims("ada@example.com");
    assert_eq!(status(&gateway, Some(&jwks::sign("key1", &good))).await.0, 200);

    let mut wrong_aud = good.clone();
    wrong_aud["aud"] = json!(["another-app"]);
    let mut wrong_iss = good.clone();
    wrong_iss["iss"] = json!("https://evil.cloudflareaccess.com");
    let mut expired = good.clone();
    expired["exp"] = json!(jwks::now() - 120);
    let mut early = good.clone();
    early["nbf"] = json!(jwks::now() + 120);
    let cases = [
        ("wrong aud", jwks::sign("key1", &wrong_aud)),
        ("wrong iss", jwks::sign("key1", &wrong_iss)),
        ("expired", jwks::sign("key1", &expired)),
        ("not yet valid", jwks::sign("key1", &early)),
        ("alg none", jwks::unsigned("key1", &good)),
        ("HS256 with the public key", jwks::sign_hs256_with_public_key("key1", &good)),
        ("garbage", "not.a.jwt".to_owned()),
    ];
    for (what, token) in cases {
        let (code, body) = status(&gateway, Some(&token)).await;
        assert_eq!(code, 403, "{what} must be refused: {body}");
        assert_eq!(body["error"]["code"], "FORBIDDEN", "{what}");
    }
    let (code, body) = status(&gateway, None).await;
    assert_eq!(code, 401);
    assert!(body["error"]["hint"].as_str().unwrap().contains("Cloudflare Access"));
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn leeway_of_sixty_seconds_applies() {
    let access = FakeAccess::start(&["key1"]).await;
    let gateway = gateway_behind(&access).await;
    let mut just_expired = jwks::claims("ada@example.com");
    just_expired["exp"] = json!(jwks::now() - 30);
    assert_eq!(status(&gateway, Some(&jwks::sign("key1", &just_expired))).await.0, 200);
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn the_cookie_works_like_the_header() {
    let access = FakeAccess::start(&["key1"]).await;
    let gateway = gateway_behind(&access).await;
    let token = jwks::sign("key1", &jwks::claims("ada@example.com"));
    let response = reqwest::Client::new()
        .get(gateway.http_url("/api/admin/status"))
        .header("cookie", format!("other=1; CF_Authorization={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn an_unknown_kid_refetches_once_then_is_refused() {
    let access = FakeAccess::start(&["key1"]).await;
    let gateway = gateway_behind(&access).await;
    let claims = jwks::claims("ada@example.com");
    assert_eq!(status(&gateway, Some(&jwks::sign("key1", &claims))).await.0, 200);
    assert_eq!(access.fetches(), 1);
    assert_eq!(status(&gateway, Some(&jwks::sign("key1", &claims))).await.0, 200);
    assert_eq!(access.fetches(), 1, "keys are cached");
    let (code, body) = status(&gateway, Some(&jwks::sign("key2", &claims))).await;
    assert_eq!(code, 403);
    assert!(body["error"]["message"].as_str().unwrap().contains("unknown signing key `key2`"));
    assert_eq!(access.fetches(), 1, "the keys were fetched less than 30 s ago: no refetch");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn a_rotated_key_is_fetched_and_the_old_one_still_works_while_published() {
    let access = FakeAccess::start(&["key1", "key2"]).await;
    let gateway = gateway_behind(&access).await;
    let claims = jwks::claims("ada@example.com");
    assert_eq!(status(&gateway, Some(&jwks::sign("key2", &claims))).await.0, 200);
    assert_eq!(status(&gateway, Some(&jwks::sign("key1", &claims))).await.0, 200);
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn unreachable_keys_answer_503_not_a_login_loop() {
    let access = FakeAccess::start(&["key1"]).await;
    access.fail(true);
    let gateway = gateway_behind(&access).await;
    let (code, body) = status(&gateway, Some(&jwks::sign("key1", &jwks::claims("ada@example.com")))).await;
    assert_eq!(code, 503);
    assert_eq!(body["error"]["code"], "ACCESS_KEYS_UNAVAILABLE");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("cannot fetch Cloudflare Access's signing keys"));
    access.fail(false);
    assert_eq!(
        status(&gateway, Some(&jwks::sign("key1", &jwks::claims("ada@example.com")))).await.0,
        200,
        "a failed fetch is retried"
    );
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn service_tokens_and_emails_are_the_audited_actor() {
    let access = FakeAccess::start(&["key1"]).await;
    let gateway = gateway_behind(&access).await;
    let mut service = jwks::claims("");
    service["common_name"] = json!("abc123.access");
    let token = jwks::sign("key1", &service);
    let client = reqwest::Client::new();
    let response = client
        .put(gateway.http_url("/api/admin/policies/telegram"))
        .header("Cf-Access-Jwt-Assertion", &token)
        .json(&json!({"dmPolicy": "open"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let audit: serde_json::Value = client
        .get(gateway.http_url("/api/admin/audit"))
        .header("Cf-Access-Jwt-Assertion", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(audit["entries"][0]["actor"], "service token abc123.access");
    assert_eq!(audit["entries"][0]["action"], "policy.set");
    gateway.stop().await.unwrap();
}
