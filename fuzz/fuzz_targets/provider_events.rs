//! The model providers' per-event JSON: each line of the input is one event's data, folded by
//! the Anthropic and the OpenAI-compatible stream the way a streamed answer is. Whatever a
//! provider (or something pretending to be one) sends, the fold ends in a completion or an
//! error, and the text it streamed is the text the completion holds.
#![no_main]

use std::sync::Mutex;

use libfuzzer_sys::fuzz_target;
use molt::fuzzing::{anthropic_events, openai_events};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let streamed = Mutex::new(String::new());
    let sink = |piece: &str| streamed.lock().unwrap().push_str(piece);
    if let Ok(completion) = anthropic_events("m", text.lines(), &sink) {
        assert_eq!(completion.text, *streamed.lock().unwrap());
    }
    streamed.lock().unwrap().clear();
    if let Ok(completion) = openai_events("m", text.lines(), &sink) {
        assert_eq!(completion.text, *streamed.lock().unwrap());
        let _ = completion.usage.total();
    }
});
