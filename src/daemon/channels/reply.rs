//! A reply streamed into a chat: the first text sends a message, later text edits it no more
//! often than the platform allows, text past the length limit continues in new messages, and
//! the typing indicator is renewed until the turn ends.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::ChannelError;
use super::platform::{ChatRef, MessageRef, Platform};
use super::split::split;
use crate::daemon::events::Broadcast;

/// Longest a reply may stream before molt stops following it.
const TURN_LIMIT: Duration = Duration::from_secs(15 * 60);

/// Messages sent for one reply and the text each shows.
struct Shown<'a, P: Platform> {
    platform: &'a P,
    chat: &'a ChatRef,
    messages: Vec<(MessageRef, String)>,
    last_edit: Option<Instant>,
}

impl<P: Platform> Shown<'_, P> {
    /// Makes the chat show `text`: edits pieces that changed, sends pieces that are new.
    async fn show(&mut self, text: &str) -> Result<(), ChannelError> {
        let pieces = split(text, self.platform.limits().max_chars);
        for (index, piece) in pieces.iter().enumerate() {
            if piece.trim().is_empty() {
                continue;
            }
            match self.messages.get_mut(index) {
                Some((_, shown)) if shown == piece => {}
                Some((message, shown)) => {
                    self.platform.edit(self.chat, message, piece).await?;
                    piece.clone_into(shown);
                    self.last_edit = Some(Instant::now());
                }
                None => {
                    let message = self.platform.send(self.chat, piece).await?;
                    self.messages.push((message, piece.clone()));
                    self.last_edit = Some(Instant::now());
                }
            }
        }
        Ok(())
    }
}

/// The cumulative text of a `chat` event's message.
fn message_text(payload: &Value) -> Option<String> {
    let blocks = payload.get("message")?.get("content")?.as_array()?;
    Some(blocks.iter().filter_map(|block| block.get("text").and_then(Value::as_str)).collect())
}

/// Follows run `run_id` on `events` and streams it into `chat`.
pub async fn stream<P: Platform>(
    platform: &P,
    chat: &ChatRef,
    mut events: broadcast::Receiver<Arc<Broadcast>>,
    run_id: String,
    cancel: &CancellationToken,
) -> Result<(), ChannelError> {
    let limits = platform.limits();
    let typing_done = CancellationToken::new();
    let typing = async {
        let Some(every) = limits.typing_interval else { return };
        loop {
            if let Err(error) = platform.typing(chat).await {
                tracing::debug!(channel = platform.name(), %error, "typing indicator failed");
            }
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                () = typing_done.cancelled() => return,
            }
        }
    };
    let follow = async {
        let result = follow(platform, chat, &mut events, &run_id, cancel).await;
        typing_done.cancel();
        result
    };
    let ((), result) = tokio::join!(typing, follow);
    result
}

async fn follow<P: Platform>(
    platform: &P,
    chat: &ChatRef,
    events: &mut broadcast::Receiver<Arc<Broadcast>>,
    run_id: &str,
    cancel: &CancellationToken,
) -> Result<(), ChannelError> {
    let interval = platform.limits().edit_interval;
    let mut shown = Shown { platform, chat, messages: Vec::new(), last_edit: None };
    let mut pending: Option<String> = None;
    let deadline = Instant::now() + TURN_LIMIT;
    loop {
        let due = match (&pending, shown.last_edit) {
            (Some(_), Some(last)) => last + interval,
            (Some(_), None) => Instant::now(),
            (None, _) => deadline,
        };
        let event = tokio::select! {
            event = events.recv() => event,
            () = tokio::time::sleep_until(due.min(deadline)) => {
                if Instant::now() >= deadline {
                    return Err(ChannelError::Invalid("the reply did not finish within 15 minutes".into()));
                }
                if let Some(text) = pending.take()
                    && let Err(error) = shown.show(&text).await
                {
                    tracing::warn!(channel = platform.name(), %error, "cannot update a streamed reply");
                }
                continue;
            }
            () = cancel.cancelled() => return Err(ChannelError::Cancelled),
        };
        let event = match event {
            Ok(event) => event,
            // Text is cumulative: a missed delta is covered by the next one.
            Err(broadcast::error::RecvError::Lagged(_)) => continue,
            Err(broadcast::error::RecvError::Closed) => return Err(ChannelError::Cancelled),
        };
        if event.event != "chat" {
            continue;
        }
        let Ok(payload) = serde_json::from_str::<Value>(&event.payload) else { continue };
        if payload["runId"].as_str() != Some(run_id) {
            continue;
        }
        match payload["state"].as_str() {
            Some("delta") => pending = message_text(&payload),
            Some("final") | Some("aborted") => {
                let text = message_text(&payload).or(pending).unwrap_or_default();
                return finish(&mut shown, interval, &text).await;
            }
            Some("error") => {
                let so_far = pending
                    .or_else(|| shown.messages.iter().map(|(_, text)| text.clone()).reduce(|a, b| a + "\n\n" + &b));
                let message = payload["errorMessage"].as_str().unwrap_or("the model failed");
                let text = match so_far {
                    Some(text) if !text.is_empty() => format!("{text}\n\n⚠️ {message}"),
                    _ => format!("⚠️ {message}"),
                };
                return finish(&mut shown, interval, &text).await;
            }
            _ => {}
        }
    }
}

/// The last update, still paced.
async fn finish<P: Platform>(shown: &mut Shown<'_, P>, interval: Duration, text: &str) -> Result<(), ChannelError> {
    if text.trim().is_empty() {
        return Ok(());
    }
    if let Some(last) = shown.last_edit {
        tokio::time::sleep_until(last + interval).await;
    }
    shown.show(text).await
}
