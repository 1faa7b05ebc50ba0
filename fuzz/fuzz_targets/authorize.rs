//! The handshake's decision (`authorize`) on a gateway with a real store: any `connect` params,
//! from a remote or a direct loopback address, with or without the page's cookie. The first
//! byte picks the address and the cookie; the rest is the params' JSON. Whatever it is, the
//! decision ends without a panic, and a remote connect without the gateway token, the cookie
//! or a device token is never let in.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use molt::fuzzing::{FUZZ_TOKEN, Handshakes};

struct Harness {
    runtime: tokio::runtime::Runtime,
    handshakes: Handshakes,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let dir = std::env::temp_dir().join(format!("molt-fuzz-authorize-{}", std::process::id()));
        let handshakes = runtime.block_on(Handshakes::new(&dir)).unwrap();
        Harness { runtime, handshakes }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else { return };
    let Ok(params) = serde_json::from_slice::<serde_json::Value>(rest) else { return };
    let (loopback, cookie) = (flags & 1 == 1, flags & 2 == 2);
    let harness = harness();
    let accepted = harness.runtime.block_on(harness.handshakes.decide(&params, loopback, cookie));
    let token = params["auth"]["token"].as_str() == Some(FUZZ_TOKEN);
    let device_token = params["auth"]["deviceToken"].as_str().is_some_and(|token| !token.is_empty());
    if accepted && !loopback && !cookie {
        assert!(token || device_token, "a remote connect got in without a credential: {params}");
    }
});
