//! Cloudflare Access tokens without the network: the token from the header or the cookie,
//! the header's algorithm and `kid`, and the claims → identity.
#![no_main]

use http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use molt::fuzzing::{access_claims, access_kid, access_token_from};

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = HeaderValue::from_bytes(data) {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, value.clone());
        let _ = access_token_from(&headers);
        headers.insert("cf-access-jwt-assertion", value);
        let _ = access_token_from(&headers);
    }
    let Ok(token) = std::str::from_utf8(data) else { return };
    let _ = access_kid(token);
    let _ = access_claims(token);
});
