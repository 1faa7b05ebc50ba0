//! `InstantModel`: an Anthropic Messages endpoint on 127.0.0.1 that answers every request at
//! once with a one-delta SSE reply and notes, by the request's last user text, when it had read
//! the request and when its answer was ready, on the bench's own clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use serde_json::{Value, json};

/// When the model had read one request and when its whole answer was ready.
#[derive(Debug, Clone, Copy)]
pub struct Stamp {
    pub received: Instant,
    pub answered: Instant,
}

type Stamps = Arc<Mutex<HashMap<String, Stamp>>>;

pub struct InstantModel {
    pub url: String,
    stamps: Stamps,
}

impl InstantModel {
    pub async fn start() -> InstantModel {
        let stamps: Stamps = Arc::default();
        let app = axum::Router::new().route("/v1/messages", axum::routing::post(messages)).with_state(stamps.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the model");
        let url = format!("http://{}", listener.local_addr().expect("model address"));
        tokio::spawn(async move { axum::serve(crate::support::no_delay(listener), app).await });
        InstantModel { url, stamps }
    }

    /// The stamp of the request whose last user text was `text`, or else contained it (a
    /// channel may add context around the user's words); taken out of the record.
    pub fn take(&self, text: &str) -> Option<Stamp> {
        let mut stamps = self.stamps.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(stamp) = stamps.remove(text) {
            return Some(stamp);
        }
        let key = stamps.keys().find(|key| key.contains(text))?.clone();
        stamps.remove(&key)
    }

    /// Requests answered and not yet taken.
    pub fn pending(&self) -> usize {
        self.stamps.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len()
    }
}

async fn messages(State(stamps): State<Stamps>, body: Bytes) -> impl IntoResponse {
    let received = Instant::now();
    let request: Value = serde_json::from_slice(&body).unwrap_or_default();
    let key = crate::support::fake_provider::last_user_text(&request);
    let event = |name: &str, data: Value| format!("event: {name}\ndata: {data}\n\n");
    let usage = json!({"input_tokens": 10, "output_tokens": 1});
    let reply = [
        event(
            "message_start",
            json!({"type": "message_start", "message": {"id": "msg_load", "type": "message",
            "role": "assistant", "model": "claude-load", "content": [], "stop_reason": null, "usage": usage}}),
        ),
        event(
            "content_block_start",
            json!({"type": "content_block_start", "index": 0,
            "content_block": {"type": "text", "text": ""}}),
        ),
        event(
            "content_block_delta",
            json!({"type": "content_block_delta", "index": 0,
            "delta": {"type": "text_delta", "text": "ok"}}),
        ),
        event("content_block_stop", json!({"type": "content_block_stop", "index": 0})),
        event(
            "message_delta",
            json!({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
            "usage": {"output_tokens": 1}}),
        ),
        event("message_stop", json!({"type": "message_stop"})),
    ]
    .concat();
    let answered = Instant::now();
    stamps.lock().unwrap_or_else(std::sync::PoisonError::into_inner).insert(key, Stamp { received, answered });
    ([("content-type", "text/event-stream")], reply)
}
