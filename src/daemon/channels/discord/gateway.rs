//! The Discord Gateway v10 loop over tokio-tungstenite: hello → identify (or resume) →
//! dispatches, with heartbeats (the first after a random share of the interval), a missed
//! ACK treated as a dead connection, op 7 and op 9 handled, and fatal close codes (4014: the
//! message-content intent is off) explained instead of retried.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::Discord;
use crate::core::delay::Limits;
use crate::core::sync::lock;
use crate::daemon::channels::net::{backoff, scrub};
use crate::daemon::channels::{ChannelError, Router};

/// GUILD_MESSAGES | DIRECT_MESSAGES | MESSAGE_CONTENT.
pub const INTENTS: u64 = (1 << 9) | (1 << 12) | (1 << 15);
/// Hello's `heartbeat_interval`: 100 ms to 10 min, Discord's usual 41.25 s when unusable.
const HEARTBEAT_LIMITS: Limits =
    Limits::new(Duration::from_millis(100), Duration::from_secs(10 * 60), Duration::from_millis(41_250));

/// Where a dropped session can be resumed.
#[derive(Debug, Default, Clone)]
struct Session {
    id: Option<String>,
    resume_url: Option<String>,
    seq: Option<u64>,
}

enum End {
    Cancelled,
    /// Reconnect; resume when the session allows it.
    Reconnect(&'static str),
    /// Op 9: Discord asks for a random 1–5 s wait before the next identify.
    InvalidSession,
    /// Never retry: the token or the intents are wrong.
    Fatal(String),
}

pub async fn run(discord: Arc<Discord>, router: Arc<Router>, deaf_after: Duration) {
    super::replay(&discord, &router).await;
    let mut session = Session::default();
    let mut failures = 0u32;
    loop {
        let wait = match connect(&discord, &router, &mut session, deaf_after).await {
            Ok(End::Cancelled) => break,
            Ok(End::Fatal(message)) => {
                tracing::error!(
                    hint = "fix the bot's settings in the Discord developer portal, then restart `molt gateway`",
                    "{message}"
                );
                discord.liveness.error(message);
                break;
            }
            Ok(End::Reconnect(reason)) => {
                failures = 0;
                tracing::info!(reason, resume = session.id.is_some(), "discord gateway: reconnecting");
                Duration::from_millis(rand::rng().random_range(0..250))
            }
            Ok(End::InvalidSession) => {
                tracing::info!(resume = session.id.is_some(), "discord gateway: invalid session");
                Duration::from_millis(rand::rng().random_range(1000..5000))
            }
            Err(ChannelError::RateLimited { retry_after, .. }) => retry_after,
            Err(error) => {
                failures += 1;
                tracing::warn!(%error, "discord gateway failed; reconnecting");
                discord.liveness.error(error.to_string());
                backoff(failures, Duration::from_millis(500), Duration::from_secs(60))
            }
        };
        discord.liveness.reconnecting();
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = discord.cancel.cancelled() => break,
        }
    }
    discord.liveness.disconnected();
}

fn fatal_close(code: u16) -> Option<String> {
    Some(match code {
        4004 => "discord closed the gateway with 4004: the bot token is not valid; set `DISCORD_BOT_TOKEN` to the token on the Bot page".into(),
        4010..=4013 => format!("discord closed the gateway with {code}: the shard or intents molt sent were refused"),
        4014 => "discord closed the gateway with 4014 (disallowed intents): the bot asked for the message-content intent, which is not enabled; hint: turn on `MESSAGE CONTENT INTENT` under Bot → Privileged Gateway Intents in the Discord developer portal".into(),
        _ => return None,
    })
}

/// The heartbeat interval a hello frame (op 10) names, clamped; `None` when it is no hello.
pub fn hello_interval(text: &str) -> Option<Duration> {
    serde_json::from_str::<Value>(text)
        .ok()
        .filter(|hello| hello["op"] == 10)
        .and_then(|hello| hello["d"]["heartbeat_interval"].as_f64())
        .map(|millis| HEARTBEAT_LIMITS.millis(millis))
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// One gateway connection, from opening it to the reason it ended: heartbeats at the interval
/// Hello named (the first after a random part of it), a missed ACK or silence past the deaf
/// bound ends it, and each frame goes to [`on_payload`].
async fn connect(
    discord: &Arc<Discord>,
    router: &Arc<Router>,
    session: &mut Session,
    deaf_after: Duration,
) -> Result<End, ChannelError> {
    let (mut socket, interval) = open(discord, session).await?;
    let network = network_error(discord);
    let jitter: f64 = rand::rng().random_range(0.0..1.0);
    let mut next_beat = Instant::now() + interval.mul_f64(jitter);
    let mut acked = true;
    let mut last_frame = Instant::now();
    loop {
        let frame = tokio::select! {
            frame = socket.next() => frame,
            () = tokio::time::sleep_until(next_beat) => {
                if !acked {
                    discord.liveness.error("no heartbeat ACK: the connection is dead");
                    return Ok(close(&mut socket, Some(4000), "zombied connection", End::Reconnect("missed heartbeat ACK")).await);
                }
                if last_frame.elapsed() > deaf_after.max(interval * 2) {
                    discord.liveness.error("no frame within the deaf bound");
                    return Ok(End::Reconnect("deaf"));
                }
                socket.send(heartbeat(session)).await.map_err(&network)?;
                acked = false;
                next_beat = Instant::now() + interval;
                continue;
            }
            () = discord.cancel.cancelled() => return Ok(close(&mut socket, None, "", End::Cancelled).await),
        };
        let Some(Ok(frame)) = frame else { return Ok(End::Reconnect("connection dropped")) };
        last_frame = Instant::now();
        let text = match frame {
            Message::Text(text) => text,
            Message::Close(close) => {
                let code = close.as_ref().map_or(1005, |close| u16::from(close.code));
                if let Some(message) = fatal_close(code) {
                    return Ok(End::Fatal(message));
                }
                if matches!(code, 4007 | 4009) {
                    *session = Session::default();
                }
                discord.liveness.error(format!("discord closed the gateway with {code}"));
                return Ok(End::Reconnect("closed by discord"));
            }
            _ => continue,
        };
        let Ok(payload) = serde_json::from_str::<Value>(&text) else { continue };
        match on_payload(discord, router, session, &payload).await {
            Step::Continue => {}
            Step::Acked => acked = true,
            Step::Beat => socket.send(heartbeat(session)).await.map_err(&network)?,
            Step::Close(code, reason, end) => return Ok(close(&mut socket, code, reason, end).await),
        }
    }
}

/// What a payload asks of the connection.
enum Step {
    Continue,
    /// op 11: the last heartbeat was acknowledged.
    Acked,
    /// op 1: Discord asks for a heartbeat now.
    Beat,
    /// Close with this code (none: a plain close) and reason, ending so.
    Close(Option<u16>, &'static str, End),
}

/// One gateway payload: a dispatch (READY, RESUMED, MESSAGE_CREATE), or an op that changes
/// the connection (heartbeat request, reconnect, invalid session, heartbeat ACK).
async fn on_payload(discord: &Arc<Discord>, router: &Arc<Router>, session: &mut Session, payload: &Value) -> Step {
    match payload["op"].as_u64() {
        Some(0) => {
            if let Some(seq) = payload["s"].as_u64() {
                session.seq = Some(seq);
            }
            let data = &payload["d"];
            match payload["t"].as_str() {
                Some("READY") => {
                    session.id = data["session_id"].as_str().map(str::to_owned);
                    session.resume_url = data["resume_gateway_url"].as_str().map(str::to_owned);
                    let user = data["user"]["id"].as_str().unwrap_or_default().to_owned();
                    tracing::info!(bot_user = %user, "discord connected");
                    *lock(&discord.bot_user) = user;
                    discord.liveness.connected();
                }
                Some("RESUMED") => discord.liveness.connected(),
                Some("MESSAGE_CREATE") => {
                    if let Err(error) = super::accept(discord, router, data).await {
                        tracing::error!(%error, "cannot record a discord message");
                    }
                }
                _ => discord.liveness.alive(),
            }
            Step::Continue
        }
        Some(1) => Step::Beat,
        Some(7) => Step::Close(Some(4000), "reconnect requested", End::Reconnect("op 7 reconnect")),
        Some(9) => {
            if payload["d"] != true {
                *session = Session::default();
            }
            Step::Close(None, "", End::InvalidSession)
        }
        Some(11) => {
            discord.liveness.alive();
            Step::Acked
        }
        _ => Step::Continue,
    }
}

/// Opens the gateway (the resume URL when resuming, else the one `GET /gateway/bot` names),
/// waits for Hello and answers it with Resume or Identify; the heartbeat interval Hello named.
async fn open(discord: &Arc<Discord>, session: &Session) -> Result<(Socket, Duration), ChannelError> {
    let resuming = session.id.is_some() && session.resume_url.is_some() && session.seq.is_some();
    let base = match (&session.resume_url, resuming) {
        (Some(url), true) => url.clone(),
        _ => {
            let gateway = discord.rest.request(Method::GET, "GET /gateway/bot", "/gateway/bot", None).await?;
            gateway["url"]
                .as_str()
                .ok_or_else(|| ChannelError::Invalid("GET /gateway/bot gave no url".into()))?
                .to_owned()
        }
    };
    // `wss://gateway.discord.gg` gets `/?v=10…`; a URL with a path keeps its path.
    let has_path = base.split_once("://").is_some_and(|(_, rest)| rest.trim_end_matches('/').contains('/'));
    let url = if has_path || base.ends_with('/') {
        format!("{base}?v=10&encoding=json")
    } else {
        format!("{base}/?v=10&encoding=json")
    };
    let network = network_error(discord);
    let (mut socket, _) = tokio::time::timeout(
        Duration::from_secs(15),
        tokio_tungstenite::connect_async_with_config(url.as_str(), None, true),
    )
    .await
    .map_err(|_| ChannelError::Network { platform: "discord", message: "connecting the gateway timed out".into() })?
    .map_err(&network)?;
    // Hello first; its interval paces the heartbeats.
    let hello = tokio::time::timeout(Duration::from_secs(15), socket.next()).await;
    let interval = match hello {
        Ok(Some(Ok(Message::Text(text)))) => hello_interval(&text),
        _ => None,
    }
    .ok_or_else(|| ChannelError::Invalid("the discord gateway did not say hello".into()))?;
    let token = discord.settings.token.expose();
    let answer = if resuming {
        json!({"op": 6, "d": {"token": token, "session_id": session.id, "seq": session.seq}})
    } else {
        json!({"op": 2, "d": {"token": token, "intents": INTENTS, "properties": {"os": std::env::consts::OS, "browser": "molt", "device": "molt"}}})
    };
    socket.send(Message::Text(answer.to_string().into())).await.map_err(&network)?;
    Ok((socket, interval))
}

/// A socket error as the channel reports it, with the bot token scrubbed from the text.
fn network_error(discord: &Discord) -> impl Fn(tokio_tungstenite::tungstenite::Error) -> ChannelError + '_ {
    move |error| ChannelError::Network {
        platform: "discord",
        message: scrub(&error.to_string(), discord.settings.token.expose()),
    }
}

fn heartbeat(session: &Session) -> Message {
    Message::Text(json!({"op": 1, "d": session.seq}).to_string().into())
}

/// Closes the socket (2 s at most) and ends the connection with `end`.
async fn close(socket: &mut Socket, code: Option<u16>, reason: &'static str, end: End) -> End {
    let frame = code.map(|code| CloseFrame { code: CloseCode::from(code), reason: reason.into() });
    let _ = tokio::time::timeout(Duration::from_secs(2), socket.close(frame)).await;
    end
}
