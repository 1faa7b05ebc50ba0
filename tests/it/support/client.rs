//! A gateway protocol client for tests: real WebSocket, real Ed25519 device identity, and
//! helpers to send requests and wait for responses and events with bounded waits.

use std::collections::VecDeque;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(10);

/// An Ed25519 device identity.
#[derive(Clone)]
pub struct Identity {
    pub key: SigningKey,
}

impl Identity {
    pub fn generate() -> Self {
        Self { key: SigningKey::from_bytes(&rand::random()) }
    }

    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.verifying_key().to_bytes())
    }

    pub fn device_id(&self) -> String {
        hex::encode(Sha256::digest(self.key.verifying_key().to_bytes()))
    }

    pub fn sign(&self, payload: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.key.sign(payload.as_bytes()).to_bytes())
    }
}

/// What a `connect` sends; tests change one field to provoke one failure.
#[derive(Clone)]
pub struct ConnectOptions {
    pub token: Option<String>,
    pub device_token: Option<String>,
    pub scopes: Vec<String>,
    pub identity: Option<Identity>,
    pub min_protocol: u64,
    pub max_protocol: u64,
    /// Overrides for the signed fields, to test each signature failure.
    pub nonce_override: Option<Option<String>>,
    pub signed_at_offset_ms: i64,
    pub id_override: Option<String>,
    pub public_key_override: Option<String>,
    pub sign_token_override: Option<String>,
    pub v2: bool,
    pub caps: Vec<String>,
}

impl ConnectOptions {
    pub fn new(token: &str) -> Self {
        Self {
            token: Some(token.into()),
            device_token: None,
            scopes: vec!["operator.read".into(), "operator.write".into()],
            identity: Some(Identity::generate()),
            min_protocol: 3,
            max_protocol: 4,
            nonce_override: None,
            signed_at_offset_ms: 0,
            id_override: None,
            public_key_override: None,
            sign_token_override: None,
            v2: false,
            caps: Vec::new(),
        }
    }

    pub fn caps(mut self, caps: &[&str]) -> Self {
        self.caps = caps.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn scopes(mut self, scopes: &[&str]) -> Self {
        self.scopes = scopes.iter().map(|s| s.to_string()).collect();
        self
    }

    pub fn params(&self, nonce: &str) -> Value {
        let mut auth = json!({});
        if let Some(token) = &self.token {
            auth["token"] = json!(token);
        }
        if let Some(token) = &self.device_token {
            auth["deviceToken"] = json!(token);
        }
        let mut params = json!({
            "minProtocol": self.min_protocol,
            "maxProtocol": self.max_protocol,
            "client": {"id": "molt-test", "version": "0.0.0", "platform": "Linux ", "mode": "test", "deviceFamily": "Server"},
            "role": "operator",
            "scopes": self.scopes,
            "caps": self.caps,
            "auth": auth,
        });
        if let Some(identity) = &self.identity {
            let signed_at = now_ms() + self.signed_at_offset_ms;
            let nonce_sent = match &self.nonce_override {
                Some(value) => value.clone(),
                None => Some(nonce.to_owned()),
            };
            let token = self
                .sign_token_override
                .clone()
                .or_else(|| self.token.clone().or_else(|| self.device_token.clone()))
                .unwrap_or_default();
            let device_id = identity.device_id();
            let scopes = self.scopes.join(",");
            let signed_nonce = nonce_sent.clone().unwrap_or_default();
            let payload = if self.v2 {
                format!("v2|{device_id}|molt-test|test|operator|{scopes}|{signed_at}|{token}|{signed_nonce}")
            } else {
                format!(
                    "v3|{device_id}|molt-test|test|operator|{scopes}|{signed_at}|{token}|{signed_nonce}|linux|server"
                )
            };
            let mut device = json!({
                "id": self.id_override.clone().unwrap_or(device_id),
                "publicKey": self.public_key_override.clone().unwrap_or_else(|| identity.public_key()),
                "signature": identity.sign(&payload),
                "signedAt": signed_at,
            });
            if let Some(nonce) = nonce_sent {
                device["nonce"] = json!(nonce);
            }
            params["device"] = device;
        }
        params
    }
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

pub struct Client {
    socket: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
    /// Events received while waiting for something else.
    pub events: VecDeque<Value>,
    pub challenge: Value,
    /// Bytes of the text frames received so far.
    pub received_bytes: usize,
}

/// A refused connect: the error response and the close frame that followed.
#[derive(Debug)]
pub struct Refused {
    pub response: Option<Value>,
    pub close: Option<CloseFrame>,
}

impl Refused {
    pub fn detail_code(&self) -> String {
        self.response.as_ref().and_then(|r| r["error"]["details"]["code"].as_str()).unwrap_or_default().to_owned()
    }
    pub fn error_code(&self) -> String {
        self.response.as_ref().and_then(|r| r["error"]["code"].as_str()).unwrap_or_default().to_owned()
    }
    pub fn close_code(&self) -> Option<u16> {
        self.close.as_ref().map(|frame| u16::from(frame.code))
    }
}

impl Client {
    /// Opens the socket and reads the challenge.
    pub async fn open(url: &str) -> Self {
        Self::open_with(url, &[]).await
    }

    pub async fn open_with(url: &str, headers: &[(&str, &str)]) -> Self {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = url.into_client_request().expect("request");
        for (name, value) in headers {
            request.headers_mut().insert(
                tokio_tungstenite::tungstenite::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        let (socket, _) =
            tokio_tungstenite::connect_async_with_config(request, None, true).await.expect("websocket connect");
        Self::start(socket).await
    }

    /// Opens the socket over a TCP stream the test prepared (e.g. with a small receive buffer).
    pub async fn open_over(url: &str, tcp: TcpStream) -> Self {
        let (socket, _) =
            tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp)).await.expect("websocket connect");
        Self::start(socket).await
    }

    async fn start(socket: WebSocketStream<MaybeTlsStream<TcpStream>>) -> Self {
        let mut client =
            Self { socket, next_id: 0, events: VecDeque::new(), challenge: Value::Null, received_bytes: 0 };
        let challenge = client.recv_json().await.expect("challenge");
        assert_eq!(challenge["event"], "connect.challenge", "the server speaks first");
        client.challenge = challenge;
        client
    }

    pub fn nonce(&self) -> String {
        self.challenge["payload"]["nonce"].as_str().unwrap().to_owned()
    }

    /// Opens and connects; `Ok` with hello-ok, or the refusal.
    pub async fn connect(url: &str, options: &ConnectOptions) -> Result<(Self, Value), Refused> {
        let mut client = Self::open(url).await;
        let params = options.params(&client.nonce());
        client.handshake(params).await.map(|hello| (client, hello))
    }

    /// Like `connect`, over a TCP stream the test prepared.
    pub async fn connect_over(url: &str, tcp: TcpStream, options: &ConnectOptions) -> Result<(Self, Value), Refused> {
        let mut client = Self::open_over(url, tcp).await;
        let params = options.params(&client.nonce());
        client.handshake(params).await.map(|hello| (client, hello))
    }

    /// Opens, connects with the `pairing-wait` capability, and reads the `device.pair.pending`
    /// event; returns the client (its connect still open, id `c1`) and the request id.
    pub async fn connect_waiting(url: &str, headers: &[(&str, &str)], options: &ConnectOptions) -> (Self, String) {
        let mut client = Self::open_with(url, headers).await;
        let mut params = options.params(&client.nonce());
        params["caps"] = json!(["pairing-wait"]);
        client.send_json(&json!({"type": "req", "id": "c1", "method": "connect", "params": params})).await;
        let pending = client.recv_json().await.expect("pending event");
        assert_eq!(pending["event"], "device.pair.pending", "{pending}");
        let request_id = pending["payload"]["requestId"].as_str().expect("request id").to_owned();
        (client, request_id)
    }

    pub async fn handshake(&mut self, params: Value) -> Result<Value, Refused> {
        self.send_json(&json!({"type": "req", "id": "c1", "method": "connect", "params": params})).await;
        let response = self.recv_json().await;
        match response {
            Some(response) if response["ok"] == true => Ok(response["payload"].clone()),
            response => Err(Refused { response, close: self.recv_close().await }),
        }
    }

    pub async fn send_json(&mut self, value: &Value) {
        self.send_text(&value.to_string()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.socket.send(Message::Text(text.into())).await.expect("send");
    }

    /// The next text frame as JSON, or `None` when the socket closed.
    pub async fn recv_json(&mut self) -> Option<Value> {
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next()).await.expect("no frame within the wait")?;
            match message.ok()? {
                Message::Text(text) => {
                    self.received_bytes += text.len();
                    return Some(serde_json::from_str(&text).expect("server frames are JSON"));
                }
                Message::Close(_) => return None,
                _ => continue,
            }
        }
    }

    /// Waits for the close frame (skipping anything else).
    pub async fn recv_close(&mut self) -> Option<CloseFrame> {
        loop {
            let message = tokio::time::timeout(WAIT, self.socket.next()).await.expect("no close within the wait")?;
            match message {
                Ok(Message::Close(frame)) => return frame,
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    }

    /// Reads at most `limit` frames until the socket closes: the text frames as JSON and the
    /// close frame (`None` when the socket ended without one).
    pub async fn read_to_close(&mut self, limit: usize) -> (Vec<Value>, Option<CloseFrame>) {
        let mut frames = Vec::new();
        for _ in 0..limit {
            let message = tokio::time::timeout(WAIT, self.socket.next()).await.expect("no frame within the wait");
            match message {
                Some(Ok(Message::Text(text))) => {
                    self.received_bytes += text.len();
                    frames.push(serde_json::from_str(&text).expect("server frames are JSON"));
                }
                Some(Ok(Message::Close(frame))) => return (frames, frame),
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return (frames, None),
            }
        }
        panic!("the socket did not close within {limit} frames");
    }

    /// Sends a request and returns its response frame; events that arrive first are kept.
    pub async fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = format!("r{}", self.next_id);
        self.send_json(&json!({"type": "req", "id": id, "method": method, "params": params})).await;
        loop {
            let frame = self.recv_json().await.expect("socket closed while waiting for a response");
            if frame["type"] == "res" && frame["id"] == id.as_str() {
                return frame;
            }
            if frame["type"] == "event" {
                self.events.push_back(frame);
            }
        }
    }

    /// The payload of a successful request (panics with the error otherwise).
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let response = self.request(method, params).await;
        assert_eq!(response["ok"], true, "{method} failed: {response}");
        response["payload"].clone()
    }

    /// The next event named `name` (earlier ones of other names are kept).
    pub async fn event(&mut self, name: &str) -> Value {
        if let Some(index) = self.events.iter().position(|event| event["event"] == name) {
            return self.events.remove(index).unwrap();
        }
        loop {
            let frame = self.recv_json().await.unwrap_or_else(|| panic!("socket closed while waiting for `{name}`"));
            if frame["type"] == "event" && frame["event"] == name {
                return frame;
            }
            if frame["type"] == "event" {
                self.events.push_back(frame);
            }
        }
    }

    /// The events named `name` received so far and kept while waiting for others, in order.
    pub fn take_held(&mut self, name: &str) -> Vec<Value> {
        let (taken, kept) = std::mem::take(&mut self.events).into_iter().partition(|event| event["event"] == name);
        self.events = kept;
        taken.into_iter().collect()
    }

    /// `chat` events of one run until its terminal state (final, aborted or error).
    pub async fn chat_run(&mut self, run_id: &str) -> Vec<Value> {
        let mut seen = Vec::new();
        loop {
            let event = self.event("chat").await;
            let payload = event["payload"].clone();
            if payload["runId"] != run_id {
                continue;
            }
            let state = payload["state"].as_str().unwrap_or_default().to_owned();
            seen.push(payload);
            if state != "delta" {
                return seen;
            }
        }
    }

    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}
