//! The gateway's edge over real sockets: browser origins on WebSocket upgrades and admin
//! changes, proxy headers that only the Worker (its secret) or a trusted proxy may use, the
//! token-for-cookie exchange and its limits, and scopes bounded by what an operator approved.

use crate::support;

use serde_json::{Value, json};
use support::client::{Client, ConnectOptions, Identity};
use support::gateway::{TOKEN, TestGateway};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderName;

/// A raw WebSocket upgrade with `headers`; the HTTP status it got (101 when upgraded).
async fn upgrade_status(url: &str, headers: &[(&str, &str)]) -> u16 {
    let mut request = url.into_client_request().unwrap();
    for (name, value) in headers {
        request.headers_mut().insert(HeaderName::from_bytes(name.as_bytes()).unwrap(), value.parse().unwrap());
    }
    match tokio_tungstenite::connect_async_with_config(request, None, true).await {
        Ok((_, response)) => response.status().as_u16(),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(error) => panic!("upgrade failed without an HTTP answer: {error}"),
    }
}

#[tokio::test]
async fn browser_websockets_are_accepted_only_from_the_own_origin() {
    let gateway = TestGateway::start(&[("MOLT_ALLOWED_ORIGINS", "https://chat.example.com")]).await;
    let own = format!("http://{}", gateway.addr);
    let other_port = format!("http://127.0.0.1:{}", gateway.addr.port().wrapping_add(1).max(1));
    for path in ["/ws", "/"] {
        let url = format!("ws://{}{path}", gateway.addr);
        assert_eq!(upgrade_status(&url, &[]).await, 101, "no Origin: the CLI and OpenClaw's clients");
        assert_eq!(upgrade_status(&url, &[("origin", &own)]).await, 101, "the page the gateway serves");
        assert_eq!(upgrade_status(&url, &[("origin", "https://chat.example.com")]).await, 101);
        assert_eq!(upgrade_status(&url, &[("origin", "https://evil.example")]).await, 403, "{path}");
        assert_eq!(upgrade_status(&url, &[("origin", &other_port)]).await, 403, "another local port: {path}");
        assert_eq!(upgrade_status(&url, &[("origin", "null")]).await, 403);
    }
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn a_cookie_cannot_drive_admin_changes_from_another_local_port() {
    let gateway = TestGateway::start(&[]).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let exchange = client.post(gateway.http_url("/auth/token")).json(&json!({"token": TOKEN})).send().await.unwrap();
    assert_eq!(exchange.status().as_u16(), 204);
    let cookie = exchange.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let put = |origin: String| {
        client
            .put(gateway.http_url("/api/admin/policies/telegram"))
            .header("cookie", &cookie)
            .header("origin", origin)
            .json(&json!({"dmPolicy": "open"}))
            .send()
    };
    let other_port = format!("http://127.0.0.1:{}", gateway.addr.port().wrapping_add(1).max(1));
    assert_eq!(put(other_port).await.unwrap().status().as_u16(), 403);
    assert_eq!(put(format!("http://{}", gateway.addr)).await.unwrap().status().as_u16(), 200);
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn the_fragment_token_becomes_the_cookie_and_wrong_guesses_are_limited() {
    let gateway = TestGateway::start(&[]).await;
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let right = client.post(gateway.http_url("/auth/token")).json(&json!({"token": TOKEN})).send().await.unwrap();
    assert_eq!(right.status().as_u16(), 204);
    let cookie = right.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.starts_with("molt_token=") && cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    assert!(!cookie.contains(TOKEN), "the cookie holds a digest, not the token");
    let foreign = client
        .post(gateway.http_url("/auth/token"))
        .header("origin", "https://evil.example")
        .json(&json!({"token": TOKEN}))
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status().as_u16(), 403);

    // Old links still work, and their wrong guesses count as much as the endpoint's.
    let old = client.get(gateway.http_url(&format!("/?token={TOKEN}"))).send().await.unwrap();
    assert_eq!((old.status().as_u16(), old.headers()["location"].to_str().unwrap()), (303, "/"));
    assert!(old.headers().contains_key("set-cookie"));
    for attempt in 0..5 {
        let wrong = client.get(gateway.http_url(&format!("/?token=guess-{attempt}"))).send().await.unwrap();
        assert_eq!(wrong.status().as_u16(), 303);
        assert!(!wrong.headers().contains_key("set-cookie"));
        let wrong = client.post(gateway.http_url("/auth/token")).json(&json!({"token": "guess"})).send().await.unwrap();
        assert_eq!(wrong.status().as_u16(), 401);
    }
    let locked = client.post(gateway.http_url("/auth/token")).json(&json!({"token": TOKEN})).send().await.unwrap();
    assert_eq!(locked.status().as_u16(), 429, "ten failures lock the address out, the right token too");
    let locked = client.get(gateway.http_url(&format!("/?token={TOKEN}"))).send().await.unwrap();
    assert_eq!(locked.status().as_u16(), 429);
    gateway.stop().await.unwrap();
}

async fn refused_connect(gateway: &TestGateway, headers: &[(&str, &str)], options: &ConnectOptions) -> Value {
    let mut client = Client::open_with(&gateway.ws_url(), headers).await;
    let params = options.params(&client.nonce());
    client.handshake(params).await.expect_err("refused").response.expect("an error response")
}

#[tokio::test]
async fn a_spoofed_client_address_from_loopback_is_neither_believed_nor_local() {
    let gateway = TestGateway::start(&[("MOLT_PROXY_SECRET", "worker-secret")]).await;
    // Each failure claims another address; without the Worker's secret they all count for the
    // socket's own address, which is locked out after ten.
    for attempt in 0..10 {
        let spoofed = format!("203.0.113.{attempt}");
        let refused = refused_connect(&gateway, &[("cf-connecting-ip", &spoofed)], &ConnectOptions::new("wrong")).await;
        assert_eq!(refused["error"]["details"]["code"], "AUTH_TOKEN_MISMATCH");
    }
    let fresh = "203.0.113.200";
    let locked = refused_connect(&gateway, &[("cf-connecting-ip", fresh)], &ConnectOptions::new(TOKEN)).await;
    assert_eq!(locked["error"]["details"]["code"], "AUTH_RATE_LIMITED");

    // With the secret the Worker's word names the client (and its own limit).
    let mut operator_options = ConnectOptions::new(TOKEN).scopes(&["operator.admin"]);
    operator_options.identity = None;
    let worker = [("cf-connecting-ip", "198.51.100.20"), ("x-molt-proxy-secret", "worker-secret")];
    let refused = refused_connect(&gateway, &worker, &ConnectOptions::new(TOKEN)).await;
    assert_eq!(refused["error"]["details"]["code"], "PAIRING_REQUIRED", "through the Worker a device is remote");
    gateway.stop().await.unwrap();

    let gateway = TestGateway::start(&[("MOLT_PROXY_SECRET", "worker-secret")]).await;
    let refused = refused_connect(&gateway, &worker, &ConnectOptions::new(TOKEN)).await;
    let request_id = refused["error"]["details"]["requestId"].clone();
    let (mut admin, _) = Client::connect(&gateway.ws_url(), &operator_options).await.unwrap();
    let pending = admin.call("device.pair.list", json!({})).await["pending"].clone();
    assert_eq!((&pending[0]["requestId"], pending[0]["address"].as_str()), (&request_id, Some("198.51.100.20")));
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn any_proxy_header_makes_a_loopback_request_remote() {
    let gateway = TestGateway::start(&[]).await;
    for header in ["cf-ray", "x-forwarded-for", "forwarded", "x-real-ip", "cf-connecting-ip"] {
        let refused = refused_connect(&gateway, &[(header, "198.51.100.9")], &ConnectOptions::new(TOKEN)).await;
        assert_eq!(refused["error"]["details"]["code"], "PAIRING_REQUIRED", "{header}: not auto-approved");
        let mut no_device = ConnectOptions::new(TOKEN).scopes(&["operator.admin"]);
        no_device.identity = None;
        let refused = refused_connect(&gateway, &[(header, "198.51.100.9")], &no_device).await;
        assert_eq!(refused["error"]["details"]["code"], "DEVICE_IDENTITY_REQUIRED", "{header}: no token-only admin");
    }
    let admin = reqwest::Client::new()
        .get(gateway.http_url("/api/admin/status"))
        .bearer_auth(TOKEN)
        .header("cf-ray", "8f00-AMS")
        .send()
        .await
        .unwrap();
    assert_eq!(admin.status().as_u16(), 403, "the admin API is for direct loopback");
    gateway.stop().await.unwrap();
}

const REMOTE: [(&str, &str); 1] = [("x-forwarded-for", "198.51.100.7")];

/// A token-only operator on direct loopback holding `scopes`.
async fn operator(gateway: &TestGateway, scopes: &[&str]) -> Client {
    let mut options = ConnectOptions::new(TOKEN).scopes(scopes);
    options.identity = None;
    Client::connect(&gateway.ws_url(), &options).await.unwrap().0
}

/// A remote device asking for `scopes`: its pairing request id.
async fn request_pairing(gateway: &TestGateway, options: &ConnectOptions) -> Value {
    let refused = refused_connect(gateway, &REMOTE, options).await;
    assert_eq!(refused["error"]["details"]["code"], "PAIRING_REQUIRED", "{refused}");
    refused["error"]["details"].clone()
}

#[tokio::test]
async fn a_paired_device_gets_only_its_approved_scopes_and_asks_again_for_more() {
    let gateway = TestGateway::start(&[]).await;
    let mut admin = operator(&gateway, &["operator.admin"]).await;
    let identity = Identity::generate();
    let mut options = ConnectOptions::new(TOKEN);
    options.identity = Some(identity.clone());
    let details = request_pairing(&gateway, &options).await;
    admin.call("device.pair.approve", json!({"requestId": details["requestId"]})).await;

    let mut client = Client::open_with(&gateway.ws_url(), &REMOTE).await;
    let hello = client.handshake(options.params(&client.nonce())).await.unwrap();
    assert_eq!(hello["auth"]["scopes"], json!(["operator.read", "operator.write"]));
    let device_token = hello["auth"]["deviceToken"].as_str().unwrap().to_owned();

    // The gateway token (or the page's cookie) does not widen what was approved.
    let wider = ConnectOptions { scopes: vec!["operator.admin".into()], ..options.clone() };
    let upgrade = request_pairing(&gateway, &wider).await;
    assert_eq!(upgrade["reason"], "scope-upgrade");
    let pending = admin.call("device.pair.list", json!({})).await["pending"].clone();
    assert_eq!(
        pending[0]["scopes"],
        json!(["operator.read", "operator.write", "operator.admin"]),
        "nothing taken away"
    );
    // Nor does the device token.
    let mut with_device_token = wider.clone();
    with_device_token.token = None;
    with_device_token.device_token = Some(device_token);
    let again = request_pairing(&gateway, &with_device_token).await;
    assert_eq!(again["requestId"], upgrade["requestId"], "the same request, refreshed");

    admin.call("device.pair.approve", json!({"requestId": upgrade["requestId"]})).await;
    let mut client = Client::open_with(&gateway.ws_url(), &REMOTE).await;
    let hello = client.handshake(wider.params(&client.nonce())).await.unwrap();
    assert_eq!(hello["auth"]["scopes"], json!(["operator.admin"]));
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn nobody_approves_or_rotates_beyond_their_own_scopes() {
    let gateway = TestGateway::start(&[]).await;
    let mut pairing_only = operator(&gateway, &["operator.pairing"]).await;
    let identity = Identity::generate();
    let mut options = ConnectOptions::new(TOKEN).scopes(&["operator.admin"]);
    options.identity = Some(identity.clone());
    let details = request_pairing(&gateway, &options).await;

    let refused = pairing_only.request("device.pair.approve", json!({"requestId": details["requestId"]})).await;
    assert_eq!(refused["error"]["code"], "FORBIDDEN");
    assert_eq!(refused["error"]["details"]["missingScope"], "operator.admin");
    let pending = pairing_only.call("device.pair.list", json!({})).await["pending"].clone();
    assert_eq!(pending[0]["requestId"], details["requestId"], "a refused approval leaves the request pending");

    let mut admin = operator(&gateway, &["operator.admin"]).await;
    admin.call("device.pair.approve", json!({"requestId": details["requestId"]})).await;
    let rotate = pairing_only.request("device.token.rotate", json!({"deviceId": identity.device_id()})).await;
    assert_eq!(rotate["error"]["details"]["missingScope"], "operator.admin", "a rotated token goes to the caller");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn rotating_a_token_closes_the_connections_that_used_it() {
    let gateway = TestGateway::start(&[]).await;
    let identity = Identity::generate();
    let mut options = ConnectOptions::new(TOKEN);
    options.identity = Some(identity.clone());
    let (_, hello) = Client::connect(&gateway.ws_url(), &options).await.unwrap();
    let mut with_device_token = options.clone();
    with_device_token.token = None;
    with_device_token.device_token = hello["auth"]["deviceToken"].as_str().map(str::to_owned);
    let (mut device, _) = Client::connect(&gateway.ws_url(), &with_device_token).await.unwrap();
    let mut admin = operator(&gateway, &["operator.admin"]).await;
    admin.call("device.token.rotate", json!({"deviceId": identity.device_id()})).await;
    let close = device.recv_close().await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1008);
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn a_device_token_connection_ends_when_its_token_expires() {
    let gateway = TestGateway::start(&[]).await;
    let identity = Identity::generate();
    let mut options = ConnectOptions::new(TOKEN);
    options.identity = Some(identity.clone());
    let (_, hello) = Client::connect(&gateway.ws_url(), &options).await.unwrap();
    // Tokens live for days; bring this one's end near, as the calendar would.
    let store = rusqlite::Connection::open(gateway.data_dir.join("molt.db")).unwrap();
    store.busy_timeout(std::time::Duration::from_secs(5)).unwrap();
    let soon = support::client::now_ms() + 3_000;
    let changed =
        store.execute("UPDATE device_tokens SET expires_ms = ?1 WHERE device_id = ?2", (soon, identity.device_id()));
    assert_eq!(changed.unwrap(), 1);
    let mut with_device_token = options.clone();
    with_device_token.token = None;
    with_device_token.device_token = hello["auth"]["deviceToken"].as_str().map(str::to_owned);
    let (mut device, _) = Client::connect(&gateway.ws_url(), &with_device_token).await.unwrap();
    let close = device.recv_close().await.expect("a close frame once the token expired");
    assert_eq!(
        (u16::from(close.code), close.reason.as_str()),
        (1008, "device token expired; connect with the gateway token")
    );
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn a_waiting_scope_upgrade_on_a_device_token_is_let_in_with_its_new_token() {
    let gateway = TestGateway::start(&[]).await;
    let identity = Identity::generate();
    let mut options = ConnectOptions::new(TOKEN);
    options.identity = Some(identity.clone());
    let (_, hello) = Client::connect(&gateway.ws_url(), &options).await.unwrap();
    let mut wider = options.clone().scopes(&["operator.admin"]);
    wider.token = None;
    wider.device_token = hello["auth"]["deviceToken"].as_str().map(str::to_owned);
    let (mut waiting, request_id) = Client::connect_waiting(&gateway.ws_url(), &REMOTE, &wider).await;
    let mut admin = operator(&gateway, &["operator.admin"]).await;
    admin.call("device.pair.approve", json!({"requestId": request_id})).await;
    let hello = waiting.recv_json().await.unwrap();
    assert_eq!(hello["ok"], true, "{hello}");
    assert_eq!(hello["payload"]["auth"]["scopes"], json!(["operator.admin"]));
    assert!(hello["payload"]["auth"]["deviceToken"].is_string(), "the approval's token replaces the old one");
    assert!(waiting.call("logs.tail", json!({"limit": 1})).await["lines"].is_array(), "an admin method works");
    gateway.stop().await.unwrap();
}

/// OpenClaw 2026.9.6's CLI on a loopback URL: no `device`, no `Origin` (connect frames as
/// recorded in `shared/fixtures/openclaw-frames.json`, sessions `cli_gateway_call_health` and
/// `cli_devices_list`). It keeps working, with exactly the scopes it asked for.
#[tokio::test]
async fn openclaws_cli_on_direct_loopback_gets_exactly_what_it_asked_for() {
    let gateway = TestGateway::start(&[]).await;
    let recorded = [
        (
            r#"{"minProtocol": 4, "maxProtocol": 4, "client": {"id": "cli", "version": "2026.9.6", "platform": "linux", "deviceFamily": "Linux", "mode": "cli", "instanceId": "a1e10e79-bf17-4086-8a41-ce0568d19a7d"}, "caps": [], "auth": {"token": "<GATEWAY_TOKEN>"}, "role": "operator", "scopes": ["operator.read"]}"#,
            "health",
        ),
        (
            r#"{"minProtocol": 4, "maxProtocol": 4, "client": {"id": "cli", "version": "2026.9.6", "platform": "linux", "deviceFamily": "Linux", "mode": "cli", "instanceId": "0987021a-9c55-427b-80e4-2753c1cbd570"}, "caps": [], "auth": {"token": "<GATEWAY_TOKEN>"}, "role": "operator", "scopes": ["operator.pairing"]}"#,
            "device.pair.list",
        ),
    ];
    for (params, method) in recorded {
        let params: Value = serde_json::from_str(&params.replace("<GATEWAY_TOKEN>", TOKEN)).unwrap();
        let extensions = [("sec-websocket-extensions", "permessage-deflate; client_max_window_bits")];
        let mut client = Client::open_with(&gateway.ws_url(), &extensions).await;
        let hello = client.handshake(params.clone()).await.unwrap();
        assert_eq!(hello["auth"]["scopes"], params["scopes"]);
        assert!(hello["auth"].get("deviceToken").is_none(), "no device, no device token");
        assert_eq!(client.request(method, json!({})).await["ok"], true, "{method}");
    }
    gateway.stop().await.unwrap();
}
