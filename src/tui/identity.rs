//! This terminal's device identity: an Ed25519 key generated once and kept in
//! `<config dir>/identity.json`, and the device tokens gateways issued to it, kept in
//! `<config dir>/device-tokens.json`. Both files are written with mode 0600.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::core::secret::Secret;

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("cannot read `{path}`: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot write `{path}`: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error("`{path}` is not a molt identity ({reason}); move it away to create a new one")]
    Invalid { path: PathBuf, reason: String },
}

/// An Ed25519 device key. `Debug` does not show the private half.
pub struct Identity {
    key: SigningKey,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Identity").field("device_id", &self.device_id()).finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdentityFile {
    version: u32,
    device_id: String,
    public_key: String,
    /// The 32-byte Ed25519 seed, base64url without padding.
    private_key: String,
    created_at_ms: i64,
}

impl Identity {
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self { key: SigningKey::from_bytes(&seed) }
    }

    /// Loads `<dir>/identity.json`, or creates it (and `dir`) with a new key.
    pub fn load_or_create(dir: &Path) -> Result<Self, IdentityError> {
        let path = dir.join("identity.json");
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&path, &text),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let identity = Self::from_seed(rand::random());
                let file = IdentityFile {
                    version: 1,
                    device_id: identity.device_id(),
                    public_key: identity.public_key(),
                    private_key: URL_SAFE_NO_PAD.encode(identity.key.to_bytes()),
                    created_at_ms: crate::core::time::now_ms(),
                };
                write_private(&path, &serde_json::to_string_pretty(&file).unwrap_or_default())?;
                Ok(identity)
            }
            Err(source) => Err(IdentityError::Read { path, source }),
        }
    }

    fn parse(path: &Path, text: &str) -> Result<Self, IdentityError> {
        let invalid = |reason: &str| IdentityError::Invalid { path: path.to_owned(), reason: reason.to_owned() };
        let file: IdentityFile = serde_json::from_str(text).map_err(|error| invalid(&error.to_string()))?;
        let bytes = URL_SAFE_NO_PAD.decode(file.private_key.trim_end_matches('=')).map_err(|_| invalid("bad key"))?;
        let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| invalid("the key is not 32 bytes"))?;
        let identity = Self::from_seed(seed);
        if identity.device_id() != file.device_id {
            return Err(invalid("the device id does not match the key"));
        }
        Ok(identity)
    }

    /// Lowercase hex SHA-256 of the raw public key.
    pub fn device_id(&self) -> String {
        hex::encode(Sha256::digest(self.key.verifying_key().to_bytes()))
    }

    /// The raw public key, base64url without padding.
    pub fn public_key(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.key.verifying_key().to_bytes())
    }

    /// A base64url signature of `payload`.
    pub fn sign(&self, payload: &str) -> String {
        URL_SAFE_NO_PAD.encode(self.key.sign(payload.as_bytes()).to_bytes())
    }
}

/// Device tokens by gateway URL.
#[derive(Debug, Clone)]
pub struct TokenStore {
    path: PathBuf,
}

#[derive(Serialize, Deserialize, Default)]
struct TokenFile {
    tokens: BTreeMap<String, StoredToken>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoredToken {
    token: String,
    expires_at_ms: Option<i64>,
}

impl TokenStore {
    pub fn new(dir: &Path) -> Self {
        Self { path: dir.join("device-tokens.json") }
    }

    fn read(&self) -> TokenFile {
        std::fs::read_to_string(&self.path).ok().and_then(|text| serde_json::from_str(&text).ok()).unwrap_or_default()
    }

    /// The token for `url`, unless it has expired.
    pub fn get(&self, url: &str, now_ms: i64) -> Option<Secret> {
        let file = self.read();
        let stored = file.tokens.get(url)?;
        if stored.expires_at_ms.is_some_and(|expires| expires <= now_ms) {
            return None;
        }
        Some(Secret::new(stored.token.clone()))
    }

    pub fn put(&self, url: &str, token: &Secret, expires_at_ms: Option<i64>) -> Result<(), IdentityError> {
        let mut file = self.read();
        file.tokens.insert(url.to_owned(), StoredToken { token: token.expose().to_owned(), expires_at_ms });
        self.write(&file)
    }

    pub fn remove(&self, url: &str) -> Result<(), IdentityError> {
        let mut file = self.read();
        if file.tokens.remove(url).is_some() {
            self.write(&file)?;
        }
        Ok(())
    }

    fn write(&self, file: &TokenFile) -> Result<(), IdentityError> {
        write_private(&self.path, &serde_json::to_string_pretty(file).unwrap_or_default())
    }
}

/// Writes a file readable by its owner only, through a temporary file and a rename.
fn write_private(path: &Path, contents: &str) -> Result<(), IdentityError> {
    use std::io::Write;
    let failed = |source| IdentityError::Write { path: path.to_owned(), source };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(failed)?;
    }
    let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut handle = options.open(&temporary).map_err(failed)?;
    handle.write_all(contents.as_bytes()).and_then(|()| handle.sync_all()).map_err(failed)?;
    std::fs::rename(&temporary, path).map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_once_with_owner_only_permissions_and_reloads_the_same_key() {
        let dir = tempfile::tempdir().unwrap();
        let first = Identity::load_or_create(dir.path()).unwrap();
        let second = Identity::load_or_create(dir.path()).unwrap();
        assert_eq!(first.device_id(), second.device_id());
        assert_eq!(first.device_id().len(), 64);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join("identity.json")).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{first:?}").contains(&URL_SAFE_NO_PAD.encode(first.key.to_bytes())));
    }

    #[test]
    fn refuses_a_tampered_identity() {
        let dir = tempfile::tempdir().unwrap();
        Identity::load_or_create(dir.path()).unwrap();
        let path = dir.path().join("identity.json");
        let text = std::fs::read_to_string(&path).unwrap().replace("\"deviceId\": \"", "\"deviceId\": \"00");
        std::fs::write(&path, text).unwrap();
        assert!(matches!(Identity::load_or_create(dir.path()), Err(IdentityError::Invalid { .. })));
    }

    #[test]
    fn keeps_tokens_per_gateway_until_they_expire() {
        let dir = tempfile::tempdir().unwrap();
        let store = TokenStore::new(dir.path());
        store.put("ws://a/ws", &Secret::new("one"), Some(100)).unwrap();
        store.put("ws://b/ws", &Secret::new("two"), None).unwrap();
        assert_eq!(store.get("ws://a/ws", 50).map(|token| token.expose().to_owned()), Some("one".to_owned()));
        assert_eq!(store.get("ws://a/ws", 100), None);
        store.remove("ws://b/ws").unwrap();
        assert_eq!(store.get("ws://b/ws", 0), None);
    }
}
