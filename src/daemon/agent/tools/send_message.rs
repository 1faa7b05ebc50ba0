//! `send_message`: sends a text on the operator's behalf, outside any reply, to a chat molt
//! already knows: a Telegram, Discord or Slack chat the operator paired or allowlisted (or one
//! of the operator's own chat IDs from the environment), or a session of the web page and
//! `molt chat`. Any other target is refused before anything is sent. Every attempt is in the
//! audit log with who asked, the target and the size, never the text. The platforms are reached
//! through [`Outbound`], which the running channels implement; this file knows no platform.

use std::sync::Arc;

use futures_util::future::BoxFuture;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Access, Registry, Tool, ToolContext, ToolError, ToolFuture, arguments};
use crate::core::asker::{Asker, OperatorIds};
use crate::core::ids::{MAIN_SESSION, RunId, SessionKey};
use crate::core::pairing::CHANNELS;
use crate::core::protocol::events::AuditAppended;
use crate::core::protocol::sessions::ChangeReason;
use crate::core::protocol::{AssistantMessage, ChatEvent, ChatStep, Usage};
use crate::core::settings::ToolSettings;
use crate::daemon::events::EventBus;
use crate::daemon::providers::ToolSpec;
use crate::daemon::store::{MessageRole, NewMessage, Store};

pub const SEND_MESSAGE: &str = "send_message";
/// Longest text sent at once: a few messages on any platform.
const MAX_TEXT_CHARS: usize = 16_000;
/// What a stored web message gives as its stop reason.
const STOP_REASON: &str = "send_message";

/// The chat platforms' side of a send. Implemented by the gateway's running channels.
pub trait Outbound: Send + Sync {
    /// Sends `text` to chat `chat_id` on `channel` (`telegram`, `discord`, `slack`), split at
    /// the platform's length limit; answers how many messages it took.
    fn send<'a>(
        &'a self,
        channel: &'a str,
        chat_id: &'a str,
        text: &'a str,
    ) -> BoxFuture<'a, Result<usize, OutboundError>>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundError {
    #[error("{0} is not configured on this gateway")]
    NotRunning(String),
    /// `sent` of the text's `total` messages went out before `error`.
    #[error("{error}{}", progress(.sent, .total))]
    Failed { sent: usize, total: usize, error: String },
}

/// How far a failed send got, when it got anywhere.
fn progress(sent: &usize, total: &usize) -> String {
    if *sent == 0 { String::new() } else { format!(" (after {sent} of {total} messages were sent)") }
}

/// Offers `send_message` when tools are on: it sends through `outbound`, tells the web page
/// and `molt chat` on `events`, and counts `operators`' own chat IDs as known.
pub fn offer(
    registry: &mut Registry,
    settings: &ToolSettings,
    outbound: Arc<dyn Outbound>,
    events: EventBus,
    operators: OperatorIds,
) {
    if settings.enabled {
        registry.add(Arc::new(SendMessage { outbound, events, operators }));
    }
}

pub struct SendMessage {
    outbound: Arc<dyn Outbound>,
    events: EventBus,
    operators: OperatorIds,
}

#[derive(Deserialize)]
struct Input {
    to: String,
    text: String,
}

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Chat { channel: &'static str, id: String },
    Web(SessionKey),
}

impl std::fmt::Display for Target {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Chat { channel, id } => write!(formatter, "{channel}:{id}"),
            Self::Web(key) => write!(formatter, "web:{key}"),
        }
    }
}

const TARGETS: &str = "`telegram:<chat id>`, `discord:<channel id>`, `slack:<channel id>` or `web:<session key>`";

/// Reads `to`; an ID that no platform could mean is refused here.
fn target(raw: &str) -> Result<Target, ToolError> {
    let malformed = || ToolError::new(format!("`to` must be {TARGETS}"));
    let (scheme, rest) = raw.trim().split_once(':').ok_or_else(malformed)?;
    let id = rest.trim();
    if scheme == "web" {
        return SessionKey::parse(id).map(Target::Web).map_err(|error| ToolError::new(format!("`to`: {error}")));
    }
    let channel = CHANNELS.iter().copied().find(|channel| *channel == scheme).ok_or_else(malformed)?;
    let valid = match channel {
        "telegram" => id.parse::<i64>().is_ok(),
        "discord" => !id.is_empty() && id.len() <= 24 && id.bytes().all(|byte| byte.is_ascii_digit()),
        _ => !id.is_empty() && id.len() <= 32 && id.bytes().all(|byte| byte.is_ascii_alphanumeric()),
    };
    if !valid {
        return Err(ToolError::new(format!("`{}` is not a {channel} chat ID", bounded(id))));
    }
    Ok(Target::Chat { channel, id: id.to_owned() })
}

/// Outside text in an error, kept short.
fn bounded(text: &str) -> String {
    text.chars().take(64).collect()
}

/// Who asked the turn, as the audit log names them.
fn actor(asker: &Asker) -> String {
    match asker {
        Asker::Operator => "operator".to_owned(),
        Asker::Sender { channel, sender_id } => format!("{channel}:{sender_id}"),
    }
}

impl Tool for SendMessage {
    fn spec(&self) -> ToolSpec {
        ToolSpec {
            name: SEND_MESSAGE.into(),
            description: format!(
                "Send a message on the operator's behalf to {TARGETS}. Only chats the operator has paired or \
                 allowlisted can be reached; `web:` stores the text in that session of the web page and the \
                 terminal client. Long texts are split into several messages."
            ),
            input_schema: json!({
                "type": "object",
                "properties": {
                    "to": {"type": "string", "description": format!("Where to: {TARGETS}.")},
                    "text": {"type": "string", "description": "The message, as the recipient will read it."},
                },
                "required": ["to", "text"],
            }),
        }
    }

    fn access(&self) -> Access {
        Access::Act
    }

    fn call<'a>(&'a self, input: Value, context: &'a ToolContext) -> ToolFuture<'a> {
        Box::pin(async move {
            let Input { to, text } = arguments(input)?;
            let target = target(&to)?;
            let text = text.trim();
            if text.is_empty() {
                return Err(ToolError::new("the text is empty"));
            }
            let chars = text.chars().count();
            if chars > MAX_TEXT_CHARS {
                return Err(ToolError::new(format!(
                    "the text has {chars} characters; send at most {MAX_TEXT_CHARS} at once"
                )));
            }
            let row = AuditRow {
                store: context.store.clone(),
                events: self.events.clone(),
                actor: actor(&context.asker),
                target: target.to_string(),
                unfinished: Some(format!("cut short: {chars} characters, perhaps partly sent")),
            };
            let outcome = match &target {
                Target::Chat { channel, id } => self.to_chat(context, channel, id, text).await,
                Target::Web(key) => self.to_session(context, key, text).await,
            };
            let detail = match &outcome {
                Ok(Sent { messages }) => format!("sent: {chars} characters in {messages} message(s)"),
                Err(Refused::Unknown | Refused::Platform | Refused::NoSession) => {
                    format!("refused: {chars} characters, not a known chat")
                }
                Err(Refused::Failed(error)) => {
                    format!("failed: {chars} characters: {}", error.chars().take(200).collect::<String>())
                }
            };
            row.write(&detail).await;
            match outcome {
                Ok(Sent { messages }) => Ok(match target {
                    Target::Web(key) => format!("stored in session `{key}`"),
                    chat if messages == 1 => format!("sent to `{chat}`"),
                    chat => format!("sent to `{chat}` in {messages} messages"),
                }),
                Err(refused) => Err(ToolError::new(refused.explain(&target))),
            }
        })
    }
}

struct Sent {
    messages: usize,
}

/// Why nothing (or not everything) was sent.
enum Refused {
    /// Not paired, not allowlisted, not one of the operator's own IDs.
    Unknown,
    /// `web:` naming a chat platform's session, which the platform would never show.
    Platform,
    /// `web:` naming a session that does not exist.
    NoSession,
    Failed(String),
}

impl Refused {
    fn explain(&self, target: &Target) -> String {
        match (self, target) {
            (Self::Unknown, Target::Chat { channel, .. }) => format!(
                "refused: `{target}` is not a chat the operator has paired or allowlisted on {channel}; \
                 send_message reaches only known chats. Nothing was sent"
            ),
            (Self::Platform, Target::Web(key)) => {
                let place = key.as_str().split(':').nth(2).unwrap_or("its platform");
                format!("refused: `{key}` is a {place} conversation; send to its chat as `{place}:<chat id>` instead")
            }
            (Self::NoSession, Target::Web(key)) => {
                format!("refused: there is no session `{key}`; `web:main` is the main session")
            }
            (Self::Failed(error), _) => format!("cannot send to `{target}`: {error}"),
            _ => format!("refused: `{target}`"),
        }
    }
}

impl SendMessage {
    async fn to_chat(&self, context: &ToolContext, channel: &str, id: &str, text: &str) -> Result<Sent, Refused> {
        let known = self.operators.contains(channel, id)
            || context.store.is_allowed(channel, id).await.map_err(|error| Refused::Failed(error.to_string()))?;
        if !known {
            tracing::warn!(channel, "send_message refused: the chat is neither paired nor allowlisted");
            return Err(Refused::Unknown);
        }
        match self.outbound.send(channel, id, text).await {
            Ok(messages) => Ok(Sent { messages }),
            Err(error) => {
                tracing::warn!(channel, %error, "send_message failed");
                Err(Refused::Failed(error.to_string()))
            }
        }
    }

    /// Stores `text` as an assistant message of `key` and tells the clients that follow it.
    async fn to_session(&self, context: &ToolContext, key: &SessionKey, text: &str) -> Result<Sent, Refused> {
        let parts: Vec<&str> = key.as_str().split(':').collect();
        if parts.len() > 3 && parts[0] == "agent" && CHANNELS.contains(&parts[2]) {
            return Err(Refused::Platform);
        }
        let exists = key.as_str() == MAIN_SESSION
            || !context.store.history(key, 1).await.map_err(|error| Refused::Failed(error.to_string()))?.is_empty();
        if !exists {
            return Err(Refused::NoSession);
        }
        let run_id = RunId::generate();
        let message = NewMessage {
            session_key: key.clone(),
            run_id: run_id.clone(),
            role: MessageRole::Assistant,
            content: text.to_owned(),
            idempotency_key: None,
            model: None,
            stop_reason: Some(STOP_REASON.to_owned()),
            usage: Usage::default(),
            tools: Vec::new(),
        };
        context.store.append_message(message).await.map_err(|error| Refused::Failed(error.to_string()))?;
        // A `final` of a run of its own: a client showing the session adds it at once.
        self.events.publish_chat(ChatEvent {
            run_id,
            session_key: key.clone(),
            seq: 0,
            step: ChatStep::Final {
                message: AssistantMessage::text(text),
                usage: Usage::default(),
                stop_reason: STOP_REASON.to_owned(),
                model: String::new(),
            },
        });
        self.events.session_changed(key, ChangeReason::Message);
        Ok(Sent { messages: 1 })
    }
}

/// The audit row of one attempt. Written once the attempt ends; an attempt dropped before
/// (the call's timeout, `chat.abort`) is still recorded, as cut short.
struct AuditRow {
    store: Store,
    events: EventBus,
    actor: String,
    target: String,
    /// What the row says if the attempt never ends; `None` once written.
    unfinished: Option<String>,
}

impl AuditRow {
    async fn write(mut self, detail: &str) {
        self.unfinished = None;
        record(&self.store, &self.events, &self.actor, &self.target, detail).await;
    }
}

impl Drop for AuditRow {
    fn drop(&mut self) {
        let Some(detail) = self.unfinished.take() else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let (store, events) = (self.store.clone(), self.events.clone());
        let (actor, target) = (std::mem::take(&mut self.actor), std::mem::take(&mut self.target));
        runtime.spawn(async move { record(&store, &events, &actor, &target, &detail).await });
    }
}

async fn record(store: &Store, events: &EventBus, actor: &str, target: &str, detail: &str) {
    if let Err(error) = store.audit(actor, "message.send", target, None, Some(detail)).await {
        tracing::error!(%error, "cannot write the audit log");
    }
    events.emit(&AuditAppended { action: "message.send".to_owned(), target: target.to_owned() });
}

#[cfg(test)]
mod tests;
