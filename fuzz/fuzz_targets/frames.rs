//! Gateway WebSocket text frames: `Request::parse`, the `connect` params decoder, and the
//! Ed25519 device proof check with the proof's own nonce and clock (so the key and signature
//! decoding is reached).
#![no_main]

use libfuzzer_sys::fuzz_target;
use molt::fuzzing::{Request, SignedFields, connect_params, verify_device};

fuzz_target!(|data: &[u8]| {
    // WebSocket text frames are UTF-8 by the time the gateway sees them.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(request) = Request::parse(text) else { return };
    let _ = request.params_object();
    let Ok(params) = connect_params(&request.params) else { return };
    let Some(proof) = &params.device else { return };
    let token = params.token.as_deref().or(params.device_token.as_deref()).unwrap_or_default();
    let fields = SignedFields {
        client_id: &params.client.id,
        client_mode: &params.client.mode,
        role: &params.role,
        scopes: &params.scopes,
        token,
        platform: &params.client.platform,
        device_family: &params.client.device_family,
    };
    let nonce = proof.nonce.clone().unwrap_or_default();
    let _ = verify_device(proof, &fields, &nonce, proof.signed_at_ms);
});
