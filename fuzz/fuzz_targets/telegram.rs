//! Telegram updates (webhook bodies and `getUpdates` results): update → inbound message, and
//! the reply markup of its text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use molt::fuzzing::{BotIdentity, telegram_html, telegram_inbound};
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let bot = BotIdentity { id: 99, username: "molt_bot".into() };
    let Ok(update) = serde_json::from_slice::<Value>(data) else {
        if let Ok(text) = std::str::from_utf8(data) {
            let _ = telegram_html(text);
        }
        return;
    };
    let updates = match &update["result"] {
        Value::Array(items) => items.clone(),
        _ => vec![update],
    };
    for update in &updates {
        if let Some(message) = telegram_inbound(update, &bot) {
            let _ = telegram_html(&message.text);
        }
    }
});
