//! What `molt deploy` has already done, kept in `<deploy dir>/.molt/state.json` so a re-run skips
//! it: ids the API returned and digests of what was pushed. It holds no secret: a pushed value
//! is remembered only as a salted SHA-256 digest.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::core::secret::Secret;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeployState {
    /// Digest of every secret pushed to the Worker, by name.
    #[serde(default)]
    pub pushed: BTreeMap<String, String>,
    /// Digest of the deploy folder's files (and the image's binary) at the last `wrangler deploy`.
    pub worker_digest: Option<String>,
    pub access_app_id: Option<String>,
    /// Digest of the Telegram webhook URL and secret last set.
    pub telegram_webhook: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("cannot {action} the deploy state `{path}`: {reason}")]
pub struct StateError {
    action: &'static str,
    path: PathBuf,
    reason: String,
}

impl DeployState {
    pub fn path(deploy_dir: &Path) -> PathBuf {
        deploy_dir.join(".molt").join("state.json")
    }

    pub fn load(deploy_dir: &Path) -> Result<Self, StateError> {
        let path = Self::path(deploy_dir);
        let failed = |reason: String| StateError { action: "read", path: path.clone(), reason };
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text).map_err(|error| failed(error.to_string())),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(error) => Err(failed(error.to_string())),
        }
    }

    /// Saved after every step, so a failure later keeps what was done.
    pub fn save(&self, deploy_dir: &Path) -> Result<(), StateError> {
        let path = Self::path(deploy_dir);
        let failed = |reason: String| StateError { action: "write", path: path.clone(), reason };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|error| failed(error.to_string()))?;
        }
        let text = serde_json::to_string_pretty(self).unwrap_or_default();
        let temporary = path.with_extension("json.tmp");
        std::fs::write(&temporary, text).map_err(|error| failed(error.to_string()))?;
        std::fs::rename(&temporary, &path).map_err(|error| failed(error.to_string()))
    }
}

/// A digest that identifies `value` under `name` for `salt` without revealing it.
pub fn secret_digest(salt: &str, name: &str, value: &Secret) -> String {
    let mut hasher = Sha256::new();
    for part in [salt, name, value.expose()] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_starts_empty() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(DeployState::load(dir.path()).unwrap(), DeployState::default());
        let mut state = DeployState::default();
        state.pushed.insert("A".into(), secret_digest("w", "A", &Secret::new("v")));
        state.access_app_id = Some("app".into());
        state.save(dir.path()).unwrap();
        assert_eq!(DeployState::load(dir.path()).unwrap(), state);
        let text = std::fs::read_to_string(DeployState::path(dir.path())).unwrap();
        assert!(!text.contains("\"v\""));
    }

    #[test]
    fn digests_depend_on_salt_name_and_value() {
        let value = Secret::new("v");
        let base = secret_digest("w", "A", &value);
        assert_ne!(base, secret_digest("x", "A", &value));
        assert_ne!(base, secret_digest("w", "B", &value));
        assert_ne!(base, secret_digest("w", "A", &Secret::new("u")));
        assert_eq!(base, secret_digest("w", "A", &Secret::new("v")));
    }
}
