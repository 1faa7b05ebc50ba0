//! `molt tail --gateway`: a small client of the gateway protocol that connects with the gateway
//! token (scope `operator.admin`) and polls `logs.tail` with its cursor, printing each line.

use std::path::Path;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use super::deployment::{load_config, open_store};
use super::error::{Hint, UserError};
use super::gateway_url::{self, GatewayUrl};
use super::output::{self, Paint, Stream};
use super::tail_text::{format_ms, redact_tokens};
use crate::core::secret::Secret;
use crate::core::settings::{GatewayFlags, Settings};

const WAIT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_secs(1);
const CLIENT_ID: &str = "molt-cli";
const CLIENT_MODE: &str = "cli";
const SCOPES: &[&str] = &["operator.admin"];

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What `molt tail --gateway` was asked for.
pub struct Options<'a> {
    pub url: Option<&'a str>,
    /// The deploy folder, whose stored gateway token is used when the environment has none.
    pub dir: &'a Path,
    pub json: bool,
    pub follow: bool,
}

pub async fn run(options: Options<'_>) -> anyhow::Result<()> {
    let settings = Settings::from_process(&GatewayFlags::default()).map_err(UserError::from)?;
    let url =
        gateway_url::resolve(options.url).map_err(UserError::from)?.unwrap_or_else(|| GatewayUrl::local(&settings));
    let token = token(options.dir, &url, &settings)?;
    let mut socket = connect(&url, &token).await?;
    let paint = Paint::for_stream(Stream::Stdout);
    let mut cursor: Option<u64> = None;
    let mut id = 0u64;
    loop {
        id += 1;
        let mut params = json!({"limit": 500});
        if let Some(cursor) = cursor {
            params["cursor"] = json!(cursor);
        }
        let payload = request(&mut socket, &format!("t{id}"), "logs.tail", params).await?;
        if payload["truncated"] == true {
            output::note("some lines were dropped before they could be read");
        }
        let mut stdout = std::io::stdout().lock();
        for line in payload["lines"].as_array().into_iter().flatten().filter_map(Value::as_str) {
            let text = redact_tokens(&if options.json { line.to_owned() } else { render(line, &paint) });
            output::line(&mut stdout, text)?;
        }
        cursor = payload["cursor"].as_u64();
        if !options.follow {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}

/// `MOLT_GATEWAY_TOKEN`, the deployment's stored token, or, for a loopback URL only, the local
/// gateway's token file.
fn token(dir: &Path, url: &GatewayUrl, settings: &Settings) -> Result<Secret, UserError> {
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    if let Some(token) = &settings.gateway_token {
        return Ok(token.clone());
    }
    if let Ok((_, deploy)) = load_config(dir)
        && let Ok(store) = open_store(&deploy.worker_name, &env)
        && let Ok(mut secrets) = store.load()
        && let Some(token) = secrets.remove("MOLTBOT_GATEWAY_TOKEN")
    {
        return Ok(token);
    }
    url.local_token(&settings.data_dir).ok_or_else(|| LogsError::NoToken.into())
}

async fn connect(url: &GatewayUrl, token: &Secret) -> Result<Socket, UserError> {
    let websocket = url.websocket();
    let unreachable = |reason: String| LogsError::Unreachable { url: websocket.clone(), reason };
    let connecting = tokio_tungstenite::connect_async_with_config(websocket.as_str(), None, true);
    let (mut socket, _) = tokio::time::timeout(WAIT, connecting)
        .await
        .map_err(|_| unreachable("no answer within 10 s".into()))?
        .map_err(|error| unreachable(error.to_string()))?;
    let challenge = next_json(&mut socket).await?;
    let nonce = challenge["payload"]["nonce"].as_str().unwrap_or_default().to_owned();
    let mut params = json!({
        "minProtocol": 3,
        "maxProtocol": 4,
        "client": {"id": CLIENT_ID, "version": crate::VERSION, "platform": std::env::consts::OS, "mode": CLIENT_MODE, "deviceFamily": "desktop"},
        "role": "operator",
        "scopes": SCOPES,
        "caps": [crate::core::frames::CAP_CHAT_DELTA_TEXT],
        "auth": {"token": token.expose()},
    });
    if !url.is_loopback() {
        params["device"] = device_proof(token, &nonce);
    }
    request(&mut socket, "connect", "connect", params).await?;
    Ok(socket)
}

/// An Ed25519 identity for this run, signing the v3 connect payload.
fn device_proof(token: &Secret, nonce: &str) -> Value {
    let key = SigningKey::from_bytes(&rand::random());
    let public = key.verifying_key().to_bytes();
    let device_id = hex::encode(Sha256::digest(public));
    let signed_at = crate::core::time::now_ms();
    let platform = std::env::consts::OS.to_ascii_lowercase();
    let payload = format!(
        "v3|{device_id}|{CLIENT_ID}|{CLIENT_MODE}|operator|{}|{signed_at}|{}|{nonce}|{platform}|desktop",
        SCOPES.join(","),
        token.expose()
    );
    json!({
        "id": device_id,
        "publicKey": URL_SAFE_NO_PAD.encode(public),
        "signature": URL_SAFE_NO_PAD.encode(key.sign(payload.as_bytes()).to_bytes()),
        "signedAt": signed_at,
        "nonce": nonce,
    })
}

async fn request(socket: &mut Socket, id: &str, method: &str, params: Value) -> Result<Value, UserError> {
    let frame = json!({"type": "req", "id": id, "method": method, "params": params});
    socket.send(Message::Text(frame.to_string().into())).await.map_err(|error| LogsError::Failed(error.to_string()))?;
    loop {
        let frame = next_json(socket).await?;
        if frame["type"] != "res" || frame["id"] != id {
            continue;
        }
        if frame["ok"] == true {
            return Ok(frame["payload"].clone());
        }
        let error = &frame["error"];
        let code = error["details"]["code"].as_str().or(error["code"].as_str()).unwrap_or("UNKNOWN");
        return Err(LogsError::Refused {
            method: method.to_owned(),
            message: error["message"].as_str().unwrap_or_default().to_owned(),
            code: code.to_owned(),
        }
        .into());
    }
}

async fn next_json(socket: &mut Socket) -> Result<Value, UserError> {
    loop {
        let message = tokio::time::timeout(WAIT, socket.next()).await.map_err(|_| LogsError::Silent)?;
        match message {
            Some(Ok(Message::Text(text))) => {
                if let Ok(value) = serde_json::from_str(&text) {
                    return Ok(value);
                }
            }
            Some(Ok(Message::Close(frame))) => {
                let reason = frame.map(|frame| frame.reason.to_string()).filter(|reason| !reason.is_empty());
                let reason = reason.map(|reason| format!(": {reason}")).unwrap_or_default();
                return Err(LogsError::Closed(reason).into());
            }
            None => return Err(LogsError::Closed(String::new()).into()),
            Some(Ok(_)) => continue,
            Some(Err(error)) => return Err(LogsError::Failed(error.to_string()).into()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum LogsError {
    #[error(
        "no gateway token: `MOLT_GATEWAY_TOKEN` is unset, no deployment stores one, and a local gateway's token goes to loopback URLs only"
    )]
    NoToken,
    #[error("cannot connect to the gateway at `{url}`: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the gateway refused `{method}`: {message} ({code})")]
    Refused { method: String, message: String, code: String },
    #[error("the gateway did not answer within 10 s")]
    Silent,
    /// `: reason` when the close frame gave one.
    #[error("the gateway closed the connection{0}")]
    Closed(String),
    #[error("the gateway connection failed: {0}")]
    Failed(String),
}

impl Hint for LogsError {
    fn hint(&self) -> Option<String> {
        let again = "run `molt tail --gateway` again";
        Some(
            match self {
                Self::NoToken => "set `MOLT_GATEWAY_TOKEN`, or run `molt init` for a deployment",
                Self::Unreachable { .. } => "start it with `molt gateway`, or pass `--url`",
                Self::Refused { code, .. } => match code.as_str() {
                    "AUTH_TOKEN_MISMATCH" => {
                        "use the deployment's token (`molt secrets get MOLTBOT_GATEWAY_TOKEN`) or set \
                         `MOLT_GATEWAY_TOKEN`"
                    }
                    "PAIRING_REQUIRED" | "NOT_PAIRED" => {
                        "this gateway needs an approved device; run `molt tail --gateway` on its own host"
                    }
                    _ => "check the gateway's version with `molt doctor`",
                },
                Self::Silent => "check it with `molt doctor`",
                Self::Closed(_) | Self::Failed(_) => again,
            }
            .into(),
        )
    }
}

/// A ring line (`{ts, level, target, message, fields}`) as one readable line.
pub fn render(line: &str, paint: &Paint) -> String {
    let Ok(value) = serde_json::from_str::<Value>(line) else {
        return line.to_owned();
    };
    let time = value["ts"].as_i64().map(format_ms).unwrap_or_default();
    let level = value["level"].as_str().unwrap_or("INFO");
    let painted = match level {
        "ERROR" => paint.red(level),
        "WARN" => paint.yellow(level),
        _ => paint.dim(level),
    };
    let mut out = format!(
        "{} {painted:>5} {}: {}",
        paint.dim(&time),
        value["target"].as_str().unwrap_or_default(),
        value["message"].as_str().unwrap_or_default()
    );
    if let Some(fields) = value["fields"].as_object() {
        for (name, field) in fields {
            let shown = field.as_str().map_or_else(|| field.to_string(), str::to_owned);
            out.push_str(&format!(" {name}={shown}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_lines_render_as_one_readable_line() {
        let line = r#"{"ts":1795953600000,"level":"WARN","target":"molt::daemon","message":"slow","fields":{"ms":12}}"#;
        assert_eq!(render(line, &Paint::new(false)), "2026-11-29T12:00:00.000Z  WARN molt::daemon: slow ms=12");
        assert_eq!(render("not json", &Paint::new(false)), "not json");
    }
}
