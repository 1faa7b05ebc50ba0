//! The operator's local secrets for one deployment (API keys, bot tokens, the gateway token):
//! one entry in the OS keyring, or — announced — a 0600 JSON file in the config directory where
//! no keyring service runs. Values are [`Secret`]s and never leave this module as plain text
//! except through `expose()` at the one place that sends them.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::core::secret::Secret;

const SERVICE: &str = "molt";

/// Where the operator asked secrets to go (`MOLT_SECRET_STORE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreChoice {
    /// The keyring when a service answers, else the file (announced).
    Auto,
    Keyring,
    File,
}

impl StoreChoice {
    pub fn parse(raw: Option<&str>) -> Result<Self, SecretStoreError> {
        match raw.unwrap_or("auto") {
            "" | "auto" => Ok(Self::Auto),
            "keyring" => Ok(Self::Keyring),
            "file" => Ok(Self::File),
            other => Err(SecretStoreError::Choice { value: other.to_owned() }),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretStoreError {
    #[error("`MOLT_SECRET_STORE` has an invalid value `{value}`; expected `auto`, `keyring` or `file`")]
    Choice { value: String },
    #[error("the OS keyring failed: {reason}")]
    Keyring { reason: String },
    #[error("cannot read or write the secrets file `{path}`: {reason}")]
    File { path: PathBuf, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Backend {
    Keyring,
    File(PathBuf),
}

/// The secrets of one deployment, keyed by their environment variable names.
#[derive(Debug, Clone)]
pub struct SecretStore {
    worker: String,
    backend: Backend,
    /// Set when the store fell back to the file: the sentence to show the operator once.
    pub announcement: Option<String>,
}

impl SecretStore {
    /// Opens the store for `worker`; `config_dir` holds the fallback file.
    pub fn open(worker: &str, config_dir: &Path, choice: StoreChoice) -> Result<Self, SecretStoreError> {
        let file = config_dir.join("secrets").join(format!("{worker}.json"));
        let store = |backend, announcement| Self { worker: worker.to_owned(), backend, announcement };
        match choice {
            StoreChoice::File => Ok(store(Backend::File(file), None)),
            StoreChoice::Keyring => {
                probe_keyring(worker)?;
                Ok(store(Backend::Keyring, None))
            }
            StoreChoice::Auto if file.exists() => Ok(store(Backend::File(file), None)),
            StoreChoice::Auto => match probe_keyring(worker) {
                Ok(()) => Ok(store(Backend::Keyring, None)),
                Err(SecretStoreError::Keyring { reason }) => {
                    let note = format!(
                        "no OS keyring service is running ({reason}); secrets are kept in `{}` (mode 0600)",
                        file.display()
                    );
                    Ok(store(Backend::File(file), Some(note)))
                }
                Err(other) => Err(other),
            },
        }
    }

    /// Where the secrets are, for messages.
    pub fn location(&self) -> String {
        match &self.backend {
            Backend::Keyring => format!("the OS keyring (service `{SERVICE}`, entry `{}`)", self.worker),
            Backend::File(path) => format!("`{}` (mode 0600)", path.display()),
        }
    }

    pub fn load(&self) -> Result<BTreeMap<String, Secret>, SecretStoreError> {
        let text = match &self.backend {
            Backend::Keyring => match entry(&self.worker)?.get_password() {
                Ok(text) => text,
                Err(keyring::Error::NoEntry) => return Ok(BTreeMap::new()),
                Err(error) => return Err(SecretStoreError::Keyring { reason: error.to_string() }),
            },
            Backend::File(path) => match std::fs::read_to_string(path) {
                Ok(text) => text,
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
                Err(error) => return Err(file_error(path, &error)),
            },
        };
        let map: BTreeMap<String, String> = serde_json::from_str(&text).map_err(|error| match &self.backend {
            Backend::Keyring => SecretStoreError::Keyring { reason: format!("the stored entry is not JSON: {error}") },
            Backend::File(path) => file_error(path, &format!("not a JSON object of strings: {error}")),
        })?;
        Ok(map.into_iter().map(|(name, value)| (name, Secret::new(value))).collect())
    }

    pub fn save(&self, secrets: &BTreeMap<String, Secret>) -> Result<(), SecretStoreError> {
        let plain: BTreeMap<&str, &str> = secrets.iter().map(|(name, value)| (name.as_str(), value.expose())).collect();
        let text = serde_json::to_string_pretty(&plain).unwrap_or_default();
        match &self.backend {
            Backend::Keyring => entry(&self.worker)?
                .set_password(&text)
                .map_err(|error| SecretStoreError::Keyring { reason: error.to_string() }),
            Backend::File(path) => write_private(path, &text).map_err(|error| file_error(path, &error)),
        }
    }

    /// Sets one secret and saves.
    pub fn set(&self, name: &str, value: Secret) -> Result<(), SecretStoreError> {
        let mut secrets = self.load()?;
        secrets.insert(name.to_owned(), value);
        self.save(&secrets)
    }
}

fn entry(worker: &str) -> Result<keyring::Entry, SecretStoreError> {
    keyring::Entry::new(SERVICE, worker).map_err(|error| SecretStoreError::Keyring { reason: error.to_string() })
}

/// Reads the entry once: a missing entry proves the service answers.
fn probe_keyring(worker: &str) -> Result<(), SecretStoreError> {
    match entry(worker)?.get_password() {
        Ok(_) | Err(keyring::Error::NoEntry) => Ok(()),
        Err(error) => Err(SecretStoreError::Keyring { reason: error.to_string() }),
    }
}

fn file_error(path: &Path, reason: &dyn std::fmt::Display) -> SecretStoreError {
    SecretStoreError::File { path: path.to_owned(), reason: reason.to_string() }
}

/// Writes `text` to `path` with mode 0600 (directory 0700), replacing it atomically.
fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let temporary = path.with_extension("json.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&temporary)?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&temporary, path)
}

/// `MOLT_CONFIG_DIR`, else `$XDG_CONFIG_HOME/molt`, else `~/.config/molt`.
pub fn config_dir(env: &dyn Fn(&str) -> Option<String>) -> PathBuf {
    let non_empty = |name: &str| env(name).filter(|value| !value.is_empty());
    if let Some(dir) = non_empty("MOLT_CONFIG_DIR") {
        return PathBuf::from(dir);
    }
    if let Some(xdg) = non_empty("XDG_CONFIG_HOME") {
        return Path::new(&xdg).join("molt");
    }
    match non_empty("HOME") {
        Some(home) => Path::new(&home).join(".config/molt"),
        None => PathBuf::from(".molt-config"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_store_round_trips_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let store = SecretStore::open("bot", dir.path(), StoreChoice::File).unwrap();
        assert!(store.load().unwrap().is_empty());
        store.set("ANTHROPIC_API_KEY", Secret::new("sk-ant-1")).unwrap();
        store.set("MOLT_GATEWAY_TOKEN", Secret::new("tok")).unwrap();
        let loaded = store.load().unwrap();
        assert_eq!(loaded["ANTHROPIC_API_KEY"].expose(), "sk-ant-1");
        assert_eq!(loaded.len(), 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let path = dir.path().join("secrets/bot.json");
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
            let parent = std::fs::metadata(dir.path().join("secrets")).unwrap();
            assert_eq!(parent.permissions().mode() & 0o777, 0o700);
        }
        assert!(store.location().contains("bot.json"));
        assert!(!format!("{store:?}").contains("sk-ant-1"));
    }

    #[test]
    fn store_choice_parses_and_rejects_typos() {
        assert_eq!(StoreChoice::parse(None).unwrap(), StoreChoice::Auto);
        assert_eq!(StoreChoice::parse(Some("file")).unwrap(), StoreChoice::File);
        assert!(StoreChoice::parse(Some("vault")).unwrap_err().to_string().contains("`auto`, `keyring` or `file`"));
    }

    #[test]
    fn config_dir_follows_xdg() {
        let env = |name: &str| (name == "XDG_CONFIG_HOME").then(|| "/x".to_owned());
        assert_eq!(config_dir(&env), PathBuf::from("/x/molt"));
        let env = |name: &str| (name == "HOME").then(|| "/home/ada".to_owned());
        assert_eq!(config_dir(&env), PathBuf::from("/home/ada/.config/molt"));
    }
}
