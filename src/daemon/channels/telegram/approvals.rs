//! Exec approvals in the operator's Telegram chat (the first ID of `TELEGRAM_DM_ALLOW_FROM`):
//! each command waiting for approval is sent there with three inline keyboard buttons whose
//! `callback_data` names the decision; the `callback_query` a button sends resolves it, once
//! checked to come from the operator, and is answered with `answerCallbackQuery`. However the
//! command is answered (here, `molt chat`, the admin page, expiry), the message is edited to
//! show the outcome, its buttons gone.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast::error::RecvError;

use super::Telegram;
use crate::core::protocol::exec::{ExecApprovalRequested, ExecApprovalResolved, ExecDecision, Unanswered};
use crate::core::settings::ExecMode;
use crate::daemon::agent::tools::exec::{ExecApprovals, Notice, ResolveError, Resolver};
use crate::daemon::channels::platform::{ChatRef, MessageRef, Platform};

const CHANNEL: &str = "telegram";
/// Messages remembered for editing at once; the oldest is forgotten past this.
const MAX_TRACKED: usize = 64;
/// Commands are shown whole up to this many characters.
const MAX_SHOWN_CHARS: usize = 1500;

/// `exec:<id>:once|always|deny`: at most 48 bytes with a UUID, within Telegram's 64.
fn callback_data(id: &str, decision: ExecDecision) -> String {
    let word = match decision {
        ExecDecision::AllowOnce => "once",
        ExecDecision::AllowAlways => "always",
        ExecDecision::Deny => "deny",
    };
    format!("exec:{id}:{word}")
}

fn parse_callback(data: &str) -> Option<(&str, ExecDecision)> {
    let (id, word) = data.strip_prefix("exec:")?.rsplit_once(':')?;
    let decision = match word {
        "once" => ExecDecision::AllowOnce,
        "always" => ExecDecision::AllowAlways,
        "deny" => ExecDecision::Deny,
        _ => return None,
    };
    Some((id, decision))
}

fn shown(command: &str) -> String {
    match command.char_indices().nth(MAX_SHOWN_CHARS) {
        Some((cut, _)) => format!("{}…", &command[..cut]),
        None => command.to_owned(),
    }
}

fn request_text(requested: &ExecApprovalRequested) -> String {
    let request = &requested.request;
    let wait = u64::try_from(requested.expires_at_ms.saturating_sub(requested.created_at_ms) / 1000).unwrap_or(0);
    let mut about = vec![format!("in {}", request.cwd.as_deref().unwrap_or("the workspace"))];
    if let Some(asked_by) = &request.asked_by {
        about.push(format!("asked by {asked_by}"));
    }
    if let Some(session) = &request.session_key {
        about.push(format!("session {session}"));
    }
    format!(
        "Run this command?\n```\n{}\n```\n{}\nDenied after {} s without an answer.",
        shown(&request.command),
        about.join(" · "),
        wait
    )
}

fn resolved_text(resolved: &ExecApprovalResolved) -> String {
    let command = resolved.request.as_ref().map_or_else(String::new, |request| shown(&request.command));
    let by = resolved.resolved_by.as_deref().unwrap_or("nobody");
    let outcome = match (resolved.reason, resolved.decision) {
        (Some(Unanswered::Expired), _) => "Not answered in time: denied".to_owned(),
        (Some(Unanswered::Cancelled), _) => "Withdrawn: the turn was stopped".to_owned(),
        (None, ExecDecision::AllowOnce) => format!("Allowed once by {by}"),
        (None, ExecDecision::AllowAlways) => match &resolved.pattern {
            Some(pattern) => format!("Allowed always by {by} (allowlist: `{pattern}`)"),
            None => format!("Allowed always by {by}"),
        },
        (None, ExecDecision::Deny) => format!("Denied by {by}"),
    };
    format!("{outcome}\n```\n{command}\n```")
}

fn keyboard(id: &str) -> Value {
    json!({"inline_keyboard": [[
        {"text": "Allow once", "callback_data": callback_data(id, ExecDecision::AllowOnce)},
        {"text": "Allow always", "callback_data": callback_data(id, ExecDecision::AllowAlways)},
        {"text": "Deny", "callback_data": callback_data(id, ExecDecision::Deny)},
    ]]})
}

/// Sends each waiting command to the operator's chat and edits it once answered; runs until
/// the channel stops. Does nothing without an operator chat or outside `approve` mode.
pub async fn forward(telegram: Arc<Telegram>, approvals: Arc<ExecApprovals>) {
    let Some(chat) = approvals.operator_chat(CHANNEL) else { return };
    if approvals.mode() != ExecMode::Approve {
        return;
    }
    let chat = ChatRef { id: chat, thread: None };
    let mut notices = approvals.subscribe();
    let mut sent: HashMap<String, MessageRef> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    // Those already waiting when the channel (re)started.
    for requested in approvals.pending() {
        send(&telegram, &chat, &requested, &mut sent, &mut order).await;
    }
    loop {
        let notice = tokio::select! {
            notice = notices.recv() => notice,
            () = telegram.cancel.cancelled() => return,
        };
        match notice {
            Ok(Notice::Requested(requested)) => send(&telegram, &chat, &requested, &mut sent, &mut order).await,
            Ok(Notice::Resolved(resolved)) => {
                let Some(message) = sent.remove(&resolved.id) else { continue };
                order.retain(|id| *id != resolved.id);
                if let Err(error) = telegram.edit(&chat, &message, &resolved_text(&resolved)).await {
                    tracing::warn!(%error, "cannot show an exec decision in the operator's telegram chat");
                }
            }
            Err(RecvError::Lagged(missed)) => tracing::warn!(missed, "exec approvals to telegram fell behind"),
            Err(RecvError::Closed) => return,
        }
    }
}

async fn send(
    telegram: &Telegram,
    chat: &ChatRef,
    requested: &ExecApprovalRequested,
    sent: &mut HashMap<String, MessageRef>,
    order: &mut Vec<String>,
) {
    if sent.contains_key(&requested.id) {
        return;
    }
    let body = json!({"chat_id": chat.id, "reply_markup": keyboard(&requested.id)});
    match telegram.post_text("sendMessage", body, &request_text(requested)).await {
        Ok(message) => {
            let Some(id) = message["message_id"].as_i64() else { return };
            sent.insert(requested.id.clone(), MessageRef(id.to_string()));
            order.push(requested.id.clone());
            if order.len() > MAX_TRACKED {
                let oldest = order.remove(0);
                sent.remove(&oldest);
            }
        }
        Err(error) => tracing::warn!(%error, "cannot send an exec approval to the operator's telegram chat"),
    }
}

/// One `callback_query` update: a press on one of the buttons above.
pub async fn answer(telegram: &Telegram, approvals: &ExecApprovals, query: &Value) {
    let Some(query_id) = query["id"].as_str() else { return };
    let Some((id, decision)) = query["data"].as_str().and_then(parse_callback) else {
        reply(telegram, query_id, "This button is not one of mine.", false).await;
        return;
    };
    let sender = query["from"]["id"].as_i64().map(|id| id.to_string()).unwrap_or_default();
    if !approvals.is_operator(CHANNEL, &sender) {
        tracing::warn!(%sender, "a telegram user who is not the operator pressed an exec approval button");
        reply(telegram, query_id, "Only the operator can answer this.", true).await;
        return;
    }
    let resolver = Resolver { name: format!("{CHANNEL}:{sender}"), address: None };
    let text = match approvals.resolve(id, decision, None, &resolver).await {
        Ok(_) => match decision {
            ExecDecision::AllowOnce => "Allowed once.".to_owned(),
            ExecDecision::AllowAlways => "Allowed, and added to the allowlist.".to_owned(),
            ExecDecision::Deny => "Denied.".to_owned(),
        },
        Err(ResolveError::Unknown) => {
            // Answered elsewhere, expired, or from before a restart: its buttons go.
            let message = &query["message"];
            if let (Some(chat), Some(message_id)) = (message["chat"]["id"].as_i64(), message["message_id"].as_i64()) {
                let chat = ChatRef { id: chat.to_string(), thread: None };
                let text = "This command no longer waits for an answer.";
                let _ = telegram.edit(&chat, &MessageRef(message_id.to_string()), text).await;
            }
            "This command no longer waits for an answer.".to_owned()
        }
        Err(error) => format!("Not done: {error}"),
    };
    reply(telegram, query_id, &text, false).await;
}

/// `answerCallbackQuery`: the button stops spinning and shows `text`.
async fn reply(telegram: &Telegram, query_id: &str, text: &str, alert: bool) {
    let body = json!({"callback_query_id": query_id, "text": text, "show_alert": alert});
    if let Err(error) = telegram.api.call("answerCallbackQuery", &body, Duration::ZERO).await {
        tracing::warn!(%error, "cannot answer a telegram callback query");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callback_data_round_trips_and_fits_telegrams_limit() {
        let id = uuid::Uuid::new_v4().to_string();
        for decision in [ExecDecision::AllowOnce, ExecDecision::AllowAlways, ExecDecision::Deny] {
            let data = callback_data(&id, decision);
            assert!(data.len() <= 64, "{data}");
            assert_eq!(parse_callback(&data), Some((id.as_str(), decision)));
        }
        assert_eq!(parse_callback("exec:x:maybe"), None);
        assert_eq!(parse_callback("other:x:once"), None);
    }
}
