//! A slow client never takes the gateway down: deltas carry only new text, each connection's
//! outgoing queue is bounded in bytes, and concurrent connections are capped. Real sockets on
//! 127.0.0.1 against a fake model provider.

use crate::support;

use serde_json::{Value, json};
use support::client::{Client, ConnectOptions};
use support::fake_anthropic::{FakeAnthropic, Reply};
use support::gateway::{TOKEN, TestGateway};

const DELTA_TEXT: &str = "chat-delta-text";

async fn gateway_with_model(env: &[(&str, &str)]) -> (TestGateway, FakeAnthropic) {
    let fake = FakeAnthropic::start().await;
    let gateway = TestGateway::builder().model(&fake).envs(env).start().await;
    (gateway, fake)
}

fn text_of(message: &Value) -> String {
    message["content"][0]["text"].as_str().unwrap_or_default().to_owned()
}

/// `count` chunks of `size` bytes each, numbered so a lost or repeated one shows.
fn chunks(count: usize, size: usize) -> Vec<String> {
    (0..count).map(|index| format!("{index:06} {}", "x".repeat(size.saturating_sub(8))) + " ").collect()
}

#[tokio::test]
async fn deltas_carry_only_the_new_text_so_a_long_reply_costs_linear_bytes() {
    let (gateway, fake) = gateway_with_model(&[]).await;
    let pieces = chunks(400, 100);
    let reply: String = pieces.concat();
    fake.push(Reply::Text { chunks: pieces.clone(), usage: support::fake_anthropic::Usage::simple(pieces.len()) });
    let (mut molt, _) =
        Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN).caps(&[DELTA_TEXT])).await.unwrap();
    let (mut openclaw, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    openclaw.call("sessions.messages.subscribe", json!({"key": "main"})).await;
    let ack = molt.call("chat.send", json!({"sessionKey": "main", "message": "long", "idempotencyKey": "l1"})).await;
    let run = ack["runId"].as_str().unwrap().to_owned();

    let before = molt.received_bytes;
    // Both read at once: a client left unread while the other is read would be too slow.
    let (events, compat) = tokio::join!(molt.chat_run(&run), openclaw.chat_run(&run));
    let wire = molt.received_bytes - before;
    let (last, deltas) = events.split_last().unwrap();
    assert_eq!(deltas.len(), pieces.len());
    assert!(deltas.iter().all(|delta| delta.get("message").is_none()), "no cumulative text: {}", deltas[0]);
    let lengths: usize = deltas.iter().map(|delta| delta["deltaText"].as_str().unwrap().len()).sum();
    assert_eq!(lengths, reply.len(), "the deltas' text adds up to the reply, once");
    let streamed: String = deltas.iter().map(|delta| delta["deltaText"].as_str().unwrap()).collect();
    assert_eq!(streamed, reply);
    assert_eq!(text_of(&last["message"]), reply, "the final carries the whole reply");
    // Linear: the reply twice (deltas, final) plus a bounded envelope per event.
    assert!(wire < 2 * reply.len() + events.len() * 300, "{wire} bytes on the wire for a {}-byte reply", reply.len());

    // A client that did not announce the capability gets OpenClaw's cumulative `message`.
    let mut so_far = String::new();
    for delta in &compat[..compat.len() - 1] {
        so_far.push_str(delta["deltaText"].as_str().unwrap());
        assert_eq!(text_of(&delta["message"]), so_far);
    }
    assert_eq!(so_far, reply);
    gateway.stop().await.unwrap();
}

/// A client socket whose receive buffer stays small, so a client that stops reading fills it
/// quickly.
async fn small_buffer_stream(gateway: &TestGateway) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    socket.connect(gateway.addr).await.unwrap()
}

#[tokio::test]
async fn a_client_that_stops_reading_is_closed_while_another_keeps_its_events() {
    let limit = 256 * 1024;
    stuck_client_is_closed(limit, &[("MOLT_MAX_BUFFERED_BYTES", &limit.to_string())]).await;
}

#[tokio::test]
async fn the_bound_on_all_queues_together_closes_a_stuck_client_below_its_own_bound() {
    // Its own bound (64 MiB) is never reached: the one on every queue together (256 KiB) is.
    let limit = 64 * 1024 * 1024;
    let env = [("MOLT_MAX_BUFFERED_BYTES", limit.to_string()), ("MOLT_MAX_QUEUED_BYTES", (256 * 1024).to_string())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    stuck_client_is_closed(limit, &env).await;
}

async fn stuck_client_is_closed(limit: usize, env: &[(&str, &str)]) {
    let (gateway, fake) = gateway_with_model(env).await;
    // Larger than what the kernel's socket buffers absorb (the send buffer grows to 4 MiB).
    let pieces = chunks(1500, 4000);
    let reply: String = pieces.concat();
    fake.push(Reply::Slow { chunks: pieces, delay_ms: 1 });
    let options = ConnectOptions::new(TOKEN).caps(&[DELTA_TEXT]);
    let tcp = small_buffer_stream(&gateway).await;
    let (mut stuck, hello) = Client::connect_over(&gateway.ws_url(), tcp, &options).await.unwrap();
    assert_eq!(hello["policy"]["maxBufferedBytes"], limit, "the bound is the one announced");
    let stuck_device = options.identity.as_ref().unwrap().device_id();
    let watcher = ConnectOptions::new(TOKEN).caps(&[DELTA_TEXT]).scopes(&["operator.read", "operator.pairing"]);
    let (mut reader, _) = Client::connect(&gateway.ws_url(), &watcher).await.unwrap();
    reader.call("sessions.messages.subscribe", json!({"key": "main"})).await;

    // The stuck client asks for the long reply and then reads nothing.
    stuck
        .send_json(&json!({"type": "req", "id": "s1", "method": "chat.send",
        "params": {"sessionKey": "main", "message": "long", "idempotencyKey": "s1"}}))
        .await;
    let first = reader.event("chat").await["payload"].clone();
    let mut events = vec![first.clone()];
    events.extend(reader.chat_run(first["runId"].as_str().unwrap()).await);
    let streamed: String = events.iter().filter_map(|event| event["deltaText"].as_str()).collect();
    assert_eq!(streamed, reply, "the reading client got every delta");
    assert_eq!(events.last().unwrap()["state"], "final");
    // The gateway dropped the stuck client (its device went offline) while the reply streamed.
    let offline = json!({"deviceId": stuck_device, "connected": false});
    let mut seen = Vec::new();
    for _ in 0..10 {
        seen.push(reader.event("device.presence").await["payload"].clone());
        if seen.last() == Some(&offline) {
            break;
        }
    }
    assert_eq!(seen.last(), Some(&offline), "presence events: {seen:?}");

    // What was already in the socket's buffers, then the close frame with the reason.
    let (frames, close) = stuck.read_to_close(100_000).await;
    let close = close.expect("a close frame after what was already in flight");
    assert_eq!(u16::from(close.code), 1008);
    assert!(close.reason.starts_with("client too slow: "), "reason: {}", close.reason);
    assert!(close.reason.ends_with(" bytes queued"), "reason: {}", close.reason);
    assert!(
        !frames.iter().any(|frame| frame["payload"]["state"] == "final"),
        "the stuck client was closed before the reply ended"
    );
    let health = reader.call("health", json!({})).await;
    assert_eq!(health["ok"], true, "the gateway still serves");
    gateway.stop().await.unwrap();
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Tries an upgrade; the HTTP status and JSON body when it is refused.
async fn try_connect(gateway: &TestGateway) -> Result<Socket, (u16, Value)> {
    match tokio_tungstenite::connect_async_with_config(gateway.ws_url(), None, true).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            let body = response.body().as_deref().map(|body| serde_json::from_slice(body).unwrap());
            Err((response.status().as_u16(), body.unwrap_or(Value::Null)))
        }
        Err(error) => panic!("unexpected connect error: {error}"),
    }
}

#[tokio::test]
async fn the_connection_cap_refuses_one_more_with_503_and_accepts_again_after_a_close() {
    let gateway = TestGateway::start(&[("MOLT_MAX_CONNECTIONS", "2")]).await;
    let (first, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    let (mut second, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    let refused = tokio_tungstenite::connect_async_with_config(gateway.ws_url(), None, true)
        .await
        .expect_err("a third is refused");
    let tokio_tungstenite::tungstenite::Error::Http(response) = refused else { panic!("HTTP refusal: {refused}") };
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers()["retry-after"], "5");
    let body: Value = serde_json::from_slice(response.body().as_deref().unwrap()).unwrap();
    assert_eq!(body["error"], "too many connections");
    assert_eq!(body["maxConnections"], 2);
    assert!(body["reason"].as_str().unwrap().contains("at most 2 connections"), "{body}");
    let health = second.call("health", json!({})).await;
    assert_eq!(health["ok"], true, "open connections keep working");

    first.close().await;
    // The slot is free once the gateway has seen the close; retry a bounded number of times.
    let mut accepted = None;
    for _ in 0..200 {
        match try_connect(&gateway).await {
            Ok(client) => {
                accepted = Some(client);
                break;
            }
            Err((503, _)) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            Err(other) => panic!("unexpected refusal: {other:?}"),
        }
    }
    assert!(accepted.is_some(), "a connection is accepted again after one closed");
    gateway.stop().await.unwrap();
}
