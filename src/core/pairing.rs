//! Pairing rules: chat-platform DM policies, pairing codes, and the lifetimes of requests,
//! codes and device tokens.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A pending device request lives this long after its last attempt.
pub const DEVICE_REQUEST_TTL: Duration = Duration::from_secs(5 * 60);
/// A chat-platform pairing code lives this long.
pub const CODE_TTL: Duration = Duration::from_secs(60 * 60);
/// Pending codes per channel at most.
pub const MAX_PENDING_CODES: usize = 3;
/// A pending code is kept at least this long; past it, a full channel gives its place to a new
/// sender, so a few strangers cannot block a channel's pairing for a code's whole lifetime.
pub const CODE_HOLD: Duration = Duration::from_secs(10 * 60);
/// Default lifetime of a device token.
pub const DEVICE_TOKEN_TTL_DAYS: u64 = 30;

/// Uppercase letters and digits without the look-alikes `0 O 1 I`.
pub const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
pub const CODE_LENGTH: usize = 8;

/// The chat platforms molt connects.
pub const CHANNELS: [&str; 3] = ["telegram", "discord", "slack"];

/// Who may talk to the assistant in direct messages on a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DmPolicy {
    /// Unknown senders get a code the operator approves (the default).
    #[default]
    Pairing,
    /// Only allowlisted senders; others are ignored.
    Allowlist,
    /// Anyone.
    Open,
    /// Nobody.
    Disabled,
}

impl FromStr for DmPolicy {
    type Err = String;
    fn from_str(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "pairing" => Ok(Self::Pairing),
            "allowlist" => Ok(Self::Allowlist),
            "open" => Ok(Self::Open),
            "disabled" => Ok(Self::Disabled),
            other => Err(format!("unknown DM policy `{other}`; expected `pairing`, `allowlist`, `open` or `disabled`")),
        }
    }
}

impl fmt::Display for DmPolicy {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Self::Pairing => "pairing",
            Self::Allowlist => "allowlist",
            Self::Open => "open",
            Self::Disabled => "disabled",
        })
    }
}

/// What to do with a direct message from a sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DmDecision {
    Allow,
    /// Answer with this pairing code (new or still pending) and do not run the agent.
    Code(String),
    /// The channel already has its maximum of pending codes: say so, run nothing.
    TooManyPending,
    /// Ignore silently (allowlist or disabled).
    Ignore,
}

/// A new random pairing code.
pub fn generate_code() -> String {
    (0..CODE_LENGTH).map(|_| CODE_ALPHABET[rand::random_range(0..CODE_ALPHABET.len())] as char).collect()
}

/// Accepts what a person types: any case, spaces or dashes.
pub fn normalise_code(raw: &str) -> Option<String> {
    let code: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).map(|c| c.to_ascii_uppercase()).collect();
    (code.len() == CODE_LENGTH && code.bytes().all(|b| CODE_ALPHABET.contains(&b))).then_some(code)
}

pub fn is_channel(name: &str) -> bool {
    CHANNELS.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_use_the_unambiguous_alphabet() {
        for _ in 0..200 {
            let code = generate_code();
            assert_eq!(code.len(), 8);
            assert!(!code.contains(['0', 'O', '1', 'I']), "{code}");
            assert_eq!(normalise_code(&code.to_lowercase()), Some(code));
        }
        assert_eq!(normalise_code("abcd-2345"), Some("ABCD2345".into()));
        assert_eq!(normalise_code("ABCD0345"), None, "0 is not in the alphabet");
        assert_eq!(normalise_code("ABC"), None);
    }

    #[test]
    fn policies_parse_and_print() {
        for policy in [DmPolicy::Pairing, DmPolicy::Allowlist, DmPolicy::Open, DmPolicy::Disabled] {
            assert_eq!(policy.to_string().parse::<DmPolicy>(), Ok(policy));
        }
        assert!("Open".parse::<DmPolicy>().is_ok());
        assert!("everyone".parse::<DmPolicy>().unwrap_err().contains("expected"));
    }
}
