//! A reply streamed into a chat: the first text sends a message, later text edits it no more
//! often than the platform allows, text past the length limit continues in new messages, and
//! the typing indicator is renewed until the turn ends.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::ChannelError;
use super::platform::{ChatRef, MessageRef, Platform};
use super::split::split;
use crate::core::ids::RunId;
use crate::core::protocol::{AssistantMessage, ChatStep, ErrorKind};
use crate::daemon::events::RunBroadcast;

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

/// The reply so far, rebuilt from the deltas' new text.
#[derive(Debug, Default)]
struct Reply {
    text: String,
    /// An event was missed: the text has a hole until the run's last event fills it.
    holed: bool,
    /// Text arrived that the chat does not show yet.
    unshown: bool,
}

impl Reply {
    fn delta(&mut self, piece: &str, replace: bool) {
        if replace {
            piece.clone_into(&mut self.text);
        } else {
            self.text.push_str(piece);
        }
        self.unshown = !self.holed;
    }

    fn missed(&mut self) {
        self.holed = true;
        self.unshown = false;
    }

    /// The text to show now, if any.
    fn take(&mut self) -> Option<&str> {
        std::mem::take(&mut self.unshown).then_some(self.text.as_str())
    }

    /// The text so far, unless an event was missed.
    fn so_far(&self) -> Option<String> {
        (!self.holed).then(|| self.text.clone())
    }
}

/// Follows run `run_id` on `events` and streams it into `chat`.
pub async fn stream<P: Platform>(
    platform: &P,
    chat: &ChatRef,
    mut events: broadcast::Receiver<Arc<RunBroadcast>>,
    run_id: &RunId,
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
        let result = follow(platform, chat, &mut events, run_id, cancel).await;
        typing_done.cancel();
        result
    };
    let ((), result) = tokio::join!(typing, follow);
    result
}

async fn follow<P: Platform>(
    platform: &P,
    chat: &ChatRef,
    events: &mut broadcast::Receiver<Arc<RunBroadcast>>,
    run_id: &RunId,
    cancel: &CancellationToken,
) -> Result<(), ChannelError> {
    let interval = platform.limits().edit_interval;
    let mut shown = Shown { platform, chat, messages: Vec::new(), last_edit: None };
    let mut reply = Reply::default();
    let deadline = Instant::now() + TURN_LIMIT;
    loop {
        let due = match (reply.unshown, shown.last_edit) {
            (true, Some(last)) => last + interval,
            (true, None) => Instant::now(),
            (false, _) => deadline,
        };
        let event = tokio::select! {
            event = events.recv() => event,
            () = tokio::time::sleep_until(due.min(deadline)) => {
                if Instant::now() >= deadline {
                    return Err(ChannelError::Invalid("the reply did not finish within 15 minutes".into()));
                }
                if let Some(text) = reply.take()
                    && let Err(error) = shown.show(text).await
                {
                    tracing::warn!(channel = platform.name(), %error, "cannot update a streamed reply");
                }
                continue;
            }
            () = cancel.cancelled() => return Err(ChannelError::Cancelled),
        };
        let event = match event {
            Ok(event) => event,
            // Deltas carry only new text: after a miss, wait for the run's final text.
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(channel = platform.name(), missed, "a streamed reply fell behind; showing its end only");
                reply.missed();
                continue;
            }
            Err(broadcast::error::RecvError::Closed) => return Err(ChannelError::Cancelled),
        };
        // Tool activity shows as the typing indicator, which runs until the reply ends.
        let Some(event) = event.chat().filter(|chat| chat.run_id == *run_id) else { continue };
        match &event.step {
            ChatStep::Delta { delta_text, replace, .. } => reply.delta(delta_text, *replace),
            ChatStep::Final { message, .. } => return finish(&mut shown, interval, &message.joined_text()).await,
            ChatStep::Aborted { message, .. } => {
                let text =
                    message.as_ref().map(AssistantMessage::joined_text).or_else(|| reply.so_far()).unwrap_or_default();
                return finish(&mut shown, interval, &text).await;
            }
            ChatStep::Error { error_message, error_kind } => {
                let so_far = reply
                    .so_far()
                    .filter(|text| !text.is_empty())
                    .or_else(|| shown.messages.iter().map(|(_, text)| text.clone()).reduce(|a, b| a + "\n\n" + &b));
                // The chat may not be the operator's: the full error (provider URL, its own
                // words) goes to the log and the operator's clients, the chat gets its kind.
                tracing::warn!(channel = platform.name(), error = %error_message, "a turn failed; the chat is told briefly");
                let message = chat_error(*error_kind);
                let text = match so_far {
                    Some(text) if !text.is_empty() => format!("{text}\n\n⚠️ {message}"),
                    _ => format!("⚠️ {message}"),
                };
                return finish(&mut shown, interval, &text).await;
            }
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

/// What a chat platform is told when a turn fails: the kind of failure, never its detail.
pub fn chat_error(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::RateLimit => "The assistant's model is busy right now. Please try again in a minute.",
        ErrorKind::Timeout => "The assistant's model took too long to answer. Please try again.",
        ErrorKind::ContextLength => "This conversation has grown too long for the model. Please start a new one.",
        ErrorKind::Refusal | ErrorKind::Unknown => {
            "The assistant could not answer this time; its owner can see why in the gateway's log."
        }
    }
}
