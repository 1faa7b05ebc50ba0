//! Identifier newtypes: session keys, run ids and device ids, validated where they enter.

use serde::{Deserialize, Serialize};

/// The key of one conversation, like `agent:main:main` or `agent:main:telegram:direct:42`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionKey(String);

/// The operator's own default conversation.
pub const MAIN_SESSION: &str = "agent:main:main";

const MAX_SESSION_KEY_LEN: usize = 256;

impl SessionKey {
    /// Validates a key from outside. `main` is accepted as the short name of [`MAIN_SESSION`],
    /// as OpenClaw clients send it.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err("sessionKey must not be empty".into());
        }
        if trimmed.len() > MAX_SESSION_KEY_LEN {
            return Err(format!("sessionKey is longer than {MAX_SESSION_KEY_LEN} bytes"));
        }
        if trimmed.chars().any(char::is_control) {
            return Err("sessionKey must not contain control characters".into());
        }
        if trimmed == "main" {
            return Ok(Self(MAIN_SESSION.into()));
        }
        Ok(Self(trimmed.to_owned()))
    }

    pub fn main() -> Self {
        Self(MAIN_SESSION.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for SessionKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// The id of one agent turn (`chat.send` → stream → final).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(String);

impl RunId {
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    pub fn from_stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RunId {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// A device id: lowercase hex SHA-256 of the device's raw Ed25519 public key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeviceId(String);

impl DeviceId {
    pub fn from_public_key(raw_public_key: &[u8]) -> Self {
        use sha2::{Digest, Sha256};
        Self(hex::encode(Sha256::digest(raw_public_key)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_keys_are_trimmed_and_main_is_expanded() {
        assert_eq!(SessionKey::parse(" main ").unwrap().as_str(), MAIN_SESSION);
        assert_eq!(SessionKey::parse("agent:main:web-1").unwrap().as_str(), "agent:main:web-1");
    }

    #[test]
    fn bad_session_keys_are_refused_with_a_reason() {
        assert!(SessionKey::parse("").unwrap_err().contains("empty"));
        assert!(SessionKey::parse("a\nb").unwrap_err().contains("control"));
        assert!(SessionKey::parse(&"x".repeat(300)).unwrap_err().contains("longer"));
    }
}
