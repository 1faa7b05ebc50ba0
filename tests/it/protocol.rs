//! The gateway protocol over a real WebSocket on 127.0.0.1: handshake, every auth failure,
//! bad frames, scopes, and the chat methods against a fake model provider.

use crate::support;

use serde_json::{Value, json};
use support::client::{Client, ConnectOptions, Identity};
use support::fake_anthropic::{FakeAnthropic, Reply};
use support::gateway::{TOKEN, TestGateway};

async fn gateway_with_model() -> (TestGateway, FakeAnthropic) {
    let fake = FakeAnthropic::start_with_key("sk-ant-test").await;
    let gateway = TestGateway::builder().model(&fake).start().await;
    (gateway, fake)
}

#[tokio::test]
async fn handshake_with_a_real_device_key() {
    let gateway = TestGateway::start(&[]).await;
    let (client, hello) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    assert_eq!(client.challenge["payload"]["nonce"].as_str().unwrap().len(), 36);
    assert_eq!(hello["type"], "hello-ok");
    assert_eq!(hello["protocol"], 4);
    assert_eq!(hello["auth"]["scopes"], json!(["operator.read", "operator.write"]));
    assert_eq!(hello["policy"]["maxPayload"], 1024 * 1024);
    let methods = hello["features"]["methods"].as_array().unwrap();
    for method in ["chat.send", "chat.history", "chat.abort", "sessions.list", "models.list", "health", "status"] {
        assert!(methods.contains(&json!(method)), "{method} advertised");
    }
    client.close().await;
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn a_v2_signature_and_a_protocol_3_client_are_accepted() {
    let gateway = TestGateway::start(&[]).await;
    let mut options = ConnectOptions::new(TOKEN);
    options.v2 = true;
    options.max_protocol = 3;
    let (_, hello) = Client::connect(&gateway.ws_url(), &options).await.unwrap();
    assert_eq!(hello["protocol"], 3);
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn openclaws_cli_without_a_device_gets_exactly_its_scopes_on_loopback() {
    let gateway = TestGateway::start(&[]).await;
    let mut options = ConnectOptions::new(TOKEN).scopes(&["operator.read"]);
    options.identity = None;
    let (mut client, hello) = Client::connect(&gateway.ws_url(), &options).await.unwrap();
    assert_eq!(hello["auth"]["scopes"], json!(["operator.read"]));
    let health = client.call("health", json!({})).await;
    assert_eq!(health["ok"], true);
    let refused =
        client.request("chat.send", json!({"sessionKey": "main", "message": "hi", "idempotencyKey": "k"})).await;
    assert_eq!(
        refused["error"],
        json!({"code": "FORBIDDEN", "message": "missing scope: operator.write", "details": {"code": "MISSING_SCOPE", "missingScope": "operator.write", "requiredScopes": ["operator.write"]}})
    );
    gateway.stop().await.unwrap();
}

async fn refused(gateway: &TestGateway, options: ConnectOptions) -> support::client::Refused {
    Client::connect(&gateway.ws_url(), &options).await.err().expect("the connect must be refused")
}

#[tokio::test]
async fn each_auth_failure_answers_its_code_and_closes_1008() {
    let gateway = TestGateway::start(&[]).await;
    let sent = "wrong-token-4f1d9c";
    let wrong = refused(&gateway, ConnectOptions::new(sent)).await;
    assert_eq!((wrong.error_code().as_str(), wrong.detail_code().as_str()), ("INVALID_REQUEST", "AUTH_TOKEN_MISMATCH"));
    assert_eq!(wrong.close_code(), Some(1008));
    let reason = wrong.close.as_ref().map(|frame| frame.reason.to_string()).unwrap_or_default();
    let answer = format!("{} {reason}", wrong.response.unwrap());
    for token in [sent, TOKEN] {
        assert!(!answer.contains(token), "neither the token sent nor the gateway's appears in an error: {answer}");
    }

    let mut missing = ConnectOptions::new(TOKEN);
    missing.token = None;
    assert_eq!(refused(&gateway, missing).await.detail_code(), "AUTH_TOKEN_MISSING");

    let mut device_token = ConnectOptions::new(TOKEN);
    device_token.token = None;
    device_token.device_token = Some("not-issued".into());
    assert_eq!(refused(&gateway, device_token).await.detail_code(), "AUTH_DEVICE_TOKEN_MISMATCH");

    let mut nothing = ConnectOptions::new(TOKEN);
    nothing.token = None;
    nothing.identity = None;
    let nothing = refused(&gateway, nothing).await;
    assert_eq!(
        (nothing.error_code().as_str(), nothing.detail_code().as_str()),
        ("NOT_PAIRED", "DEVICE_IDENTITY_REQUIRED")
    );
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn each_device_auth_failure_answers_its_code() {
    let gateway = TestGateway::start(&[]).await;
    type Change = Box<dyn Fn(&mut ConnectOptions)>;
    let cases: Vec<(&str, Change)> = vec![
        ("DEVICE_AUTH_NONCE_REQUIRED", Box::new(|o| o.nonce_override = Some(None))),
        ("DEVICE_AUTH_NONCE_MISMATCH", Box::new(|o| o.nonce_override = Some(Some("not-the-challenge".into())))),
        ("DEVICE_AUTH_SIGNATURE_EXPIRED", Box::new(|o| o.signed_at_offset_ms = -10 * 60 * 1000)),
        ("DEVICE_AUTH_DEVICE_ID_MISMATCH", Box::new(|o| o.id_override = Some(Identity::generate().device_id()))),
        ("DEVICE_AUTH_PUBLIC_KEY_INVALID", Box::new(|o| o.public_key_override = Some("AAAA".into()))),
        ("DEVICE_AUTH_SIGNATURE_INVALID", Box::new(|o| o.sign_token_override = Some("another-token".into()))),
    ];
    for (code, change) in cases {
        let mut options = ConnectOptions::new(TOKEN);
        change(&mut options);
        let refusal = refused(&gateway, options).await;
        assert_eq!(refusal.detail_code(), code);
        assert_eq!(refusal.close_code(), Some(1008), "{code} closes with 1008");
    }
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn repeated_failures_are_rate_limited() {
    let gateway = TestGateway::start(&[]).await;
    for _ in 0..10 {
        assert_eq!(refused(&gateway, ConnectOptions::new("bad")).await.detail_code(), "AUTH_TOKEN_MISMATCH");
    }
    let locked = refused(&gateway, ConnectOptions::new(TOKEN)).await;
    assert_eq!(locked.detail_code(), "AUTH_RATE_LIMITED", "even the right token waits out the lockout");
    assert!(locked.response.unwrap()["error"]["retryAfterMs"].as_u64().unwrap() > 60_000);
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn a_remote_device_is_not_auto_approved() {
    let gateway = TestGateway::start(&[]).await;
    let mut client = Client::open_with(&gateway.ws_url(), &[("x-forwarded-for", "203.0.113.9")]).await;
    let refusal = client.handshake(ConnectOptions::new(TOKEN).params(&client.nonce())).await.unwrap_err();
    assert_eq!((refusal.error_code().as_str(), refusal.detail_code().as_str()), ("NOT_PAIRED", "PAIRING_REQUIRED"));

    let off = TestGateway::start(&[("MOLT_LOOPBACK_AUTO_APPROVE", "false")]).await;
    let refusal = refused(&off, ConnectOptions::new(TOKEN)).await;
    assert_eq!(refusal.detail_code(), "PAIRING_REQUIRED");
    gateway.stop().await.unwrap();
    off.stop().await.unwrap();
}

#[tokio::test]
async fn protocol_mismatch_closes_1002() {
    let gateway = TestGateway::start(&[]).await;
    let mut options = ConnectOptions::new(TOKEN);
    options.min_protocol = 99;
    options.max_protocol = 99;
    let refusal = refused(&gateway, options).await;
    assert_eq!(refusal.detail_code(), "PROTOCOL_MISMATCH");
    assert_eq!(refusal.close_code(), Some(1002));
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn bad_first_frames_are_refused_like_openclaw() {
    let gateway = TestGateway::start(&[]).await;
    let mut client = Client::open(&gateway.ws_url()).await;
    client.send_text("hello").await;
    assert_eq!(client.recv_close().await.map(|f| u16::from(f.code)), Some(1000), "non-JSON: close 1000, no response");

    let mut client = Client::open(&gateway.ws_url()).await;
    client.send_json(&json!({"type": "req", "id": "x1", "method": "health", "params": {}})).await;
    let response = client.recv_json().await.unwrap();
    assert_eq!(response["error"]["message"], "invalid handshake: first request must be connect");
    assert_eq!(client.recv_close().await.map(|f| u16::from(f.code)), Some(1008));

    let mut client = Client::open(&gateway.ws_url()).await;
    client.send_text(&"x".repeat(70 * 1024)).await;
    let close = client.recv_close().await.unwrap();
    assert_eq!(u16::from(close.code), 1009, "oversized pre-handshake frame");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn bad_frames_after_the_handshake_get_clear_errors() {
    let gateway = TestGateway::start(&[]).await;
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    let unknown = client.request("no.such.method", json!({})).await;
    assert_eq!(unknown["error"], json!({"code": "INVALID_REQUEST", "message": "unknown method: no.such.method"}));
    let not_object = client.request("sessions.list", json!("notanobject")).await;
    assert_eq!(not_object["error"]["message"], "invalid sessions.list params: must be object");
    client.send_json(&json!({"type": "bogus", "id": "f4"})).await;
    let bogus = client.recv_json().await.unwrap();
    assert_eq!(bogus["id"], "f4");
    assert_eq!(
        bogus["error"]["message"],
        "invalid request frame: must have required property 'method'; at /type: must be equal to constant"
    );
    let missing = client.request("chat.send", json!({"sessionKey": "main"})).await;
    assert_eq!(missing["error"]["message"], "invalid chat.send params: must have required property 'message'");
    let health = client.call("health", json!({})).await;
    assert_eq!(health["ok"], true, "the connection still serves after bad frames");
    client.send_text("{not json").await;
    assert_eq!(client.recv_close().await.map(|f| u16::from(f.code)), Some(1003));
    gateway.stop().await.unwrap();
}

fn text_of(message: &Value) -> String {
    message["content"][0]["text"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn chat_send_streams_deltas_then_final_and_records_history() {
    let (gateway, fake) = gateway_with_model().await;
    fake.push(Reply::text("Hello there, Ada!"));
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    let ack = client.call("chat.send", json!({"sessionKey": "main", "message": "Hi!", "idempotencyKey": "k-1"})).await;
    assert_eq!(ack["status"], "started");
    let run = ack["runId"].as_str().unwrap().to_owned();
    let events = client.chat_run(&run).await;
    let (last, deltas) = events.split_last().unwrap();
    assert!(!deltas.is_empty());
    let streamed: String = deltas.iter().map(|d| d["deltaText"].as_str().unwrap()).collect();
    assert_eq!(streamed, "Hello there, Ada!");
    assert_eq!(text_of(&deltas.last().unwrap()["message"]), "Hello there, Ada!", "message is cumulative");
    assert!(events.windows(2).all(|w| w[1]["seq"].as_u64() == w[0]["seq"].as_u64().map(|s| s + 1)));
    assert_eq!(last["state"], "final");
    assert_eq!(last["sessionKey"], "agent:main:main");
    assert_eq!(text_of(&last["message"]), "Hello there, Ada!");
    assert_eq!(last["stopReason"], "end_turn");
    assert!(last["usage"]["outputTokens"].as_u64().unwrap() > 0);

    let history = client.call("chat.history", json!({"sessionKey": "main"})).await;
    let messages = history["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 2);
    assert_eq!((messages[0]["role"].as_str(), text_of(&messages[0])), (Some("user"), "Hi!".into()));
    assert_eq!((messages[1]["role"].as_str(), text_of(&messages[1])), (Some("assistant"), "Hello there, Ada!".into()));
    let sessions = client.call("sessions.list", json!({})).await;
    assert_eq!(sessions["sessions"][0]["key"], "agent:main:main");
    assert_eq!(sessions["sessions"][0]["messageCount"], 2);
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn chat_send_is_idempotent() {
    let (gateway, fake) = gateway_with_model().await;
    fake.push(Reply::Slow { chunks: vec!["a".into(), "b".into(), "c".into()], delay_ms: 200 });
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    let params = json!({"sessionKey": "main", "message": "once", "idempotencyKey": "same-key"});
    let first = client.call("chat.send", params.clone()).await;
    let again = client.call("chat.send", params.clone()).await;
    assert_eq!(first["status"], "started");
    assert_eq!(again, json!({"runId": first["runId"], "status": "in_flight"}));
    client.chat_run(first["runId"].as_str().unwrap()).await;
    let after = client.call("chat.send", params).await;
    assert_eq!(after, json!({"runId": first["runId"], "status": "ok"}));
    let history = client.call("chat.history", json!({"sessionKey": "main"})).await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 2, "one user message, one reply");
    assert_eq!(fake.requests().len(), 1, "one model call");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn chat_abort_in_the_middle_of_a_stream() {
    let (gateway, fake) = gateway_with_model().await;
    let chunks: Vec<String> = (0..50).map(|i| format!("part{i} ")).collect();
    fake.push(Reply::Slow { chunks, delay_ms: 50 });
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    let ack =
        client.call("chat.send", json!({"sessionKey": "main", "message": "long please", "idempotencyKey": "a1"})).await;
    let run = ack["runId"].as_str().unwrap().to_owned();
    loop {
        let event = client.event("chat").await;
        if event["payload"]["state"] == "delta" {
            break;
        }
    }
    let aborted = client.call("chat.abort", json!({"sessionKey": "main", "runId": run})).await;
    assert_eq!(aborted, json!({"ok": true, "aborted": true, "runIds": [run]}));
    let events = client.chat_run(&run).await;
    let last = events.last().unwrap();
    assert_eq!(last["state"], "aborted");
    let partial = text_of(&last["message"]);
    assert!(partial.starts_with("part0 ") && !partial.contains("part49"), "partial reply: {partial}");
    let history = client.call("chat.history", json!({"sessionKey": "main"})).await;
    let reply = &history["messages"][1];
    assert_eq!((reply["stopReason"].as_str(), text_of(reply)), (Some("aborted"), partial));
    for _ in 0..100 {
        if fake.active_streams() == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(fake.active_streams(), 0, "the upstream request was dropped");
    let other = client.request("chat.abort", json!({"sessionKey": "agent:main:other", "runId": "nope"})).await;
    assert_eq!(other["payload"], json!({"ok": true, "aborted": false, "runIds": []}));
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn chat_events_go_only_to_the_clients_that_follow_the_session() {
    let (gateway, _fake) = gateway_with_model().await;
    let options = ConnectOptions::new(TOKEN);
    let (mut sender, _) = Client::connect(&gateway.ws_url(), &options).await.unwrap();
    let (mut reader, _) = Client::connect(&gateway.ws_url(), &options).await.unwrap();
    let (mut bystander, _) = Client::connect(&gateway.ws_url(), &options).await.unwrap();
    bystander.call("sessions.subscribe", json!({})).await;
    // Reading a session's history follows it.
    reader.call("chat.history", json!({"sessionKey": "agent:main:x"})).await;
    let ack =
        sender.call("chat.send", json!({"sessionKey": "agent:main:x", "message": "hi", "idempotencyKey": "k1"})).await;
    let run_id = ack["runId"].as_str().unwrap();
    assert_eq!(sender.chat_run(run_id).await.last().unwrap()["state"], "final");
    assert_eq!(reader.chat_run(run_id).await.last().unwrap()["state"], "final", "the reader follows the session");
    // The bystander hears the session list change as the turn starts and ends, and no chat
    // event: the bus delivers in order, so any would have come before the second change.
    for _ in 0..2 {
        assert_eq!(bystander.event("sessions.changed").await["payload"]["sessionKey"], "agent:main:x");
    }
    bystander.call("health", json!({})).await;
    assert!(bystander.events.iter().all(|event| event["event"] != "chat"), "{:?}", bystander.events);
    for _ in 0..3 {
        reader.call("health", json!({})).await;
    }
    assert!(
        reader.events.iter().all(|event| event["event"] != "sessions.changed"),
        "session list changes only after sessions.subscribe: {:?}",
        reader.events
    );
    // Unfollowing stops a session's events; following it again brings them back.
    reader.call("sessions.messages.unsubscribe", json!({"key": "agent:main:x"})).await;
    let ack = sender
        .call("chat.send", json!({"sessionKey": "agent:main:x", "message": "again", "idempotencyKey": "k2"}))
        .await;
    sender.chat_run(ack["runId"].as_str().unwrap()).await;
    reader.call("sessions.messages.subscribe", json!({"key": "agent:main:x"})).await;
    let ack = sender
        .call("chat.send", json!({"sessionKey": "agent:main:x", "message": "third", "idempotencyKey": "k3"}))
        .await;
    let third = ack["runId"].as_str().unwrap().to_owned();
    sender.chat_run(&third).await;
    let mut runs = Vec::new();
    loop {
        let payload = reader.event("chat").await["payload"].clone();
        runs.push(payload["runId"].as_str().unwrap().to_owned());
        if payload["runId"] == third.as_str() && payload["state"] == "final" {
            break;
        }
    }
    assert!(runs.iter().all(|run| *run == third), "nothing of the run while unfollowed: {runs:?}");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn sessions_reset_and_delete() {
    let (gateway, _fake) = gateway_with_model().await;
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    assert_eq!(client.call("sessions.subscribe", json!({})).await["subscribed"], true);
    for (key, id) in [("agent:main:a", "1"), ("agent:main:b", "2")] {
        let ack = client.call("chat.send", json!({"sessionKey": key, "message": "hi", "idempotencyKey": id})).await;
        client.chat_run(ack["runId"].as_str().unwrap()).await;
    }
    let reset = client.call("sessions.reset", json!({"key": "agent:main:a"})).await;
    assert_eq!(reset["removedMessages"], 2);
    assert_eq!(client.call("chat.history", json!({"sessionKey": "agent:main:a"})).await["messages"], json!([]));
    let deleted = client.call("sessions.delete", json!({"key": "agent:main:b"})).await;
    assert_eq!(deleted["deleted"], true);
    let keys: Vec<Value> = client.call("sessions.list", json!({})).await["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["key"].clone())
        .collect();
    assert_eq!(keys, [json!("agent:main:a")]);
    let changed = client.event("sessions.changed").await;
    assert!(changed["seq"].as_u64().unwrap() >= 1);
    let models = client.call("models.list", json!({})).await;
    assert_eq!(
        models["models"][0],
        json!({"id": "claude-sonnet-4-5", "name": "claude-sonnet-4-5", "provider": "anthropic", "available": true})
    );
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn without_a_provider_a_message_gets_an_error_naming_the_variable() {
    let gateway = TestGateway::start(&[]).await;
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    let ack =
        client.call("chat.send", json!({"sessionKey": "main", "message": "anyone?", "idempotencyKey": "n1"})).await;
    let events = client.chat_run(ack["runId"].as_str().unwrap()).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["state"], "error");
    assert!(events[0]["errorMessage"].as_str().unwrap().contains("`ANTHROPIC_API_KEY`"));
    let history = client.call("chat.history", json!({"sessionKey": "main"})).await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 1, "the user's message is kept");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn ticks_arrive_with_rising_seq() {
    let gateway = TestGateway::start(&[("MOLT_TICK_INTERVAL_MS", "100")]).await;
    let (mut client, hello) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    assert_eq!(hello["policy"]["tickIntervalMs"], 100);
    let first = client.event("tick").await;
    let second = client.event("tick").await;
    assert_eq!(second["seq"].as_u64().unwrap(), first["seq"].as_u64().unwrap() + 1);
    assert!(second["payload"]["ts"].as_i64().unwrap() >= first["payload"]["ts"].as_i64().unwrap());
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn shutdown_tells_connected_clients() {
    let gateway = TestGateway::start(&[]).await;
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    let stopping = tokio::spawn(gateway.stop());
    let event = client.event("shutdown").await;
    assert_eq!(event["payload"]["reason"], "gateway stopping");
    assert_eq!(client.recv_close().await.map(|f| u16::from(f.code)), Some(1012));
    stopping.await.unwrap().unwrap();
}
