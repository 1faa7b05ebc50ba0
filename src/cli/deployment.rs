//! What the commands that work on a deployment share: its folder's `molt.toml` (which must have
//! a `[deploy]` section), the local secret store, and a Cloudflare client with the stored token.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::error::{Hint, UserError};
use crate::core::secret::Secret;
use crate::core::settings::{DeploySection, FileConfig, SettingsError};
use crate::provision::cloudflare::Cloudflare;
use crate::provision::secrets::{SecretStore, StoreChoice, config_dir};

pub const CONFIG_FILE: &str = "molt.toml";

/// The deploy folder's `molt.toml`, which must have a `[deploy]` section.
pub fn load_config(dir: &Path) -> Result<(FileConfig, DeploySection), UserError> {
    let path = dir.join(CONFIG_FILE);
    let config = FileConfig::load(&path, true)
        .map_err(|error| FolderError::Config { error, dir: dir.to_owned() })?
        .unwrap_or_default();
    let deploy = config.deploy.clone().ok_or_else(|| FolderError::NoDeploySection { path, dir: dir.to_owned() })?;
    Ok((config, deploy))
}

/// A Cloudflare client with the token from the environment or the local store.
pub fn cloudflare(deploy: &DeploySection, env: &dyn Fn(&str) -> Option<String>) -> Result<Cloudflare, UserError> {
    let store = open_store(&deploy.worker_name, env)?;
    let token = match env("CLOUDFLARE_API_TOKEN") {
        Some(token) => Secret::new(token),
        None => load_secrets(&store)?.remove("CLOUDFLARE_API_TOKEN").ok_or(FolderError::NoApiToken)?,
    };
    Ok(Cloudflare::new(&Cloudflare::base_url_from(env), token, deploy.account_id.clone()))
}

/// What the deploy folder or the local store lacks.
#[derive(Debug, thiserror::Error)]
pub enum FolderError {
    #[error("{error}")]
    Config { error: SettingsError, dir: PathBuf },
    #[error("`{}` has no `[deploy]` section", .path.display())]
    NoDeploySection { path: PathBuf, dir: PathBuf },
    #[error("no Cloudflare API token: neither `CLOUDFLARE_API_TOKEN` nor the local secret store has one")]
    NoApiToken,
}

impl Hint for FolderError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::Config { dir, .. } | Self::NoDeploySection { dir, .. } => {
                format!("run `molt init --dir {}` first", dir.display())
            }
            Self::NoApiToken => "set `CLOUDFLARE_API_TOKEN`, or run `molt init` to store it".into(),
        })
    }
}

/// The local secret store for `worker`, as `MOLT_SECRET_STORE` and the config directory say.
pub fn open_store(worker: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<SecretStore, UserError> {
    let choice = StoreChoice::parse(env("MOLT_SECRET_STORE").as_deref())?;
    Ok(SecretStore::open(worker, &config_dir(env), choice)?)
}

pub fn load_secrets(store: &SecretStore) -> Result<BTreeMap<String, Secret>, UserError> {
    Ok(store.load()?)
}
