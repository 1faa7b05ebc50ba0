//! The connection task: opens the WebSocket (ws:// or wss:// with rustls), answers the
//! challenge, waits for approval when the gateway holds the connect, then relays requests and
//! frames between the socket and the app. Reconnects with jittered backoff; never logs.

use std::path::PathBuf;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tokio_util::sync::CancellationToken;

use super::app::{Disconnect, Event, Hello, Reason};
use super::connect::{self, Credential};
use super::identity::{Identity, TokenStore};
use super::wire::ServerError;
use crate::core::secret::Secret;
use crate::core::time::now_ms;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const OPEN_TIMEOUT: Duration = Duration::from_secs(10);
const BACKOFF_START_MS: u64 = 500;
const BACKOFF_CAP_MS: u64 = 15_000;
/// How long to wait after the gateway refused the credentials: a new token needs a person.
const REFUSED_RETRY_MS: u64 = 30_000;

/// What the connection task needs.
pub struct ClientSettings {
    /// `ws://…/ws` or `wss://…/ws`.
    pub url: String,
    pub gateway_token: Option<Secret>,
    /// Cloudflare Access service token: client id and secret.
    pub access: Option<(String, Secret)>,
    pub identity: Identity,
    pub config_dir: PathBuf,
    pub display_name: String,
}

/// A request from the app.
#[derive(Debug)]
pub struct Call {
    pub id: u64,
    pub method: &'static str,
    pub params: Value,
}

/// Why one connection attempt or session ended.
enum Failure {
    Unreachable(String),
    Http(u16),
    Refused(ServerError),
    Closed(String),
    Stopped,
}

/// Runs until `shutdown`: connect, relay, reconnect.
pub async fn run(
    settings: ClientSettings,
    mut calls: mpsc::Receiver<Call>,
    events: mpsc::Sender<Event>,
    shutdown: CancellationToken,
) {
    let tokens = TokenStore::new(&settings.config_dir);
    let mut attempt: u32 = 0;
    loop {
        attempt += 1;
        let _ = events.send(Event::Connecting { attempt }).await;
        let credential = match (&settings.gateway_token, tokens.get(&settings.url, now_ms())) {
            (Some(token), _) => Credential::Gateway(token.clone()),
            (None, Some(token)) => Credential::Device(token),
            (None, None) => Credential::None,
        };
        let failure = tokio::select! {
            () = shutdown.cancelled() => Failure::Stopped,
            failure = session(&settings, &tokens, &credential, &mut calls, &events, &shutdown, &mut attempt) => failure,
        };
        let (reason, retry_in_ms) = match failure {
            Failure::Stopped => return,
            Failure::Refused(error)
                if error.detail == "AUTH_DEVICE_TOKEN_MISMATCH"
                    && matches!(credential, Credential::Device(_))
                    && tokens.remove(&settings.url).is_ok() =>
            {
                // The stored token expired or was revoked: it is forgotten; try without it at once.
                continue;
            }
            Failure::Refused(error) => classify(error, attempt),
            Failure::Unreachable(message) => (Reason::Unreachable(message), Some(backoff(attempt))),
            Failure::Http(status @ (401 | 403)) => (Reason::AccessDenied(status), Some(REFUSED_RETRY_MS)),
            Failure::Http(status) => {
                (Reason::Unreachable(format!("the WebSocket upgrade answered HTTP {status}")), Some(backoff(attempt)))
            }
            Failure::Closed(message) => (Reason::Closed(message), Some(backoff(attempt))),
        };
        let _ = events.send(Event::Disconnected(Disconnect { reason, retry_in_ms })).await;
        let wait = retry_in_ms.map_or(Duration::MAX, Duration::from_millis);
        let sleep = tokio::time::sleep(wait.min(Duration::from_secs(86_400)));
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = &mut sleep => break,
                call = calls.recv() => match call {
                    Some(call) => refuse(&events, call.id).await,
                    None => return,
                },
            }
        }
    }
}

fn classify(error: ServerError, attempt: u32) -> (Reason, Option<u64>) {
    match error.detail.as_str() {
        "AUTH_TOKEN_MISSING" | "AUTH_TOKEN_MISMATCH" | "AUTH_DEVICE_TOKEN_MISMATCH" => {
            (Reason::TokenRefused(error.message), Some(REFUSED_RETRY_MS))
        }
        "PAIRING_REJECTED" => (Reason::PairingRejected, None),
        "PAIRING_EXPIRED" | "PAIRING_REQUIRED" | "PAIRING_ABANDONED" => {
            (Reason::Refused(error), Some(BACKOFF_START_MS))
        }
        _ => {
            let retry = error.retry_after_ms.unwrap_or_else(|| backoff(attempt).max(5_000));
            (Reason::Refused(error), Some(retry))
        }
    }
}

/// 0.5 s doubling to 15 s, each wait between half and all of its step.
fn backoff(attempt: u32) -> u64 {
    let step = BACKOFF_START_MS.saturating_mul(1 << attempt.saturating_sub(1).min(10)).min(BACKOFF_CAP_MS);
    step / 2 + rand::random_range(0..=step / 2)
}

async fn refuse(events: &mpsc::Sender<Event>, call: u64) {
    let result = Err(ServerError::local("not connected to the gateway"));
    let _ = events.send(Event::Response { call, result }).await;
}

/// One connection: open, handshake, relay until it ends.
async fn session(
    settings: &ClientSettings,
    tokens: &TokenStore,
    credential: &Credential,
    calls: &mut mpsc::Receiver<Call>,
    events: &mpsc::Sender<Event>,
    shutdown: &CancellationToken,
    attempt: &mut u32,
) -> Failure {
    let mut socket = match open(settings).await {
        Ok(socket) => socket,
        Err(failure) => return failure,
    };
    let hello = match handshake(&mut socket, settings, credential, events).await {
        Ok(hello) => hello,
        Err(failure) => return failure,
    };
    if let Some(token) = hello["auth"]["deviceToken"].as_str().filter(|token| !token.is_empty()) {
        // Best effort: without it the next connect uses the gateway token again.
        let _ = tokens.put(&settings.url, &Secret::new(token), hello["auth"]["deviceTokenExpiresAtMs"].as_i64());
    }
    *attempt = 0;
    let scopes = hello["auth"]["scopes"].as_array().map(Vec::as_slice).unwrap_or_default();
    let hello_event = Hello {
        server_version: hello["server"]["version"].as_str().unwrap_or_default().to_owned(),
        scopes: scopes.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
    };
    let _ = events.send(Event::Connected(hello_event)).await;
    let tick_ms = hello["policy"]["tickIntervalMs"].as_u64().unwrap_or(30_000).clamp(1_000, 300_000);
    // A half-open socket never closes by itself: two and a half silent tick intervals end it.
    let silence = Duration::from_millis(tick_ms.saturating_mul(5) / 2);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => {
                let _ = socket.close(None).await;
                return Failure::Stopped;
            }
            call = calls.recv() => {
                let Some(call) = call else { return Failure::Stopped };
                let frame = json!({"type": "req", "id": call.id.to_string(), "method": call.method, "params": call.params});
                if let Err(error) = socket.send(Message::Text(frame.to_string().into())).await {
                    refuse(events, call.id).await;
                    return Failure::Closed(error.to_string());
                }
            }
            frame = tokio::time::timeout(silence, socket.next()) => match frame {
                Err(_) => return Failure::Closed("no traffic from the gateway".to_owned()),
                Ok(None) => return Failure::Closed("the connection ended".to_owned()),
                Ok(Some(Err(error))) => return Failure::Closed(error.to_string()),
                Ok(Some(Ok(Message::Close(frame)))) => {
                    let reason = frame.map(|frame| frame.reason.to_string()).filter(|reason| !reason.is_empty());
                    return Failure::Closed(reason.unwrap_or_else(|| "the gateway closed the connection".to_owned()));
                }
                Ok(Some(Ok(Message::Text(text)))) => relay(&text, events).await,
                Ok(Some(Ok(_))) => {}
            },
        }
    }
}

/// Hands one text frame to the app: a response by its id, or an event by its name.
async fn relay(text: &str, events: &mpsc::Sender<Event>) {
    let Ok(frame) = serde_json::from_str::<Value>(text) else { return };
    let event = match frame["type"].as_str() {
        Some("res") => {
            let Some(call) = frame["id"].as_str().and_then(|id| id.parse().ok()) else { return };
            let result = if frame["ok"] == true {
                Ok(frame["payload"].clone())
            } else {
                Err(ServerError::from_json(&frame["error"]))
            };
            Event::Response { call, result }
        }
        Some("event") => {
            let Some(name) = frame["event"].as_str() else { return };
            Event::Server { name: name.to_owned(), payload: frame["payload"].clone() }
        }
        _ => return,
    };
    let _ = events.send(event).await;
}

/// The upgrade request: the URL, and Access's service-token headers when configured.
fn upgrade_request(settings: &ClientSettings) -> Result<tungstenite::handshake::client::Request, Failure> {
    let mut request = settings
        .url
        .as_str()
        .into_client_request()
        .map_err(|error| Failure::Unreachable(format!("invalid URL: {error}")))?;
    if let Some((id, secret)) = &settings.access {
        let header = |value: &str| {
            HeaderValue::from_str(value).map_err(|_| Failure::Unreachable("invalid Access credentials".to_owned()))
        };
        let headers = request.headers_mut();
        headers.insert("CF-Access-Client-Id", header(id)?);
        headers.insert("CF-Access-Client-Secret", header(secret.expose())?);
    }
    Ok(request)
}

async fn open(settings: &ClientSettings) -> Result<Socket, Failure> {
    let request = upgrade_request(settings)?;
    match tokio::time::timeout(OPEN_TIMEOUT, tokio_tungstenite::connect_async_with_config(request, None, true)).await {
        Err(_) => Err(Failure::Unreachable("no answer within 10 s".to_owned())),
        Ok(Ok((socket, _))) => Ok(socket),
        Ok(Err(tungstenite::Error::Http(response))) => Err(Failure::Http(response.status().as_u16())),
        Ok(Err(tungstenite::Error::Io(error))) => Err(Failure::Unreachable(error.kind().to_string())),
        Ok(Err(error)) => Err(Failure::Unreachable(error.to_string())),
    }
}

async fn next_json(socket: &mut Socket, wait: Option<Duration>) -> Result<Value, Failure> {
    loop {
        let next = match wait {
            Some(wait) => tokio::time::timeout(wait, socket.next())
                .await
                .map_err(|_| Failure::Closed("the gateway did not answer the handshake".to_owned()))?,
            None => socket.next().await,
        };
        match next {
            None => return Err(Failure::Closed("the connection ended during the handshake".to_owned())),
            Some(Err(error)) => return Err(Failure::Closed(error.to_string())),
            Some(Ok(Message::Text(text))) => {
                if let Ok(value) = serde_json::from_str(&text) {
                    return Ok(value);
                }
            }
            Some(Ok(Message::Close(frame))) => {
                let reason = frame.map(|frame| frame.reason.to_string()).unwrap_or_default();
                return Err(Failure::Closed(
                    format!("the gateway closed the connection {reason}").trim_end().to_owned(),
                ));
            }
            Some(Ok(_)) => {}
        }
    }
}

/// Challenge → connect → (pairing wait) → hello-ok payload.
async fn handshake(
    socket: &mut Socket,
    settings: &ClientSettings,
    credential: &Credential,
    events: &mpsc::Sender<Event>,
) -> Result<Value, Failure> {
    let challenge = next_json(socket, Some(OPEN_TIMEOUT)).await?;
    let Some(nonce) = challenge["payload"]["nonce"].as_str().filter(|_| challenge["event"] == "connect.challenge")
    else {
        return Err(Failure::Closed("the server did not send a connect challenge; is this a molt gateway?".to_owned()));
    };
    let params = connect::params(&settings.identity, credential, nonce, now_ms(), &settings.display_name);
    let request = json!({"type": "req", "id": "connect", "method": "connect", "params": params});
    socket.send(Message::Text(request.to_string().into())).await.map_err(|error| Failure::Closed(error.to_string()))?;
    let mut wait = Some(OPEN_TIMEOUT);
    loop {
        let frame = next_json(socket, wait).await?;
        if frame["type"] == "event" && frame["event"] == "device.pair.pending" {
            // The gateway holds the connect until an operator answers; it bounds the wait.
            wait = None;
            let request_id = frame["payload"]["requestId"].as_str().unwrap_or_default().to_owned();
            let _ = events.send(Event::WaitingApproval { request_id }).await;
        } else if frame["type"] == "res" && frame["id"] == "connect" {
            if frame["ok"] == true {
                return Ok(frame["payload"].clone());
            }
            return Err(Failure::Refused(ServerError::from_json(&frame["error"])));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_service_token_headers_go_on_the_upgrade() {
        let settings = ClientSettings {
            url: "wss://molt.example.workers.dev/ws".to_owned(),
            gateway_token: None,
            access: Some(("client-id.access".to_owned(), Secret::new("access-secret"))),
            identity: Identity::from_seed([1; 32]),
            config_dir: PathBuf::from("/nonexistent"),
            display_name: "molt chat".to_owned(),
        };
        let Ok(request) = upgrade_request(&settings) else { panic!("request") };
        assert_eq!(request.uri().to_string(), "wss://molt.example.workers.dev/ws");
        assert_eq!(request.headers()["CF-Access-Client-Id"], "client-id.access");
        assert_eq!(request.headers()["CF-Access-Client-Secret"], "access-secret");
        let plain = ClientSettings { access: None, ..settings };
        let Ok(request) = upgrade_request(&plain) else { panic!("request") };
        assert!(request.headers().get("CF-Access-Client-Id").is_none());
    }

    #[test]
    fn backoff_doubles_to_a_cap_with_jitter() {
        for _ in 0..50 {
            assert!((250..=500).contains(&backoff(1)));
            assert!((1_000..=2_000).contains(&backoff(3)));
            assert!((7_500..=15_000).contains(&backoff(30)));
        }
    }

    #[test]
    fn refusals_choose_their_screen_and_retry() {
        let refused = |detail: &str| ServerError { detail: detail.to_owned(), ..ServerError::local("no") };
        assert_eq!(classify(refused("PAIRING_REJECTED"), 1), (Reason::PairingRejected, None));
        assert!(matches!(classify(refused("AUTH_TOKEN_MISMATCH"), 1), (Reason::TokenRefused(_), Some(30_000))));
        let limited = ServerError { retry_after_ms: Some(4_000), ..refused("AUTH_RATE_LIMITED") };
        assert_eq!(classify(limited, 1).1, Some(4_000));
    }
}
