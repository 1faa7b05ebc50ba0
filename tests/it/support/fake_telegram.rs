//! Owns `FakeTelegram`: a local fake of the Telegram Bot API (`/bot<token>/<method>`:
//! getMe, getUpdates long poll with offset, timeout and `allowed_updates`, sendMessage and
//! editMessageText with inline keyboards (`reply_markup`, checked as the Bot API documents it),
//! answerCallbackQuery, sendChatAction, setWebhook, deleteWebhook) with its real error bodies,
//! injectable 409s and 429s, and `callback_query` updates as a button press sends them; the
//! calls are the server's record of the requests made with the bot's token.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::fake_server::{FakeServer, Journal, RecordedRequest};

pub const TOKEN: &str = "123456:telegram-test-token";
pub const BOT_ID: i64 = 999;
pub const BOT_USERNAME: &str = "molt_test_bot";

/// One call molt made.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub body: Value,
    pub at: Instant,
}

#[derive(Default)]
struct Inner {
    updates: VecDeque<Value>,
    next_update: i64,
    next_message: i64,
    /// Texts of sent messages by (chat, message_id), for "message is not modified".
    texts: HashMap<(String, i64), String>,
    /// The inline keyboard a message shows now, by (chat, message_id).
    markups: HashMap<(String, i64), Value>,
    /// Callback queries sent, by id: `None` until answered, then the answer's body.
    queries: HashMap<String, Option<Value>>,
    /// The update types `getUpdates` delivers, as the last call that named them said.
    allowed_updates: Option<Vec<String>>,
    /// Errors to answer the next calls of a method with: (status, description, retry_after).
    failures: HashMap<String, VecDeque<(u16, String, Option<u64>)>>,
    /// The longest a long poll waits.
    poll_cap: Duration,
}

pub struct FakeTelegram {
    server: FakeServer,
    inner: Shared,
}

/// The fake's state, and the journal whose waiters a queued update wakes (long polls too).
type Shared = Arc<(Mutex<Inner>, Arc<Journal>)>;

fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl FakeTelegram {
    pub async fn start() -> FakeTelegram {
        FakeTelegram::start_paced(super::Pace::TEST).await
    }

    /// A fake whose long polls last as long as `pace` says.
    pub async fn start_paced(pace: super::Pace) -> FakeTelegram {
        let inner = Inner { next_update: 100, next_message: 1, poll_cap: pace.poll_cap, ..Inner::default() };
        let bound = FakeServer::bind().await;
        let inner: Shared = Arc::new((Mutex::new(inner), bound.journal()));
        let router = Router::new().fallback(answer).with_state(Arc::clone(&inner));
        FakeTelegram { server: bound.serve(router), inner }
    }

    pub fn base_url(&self) -> String {
        self.server.base_url()
    }

    /// Queues a text message from `from` in `chat` (`private` when they are equal, else a
    /// supergroup); returns its update.
    pub fn message(&self, chat: i64, from: i64, text: &str) -> Value {
        self.message_with(chat, from, text, None)
    }

    pub fn message_with(&self, chat: i64, from: i64, text: &str, reply_to_bot: Option<i64>) -> Value {
        let mut inner = lock(&self.inner);
        inner.next_update += 1;
        let kind = if chat == from { "private" } else { "supergroup" };
        let mut message = json!({
            "message_id": inner.next_update * 10,
            "date": 1_700_000_000,
            "from": {"id": from, "is_bot": false, "first_name": "Ada", "username": format!("user{from}")},
            "chat": {"id": chat, "type": kind},
            "text": text,
        });
        if let Some(id) = reply_to_bot {
            message["reply_to_message"] = json!({"message_id": id, "date": 1_700_000_000, "from": {"id": BOT_ID, "is_bot": true, "first_name": "Molt", "username": BOT_USERNAME}, "chat": {"id": chat, "type": kind}, "text": "earlier"});
        }
        let update = json!({"update_id": inner.next_update, "message": message});
        inner.updates.push_back(update.clone());
        drop(inner);
        self.inner.1.notify();
        update
    }

    /// Queues a press by `from` on the button with `data` under message `message_id` in
    /// `chat`, as Telegram sends it (`callback_query` with the message and a fresh query id);
    /// returns the query's id.
    pub fn press(&self, chat: i64, from: i64, message_id: i64, data: &str) -> String {
        let mut inner = lock(&self.inner);
        inner.next_update += 1;
        let id = format!("{}{}", 4_382_000_000_000_000_000_u64 + inner.next_update as u64, from);
        let kind = if chat > 0 { "private" } else { "supergroup" };
        let key = (chat.to_string(), message_id);
        let mut message = json!({
            "message_id": message_id,
            "from": {"id": BOT_ID, "is_bot": true, "first_name": "Molt", "username": BOT_USERNAME},
            "chat": {"id": chat, "type": kind},
            "date": 1_700_000_000,
            "text": inner.texts.get(&key).cloned().unwrap_or_default(),
        });
        if let Some(markup) = inner.markups.get(&key) {
            message["reply_markup"] = markup.clone();
        }
        let query = json!({
            "id": id,
            "from": {"id": from, "is_bot": false, "first_name": "Ada", "username": format!("user{from}")},
            "message": message,
            "chat_instance": format!("-{}", chat.unsigned_abs()),
            "data": data,
        });
        inner.queries.insert(id.clone(), None);
        let update = json!({"update_id": inner.next_update, "callback_query": query});
        inner.updates.push_back(update);
        drop(inner);
        self.inner.1.notify();
        id
    }

    /// The inline keyboard message `message_id` in `chat` shows now, if any.
    pub fn markup(&self, chat: i64, message_id: i64) -> Option<Value> {
        lock(&self.inner).markups.get(&(chat.to_string(), message_id)).cloned()
    }

    /// The messages in `chat` that show an inline keyboard now: `(message_id, text, markup)`,
    /// oldest first.
    pub fn keyboards(&self, chat: i64) -> Vec<(i64, String, Value)> {
        let inner = lock(&self.inner);
        let mut found: Vec<(i64, String, Value)> = inner
            .markups
            .iter()
            .filter(|((id, _), _)| *id == chat.to_string())
            .map(|((_, message), markup)| {
                let text = inner.texts.get(&(chat.to_string(), *message)).cloned().unwrap_or_default();
                (*message, text, markup.clone())
            })
            .collect();
        found.sort_by_key(|(message, _, _)| *message);
        found
    }

    /// The `answerCallbackQuery` body that answered query `id`, once answered.
    pub fn answer_of(&self, id: &str) -> Option<Value> {
        lock(&self.inner).queries.get(id).cloned().flatten()
    }

    /// The next `count` calls of `method` fail with Telegram's error body.
    pub fn fail(&self, method: &str, count: usize, status: u16, description: &str, retry_after: Option<u64>) {
        let mut inner = lock(&self.inner);
        let queue = inner.failures.entry(method.to_owned()).or_default();
        for _ in 0..count {
            queue.push_back((status, description.to_owned(), retry_after));
        }
    }

    /// Every call made with the bot's token, in order (requests with another token or outside
    /// `/bot<token>/` are not calls).
    pub fn calls(&self) -> Vec<Call> {
        let prefix = format!("/bot{TOKEN}/");
        let calls = self.server.requests().into_iter().filter_map(|request| {
            let method = request.path.strip_prefix(&prefix)?.to_owned();
            Some(Call { method, body: request.body, at: Instant::from_std(request.at) })
        });
        calls.collect()
    }

    pub fn calls_of(&self, method: &str) -> Vec<Call> {
        self.calls().into_iter().filter(|call| call.method == method).collect()
    }

    /// Waits (10 s at most) until `check` holds for the calls so far.
    pub async fn wait_until(&self, what: &str, check: impl Fn(&[Call]) -> bool) -> Vec<Call> {
        let mut calls = Vec::new();
        let held = self
            .server
            .wait_until(Duration::from_secs(10), || {
                calls = self.calls();
                check(&calls)
            })
            .await;
        if !held {
            panic!(
                "telegram fake: timed out waiting for {what}; calls: {:#?}",
                calls.iter().map(|c| (&c.method, &c.body)).collect::<Vec<_>>()
            );
        }
        calls
    }

    /// The text a chat shows now: every message molt sent there, in order, as last edited.
    pub fn shown(&self, chat: i64) -> Vec<String> {
        let inner = lock(&self.inner);
        let mut messages: Vec<(&(String, i64), &String)> =
            inner.texts.iter().filter(|((id, _), _)| *id == chat.to_string()).collect();
        messages.sort_by_key(|((_, id), _)| *id);
        messages.into_iter().map(|(_, text)| text.clone()).collect()
    }
}

fn error(status: u16, description: &str, retry_after: Option<u64>) -> Response {
    let mut body = json!({"ok": false, "error_code": status, "description": description});
    if let Some(seconds) = retry_after {
        body["parameters"] = json!({"retry_after": seconds});
    }
    (StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), axum::Json(body)).into_response()
}

fn ok(result: Value) -> Response {
    axum::Json(json!({"ok": true, "result": result})).into_response()
}

/// Answers one Bot API call; the server wakes the waiters once it is applied.
async fn answer(State(shared): State<Shared>, Extension(request): Extension<RecordedRequest>) -> Response {
    let RecordedRequest { path, body, .. } = request;
    let Some((token, method)) = path.strip_prefix("/bot").and_then(|rest| rest.split_once('/')) else {
        return error(404, "Not Found", None);
    };
    if token != TOKEN {
        return error(401, "Unauthorized", None);
    }
    let method = method.to_owned();
    let failure = lock(&shared).failures.get_mut(&method).and_then(VecDeque::pop_front);
    if let Some((status, description, retry_after)) = failure {
        return error(status, &description, retry_after);
    }
    match method.as_str() {
        "getMe" => ok(json!({"id": BOT_ID, "is_bot": true, "first_name": "Molt", "username": BOT_USERNAME})),
        "getUpdates" => get_updates(&shared, &body).await,
        "sendMessage" => {
            let chat = body["chat_id"].to_string().trim_matches('"').to_owned();
            let text = body["text"].as_str().unwrap_or_default().to_owned();
            let markup = match checked_markup(&body) {
                Ok(markup) => markup,
                Err(description) => return error(400, &description, None),
            };
            let mut inner = lock(&shared);
            inner.next_message += 1;
            let id = inner.next_message;
            inner.texts.insert((chat.clone(), id), text.clone());
            if let Some(markup) = markup {
                inner.markups.insert((chat.clone(), id), markup);
            }
            ok(
                json!({"message_id": id, "date": 1_700_000_000, "chat": {"id": chat.parse::<i64>().unwrap_or_default()}, "text": text}),
            )
        }
        "editMessageText" => {
            let chat = body["chat_id"].to_string().trim_matches('"').to_owned();
            let id = body["message_id"].as_i64().unwrap_or_default();
            let text = body["text"].as_str().unwrap_or_default().to_owned();
            let markup = match checked_markup(&body) {
                Ok(markup) => markup,
                Err(description) => return error(400, &description, None),
            };
            let mut inner = lock(&shared);
            let key = (chat.clone(), id);
            let same_markup = inner.markups.get(&key) == markup.as_ref();
            match inner.texts.get_mut(&key) {
                None => error(400, "Bad Request: message to edit not found", None),
                Some(current) if *current == text && same_markup => error(
                    400,
                    "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message",
                    None,
                ),
                Some(current) => {
                    current.clone_from(&text);
                    // An edit without `reply_markup` removes the inline keyboard.
                    match markup {
                        Some(markup) => inner.markups.insert(key, markup),
                        None => inner.markups.remove(&key),
                    };
                    ok(json!({"message_id": id, "chat": {"id": chat.parse::<i64>().unwrap_or_default()}, "text": text}))
                }
            }
        }
        "answerCallbackQuery" => {
            let id = body["callback_query_id"].as_str().unwrap_or_default();
            let mut inner = lock(&shared);
            match inner.queries.get_mut(id) {
                Some(answer @ None) => {
                    *answer = Some(body.clone());
                    ok(json!(true))
                }
                _ => error(
                    400,
                    "Bad Request: query is too old and response timeout expired or query ID is invalid",
                    None,
                ),
            }
        }
        "sendChatAction" | "setWebhook" | "deleteWebhook" => ok(json!(true)),
        _ => error(404, "Not Found: method not found", None),
    }
}

/// `reply_markup` as the Bot API checks an inline keyboard: an array of rows of buttons, each
/// with a `text` and exactly one action, `callback_data` of 1 to 64 bytes. `Ok(None)` when the
/// call has none; `Err` with Telegram's description.
fn checked_markup(body: &Value) -> Result<Option<Value>, String> {
    let Some(markup) = body.get("reply_markup").filter(|markup| !markup.is_null()) else { return Ok(None) };
    let Some(rows) = markup["inline_keyboard"].as_array() else {
        return Err("Bad Request: can't parse reply keyboard markup JSON object".into());
    };
    const ACTIONS: &[&str] = &[
        "url",
        "callback_data",
        "web_app",
        "login_url",
        "switch_inline_query",
        "switch_inline_query_current_chat",
        "switch_inline_query_chosen_chat",
        "copy_text",
        "callback_game",
        "pay",
    ];
    for row in rows {
        let Some(buttons) = row.as_array() else {
            return Err(
                "Bad Request: field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays".into(),
            );
        };
        for button in buttons {
            if !button["text"].is_string() {
                return Err(
                    "Bad Request: can't parse inline keyboard button: Field \"text\" must be of type String".into()
                );
            }
            let actions = ACTIONS.iter().filter(|action| button.get(**action).is_some()).count();
            if actions != 1 {
                return Err("Bad Request: can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard".into());
            }
            if let Some(data) = button.get("callback_data") {
                let length = data.as_str().map_or(0, str::len);
                if !(1..=64).contains(&length) {
                    return Err("Bad Request: BUTTON_DATA_INVALID".into());
                }
            }
        }
    }
    Ok(Some(markup.clone()))
}

/// An update's type: its one field besides `update_id`.
fn update_type(update: &Value) -> &str {
    update.as_object().and_then(|fields| fields.keys().find(|key| *key != "update_id")).map_or("", String::as_str)
}

/// Confirms updates below `offset`, then answers at once when some are queued, else after
/// an update arrives or `timeout` seconds (capped by the fake's pace) pass. `allowed_updates`
/// holds from the call that names it on; updates of other types are dropped, as Telegram does.
async fn get_updates(shared: &Shared, body: &Value) -> Response {
    if let Some(allowed) = body["allowed_updates"].as_array() {
        let allowed = allowed.iter().filter_map(|kind| kind.as_str().map(str::to_owned)).collect();
        lock(shared).allowed_updates = Some(allowed);
    }
    let offset = body["offset"].as_i64();
    let cap = lock(shared).poll_cap;
    let wait = Duration::from_secs(body["timeout"].as_u64().unwrap_or(0)).min(cap);
    let mut updates = Vec::new();
    shared
        .1
        .wait_until(wait, || {
            let mut inner = lock(shared);
            if let Some(offset) = offset {
                inner.updates.retain(|update| update["update_id"].as_i64().unwrap_or_default() >= offset);
            }
            if let Some(allowed) = inner.allowed_updates.clone().filter(|allowed| !allowed.is_empty()) {
                inner.updates.retain(|update| allowed.iter().any(|kind| kind == update_type(update)));
            }
            updates = inner.updates.iter().cloned().collect();
            !updates.is_empty()
        })
        .await;
    ok(Value::Array(updates))
}
