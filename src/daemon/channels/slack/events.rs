//! Slack's Events API without HTTP: the `v0` signature (HMAC-SHA256 of
//! `v0:<timestamp>:<body>`) checked in constant time within a 5-minute window,
//! `url_verification` answered with its challenge, and events recorded before the caller may
//! answer 200.

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::core::time::now_ms;
use crate::daemon::channels::Channels;
use crate::daemon::channels::webhook::{self, WebhookError, WebhookOutcome};

/// Requests older (or newer) than this are refused as possible replays.
const WINDOW_SECS: i64 = 5 * 60;

/// Whether `signature` (`v0=<hex>`) signs `timestamp` and `body` with `secret`, in time.
pub fn verify(secret: &str, timestamp: &str, body: &[u8], signature: &str, now_secs: i64) -> bool {
    let Ok(sent) = timestamp.parse::<i64>() else { return false };
    // `abs_diff`: an outside value such as `i64::MIN` must not overflow.
    if now_secs.abs_diff(sent) > WINDOW_SECS.unsigned_abs() {
        return false;
    }
    let Some(given) = signature.strip_prefix("v0=").and_then(|hex| hex::decode(hex).ok()) else { return false };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else { return false };
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// One `POST /channels/slack/events`: `timestamp` and `signature` are its
/// `X-Slack-Request-Timestamp` and `X-Slack-Signature` headers (empty when absent).
pub async fn accept(
    channels: &Channels,
    timestamp: &str,
    signature: &str,
    body: &[u8],
) -> Result<WebhookOutcome, WebhookError> {
    let configured = channels.settings.slack.is_some();
    let (slack, router) = webhook::target(channels, "slack", configured, &channels.adapters.0.slack)?;
    let Some(secret) = &slack.settings.signing_secret else {
        return Err(WebhookError::Off("the Slack Events API needs SLACK_SIGNING_SECRET"));
    };
    if !verify(secret.expose(), timestamp, body, signature, now_ms() / 1000) {
        tracing::warn!("slack events call with a bad or stale signature");
        return Err(WebhookError::Unauthorized("bad signature"));
    }
    let Ok(payload) = serde_json::from_slice::<Value>(body) else {
        return Err(WebhookError::Malformed("body is not JSON"));
    };
    match payload["type"].as_str() {
        Some("url_verification") => Ok(WebhookOutcome::Challenge(payload["challenge"].clone())),
        Some("event_callback") => match super::accept(slack, router, &payload).await {
            Ok(()) => Ok(WebhookOutcome::Accepted),
            Err(error) => {
                tracing::error!(%error, "cannot record a slack event; slack will retry");
                Err(WebhookError::NotRecorded(error))
            }
        },
        _ => Ok(WebhookOutcome::Ignored),
    }
}

#[cfg(test)]
mod tests {
    use super::verify;

    /// The example in Slack's "Verifying requests from Slack" guide.
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TIMESTAMP: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIGNATURE: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn slacks_documented_example_verifies() {
        assert!(verify(SECRET, TIMESTAMP, BODY.as_bytes(), SIGNATURE, 1531420618 + 10));
    }

    #[test]
    fn tampering_stale_requests_and_junk_fail() {
        let now = 1531420618;
        assert!(!verify(SECRET, TIMESTAMP, b"token=changed", SIGNATURE, now));
        assert!(!verify("other", TIMESTAMP, BODY.as_bytes(), SIGNATURE, now));
        assert!(!verify(SECRET, TIMESTAMP, BODY.as_bytes(), SIGNATURE, now + 301), "outside the 5-minute window");
        assert!(!verify(SECRET, "x", BODY.as_bytes(), SIGNATURE, now));
        for extreme in [i64::MIN, i64::MAX, -1] {
            assert!(!verify(SECRET, &extreme.to_string(), BODY.as_bytes(), SIGNATURE, now), "{extreme}");
        }
        assert!(!verify(SECRET, TIMESTAMP, BODY.as_bytes(), "v1=00", now));
        // Found by fuzzing: extreme timestamps overflowed `now - sent` (a panic in debug builds).
        assert!(!verify(SECRET, &i64::MIN.to_string(), BODY.as_bytes(), SIGNATURE, now));
        assert!(!verify(SECRET, &i64::MAX.to_string(), BODY.as_bytes(), SIGNATURE, -now));
    }
}
