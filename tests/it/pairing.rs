//! Device pairing over a real WebSocket with real Ed25519 keys: request → pending → approve →
//! reconnect with the device token → revoke → the open connection closes, the token is refused.

use crate::support;

use serde_json::{Value, json};
use support::client::{Client, ConnectOptions, Identity};
use support::gateway::{TOKEN, TestGateway};

/// A remote client: the proxy header makes the gateway treat it as not local.
const REMOTE: [(&str, &str); 1] = [("x-forwarded-for", "198.51.100.7")];

async fn operator(gateway: &TestGateway) -> Client {
    // An approver holds what it approves: nobody hands out scopes beyond their own.
    let mut options = ConnectOptions::new(TOKEN).scopes(&["operator.pairing", "operator.read", "operator.write"]);
    options.identity = None;
    Client::connect(&gateway.ws_url(), &options).await.unwrap().0
}

async fn remote_connect(
    gateway: &TestGateway,
    options: &ConnectOptions,
) -> Result<(Client, Value), support::client::Refused> {
    let mut client = Client::open_with(&gateway.ws_url(), &REMOTE).await;
    let params = options.params(&client.nonce());
    client.handshake(params).await.map(|hello| (client, hello))
}

#[tokio::test]
async fn request_approve_reconnect_revoke() {
    // The test's own connection plays the reverse proxy that names the client.
    let gateway = TestGateway::start(&[("MOLT_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let mut admin = operator(&gateway).await;
    let identity = Identity::generate();
    let mut options = ConnectOptions::new(TOKEN);
    options.identity = Some(identity.clone());

    let refused = remote_connect(&gateway, &options).await.err().unwrap();
    assert_eq!((refused.error_code().as_str(), refused.detail_code().as_str()), ("NOT_PAIRED", "PAIRING_REQUIRED"));
    assert_eq!(refused.close_code(), Some(1008));
    let request_id = refused.response.as_ref().unwrap()["error"]["details"]["requestId"].as_str().unwrap().to_owned();
    let requested = admin.event("device.pair.requested").await;
    assert_eq!(requested["payload"]["requestId"], request_id.as_str());
    assert_eq!(requested["payload"]["deviceId"], identity.device_id());
    assert_eq!(requested["payload"]["address"], "198.51.100.7");

    let again = remote_connect(&gateway, &options).await.err().unwrap();
    assert_eq!(
        again.response.unwrap()["error"]["details"]["requestId"],
        request_id.as_str(),
        "a retry keeps its request"
    );
    let list = admin.call("device.pair.list", json!({})).await;
    assert_eq!(list["pending"].as_array().unwrap().len(), 1);
    assert_eq!(list["paired"], json!([]));

    let approved = admin.call("device.pair.approve", json!({"requestId": request_id})).await;
    assert_eq!(approved["device"]["deviceId"], identity.device_id());
    assert_eq!(approved["device"]["approvedVia"], "operator");
    assert_eq!(admin.event("device.pair.resolved").await["payload"]["decision"], "approved");

    let (_, hello) = remote_connect(&gateway, &options).await.unwrap();
    let device_token = hello["auth"]["deviceToken"].as_str().unwrap().to_owned();
    assert!(device_token.len() >= 64, "at least 256 bits");
    assert_eq!(hello["auth"]["method"], "token");

    let mut with_device_token = ConnectOptions::new(TOKEN);
    with_device_token.token = None;
    with_device_token.device_token = Some(device_token.clone());
    with_device_token.identity = Some(identity.clone());
    let (mut device, hello) = remote_connect(&gateway, &with_device_token).await.unwrap();
    assert_eq!(hello["auth"]["method"], "device-token");
    assert!(hello["auth"].get("deviceToken").is_none(), "a device token is not reissued on itself");
    assert_eq!(device.call("health", json!({})).await["ok"], true);

    let mut stolen = with_device_token.clone();
    stolen.identity = Some(Identity::generate());
    let refusal = remote_connect(&gateway, &stolen).await.err().unwrap();
    assert_eq!(refusal.detail_code(), "AUTH_DEVICE_TOKEN_MISMATCH", "a token works only for its own device");

    let removed = admin.call("device.pair.remove", json!({"deviceId": identity.device_id()})).await;
    assert_eq!(removed, json!({"ok": true, "closedConnections": 1}));
    let close = device.recv_close().await.unwrap();
    assert_eq!((u16::from(close.code), close.reason.as_str()), (1008, "device revoked by an operator"));
    let refused = remote_connect(&gateway, &with_device_token).await.err().unwrap();
    assert_eq!(refused.detail_code(), "AUTH_DEVICE_TOKEN_MISMATCH");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn a_waiting_client_is_let_in_the_moment_it_is_approved() {
    let gateway = TestGateway::start(&[]).await;
    let mut admin = operator(&gateway).await;
    let (mut waiting, request_id) =
        Client::connect_waiting(&gateway.ws_url(), &REMOTE, &ConnectOptions::new(TOKEN)).await;
    admin.call("device.pair.approve", json!({"requestId": request_id})).await;
    let hello = waiting.recv_json().await.unwrap();
    assert_eq!((hello["id"].as_str(), hello["ok"].as_bool()), (Some("c1"), Some(true)));
    assert!(hello["payload"]["auth"]["deviceToken"].is_string());
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn a_rejected_waiting_client_is_told_and_closed() {
    let gateway = TestGateway::start(&[]).await;
    let mut admin = operator(&gateway).await;
    let (mut waiting, request_id) =
        Client::connect_waiting(&gateway.ws_url(), &REMOTE, &ConnectOptions::new(TOKEN)).await;
    admin.call("device.pair.reject", json!({"requestId": request_id})).await;
    let response = waiting.recv_json().await.unwrap();
    assert_eq!(response["error"]["details"]["code"], "PAIRING_REJECTED");
    assert_eq!(waiting.recv_close().await.map(|frame| u16::from(frame.code)), Some(1008));
    let unknown = admin.request("device.pair.approve", json!({"requestId": request_id})).await;
    assert_eq!(unknown["error"]["details"]["code"], "NOT_FOUND");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn changed_scopes_supersede_a_request() {
    let gateway = TestGateway::start(&[]).await;
    let identity = Identity::generate();
    let mut options = ConnectOptions::new(TOKEN);
    options.identity = Some(identity.clone());
    let first = remote_connect(&gateway, &options).await.err().unwrap();
    let first_id = first.response.unwrap()["error"]["details"]["requestId"].clone();
    let wider = ConnectOptions { scopes: vec!["operator.admin".into()], ..options.clone() };
    let second = remote_connect(&gateway, &wider).await.err().unwrap();
    let second_id = second.response.unwrap()["error"]["details"]["requestId"].clone();
    assert_ne!(first_id, second_id);
    let mut admin = operator(&gateway).await;
    let pending = admin.call("device.pair.list", json!({})).await["pending"].clone();
    assert_eq!(pending.as_array().unwrap().len(), 1);
    assert_eq!(pending[0]["requestId"], second_id);
    assert_eq!(pending[0]["scopes"], json!(["operator.admin"]));
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn loopback_devices_are_paired_silently_and_listed() {
    let gateway = TestGateway::start(&[]).await;
    let identity = Identity::generate();
    let mut options = ConnectOptions::new(TOKEN);
    options.identity = Some(identity.clone());
    let (_, hello) = Client::connect(&gateway.ws_url(), &options).await.unwrap();
    assert!(hello["auth"]["deviceToken"].is_string());
    let mut admin = operator(&gateway).await;
    let list = admin.call("device.pair.list", json!({})).await;
    let paired = &list["paired"][0];
    assert_eq!(
        (paired["deviceId"].as_str(), paired["approvedVia"].as_str()),
        (Some(identity.device_id().as_str()), Some("loopback"))
    );
    let rotated = admin.call("device.token.rotate", json!({"deviceId": identity.device_id()})).await;
    assert_ne!(rotated["deviceToken"], hello["auth"]["deviceToken"]);
    let mut old = ConnectOptions::new(TOKEN);
    old.token = None;
    old.device_token = hello["auth"]["deviceToken"].as_str().map(str::to_owned);
    old.identity = Some(identity);
    assert_eq!(
        Client::connect(&gateway.ws_url(), &old).await.err().unwrap().detail_code(),
        "AUTH_DEVICE_TOKEN_MISMATCH"
    );
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn pairing_methods_need_the_pairing_scope() {
    let gateway = TestGateway::start(&[]).await;
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    let refused = client.request("device.pair.list", json!({})).await;
    assert_eq!(refused["error"]["details"]["missingScope"], "operator.pairing");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn dev_mode_approves_remote_devices() {
    let gateway = TestGateway::start(&[("DEV_MODE", "true")]).await;
    let (_, hello) = remote_connect(&gateway, &ConnectOptions::new(TOKEN)).await.unwrap();
    assert!(hello["auth"]["deviceToken"].is_string());
    gateway.stop().await.unwrap();
}
