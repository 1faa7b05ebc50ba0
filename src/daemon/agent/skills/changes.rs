//! The operator's changes to the skills: add one from a `.zip` (checked whole, then written
//! atomically), remove one, switch one on or off. The names switched off are a store setting
//! (replicated, never reset by a restart); a skill removed, or added anew, is on.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::install::{self, InstallError};
use super::{DISABLED_SETTING, SkillView};
use crate::core::skills::archive::{self, ArchiveError};
use crate::core::skills::{Limits, name_problem};
use crate::core::sync::lock;
use crate::daemon::agent::Agent;
use crate::daemon::store::StoreError;

/// Skills installed at most: past it an add is refused (removing one makes room).
pub const MAX_INSTALLED: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum SkillsError {
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    #[error("{0}")]
    BadName(String),
    #[error("there is no skill named `{0}`")]
    Unknown(String),
    #[error("a skill named `{0}` is already installed")]
    Exists(String),
    #[error("{MAX_INSTALLED} skills are installed, the most the gateway keeps")]
    Full,
    #[error(transparent)]
    Install(InstallError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the skill could not be written: the worker stopped")]
    Worker,
}

impl From<InstallError> for SkillsError {
    fn from(error: InstallError) -> Self {
        match error {
            InstallError::Exists(name) => Self::Exists(name),
            InstallError::Missing(name) => Self::Unknown(name),
            other => Self::Install(other),
        }
    }
}

/// What an add did.
#[derive(Debug)]
pub struct Added {
    pub skill: SkillView,
    pub replaced: bool,
    pub files: usize,
    pub bytes: u64,
}

fn checked_name(name: &str) -> Result<(), SkillsError> {
    name_problem(name).map_or(Ok(()), |problem| Err(SkillsError::BadName(problem)))
}

impl Agent {
    /// Reads the names switched off from the store and clears what a stopped add or removal
    /// left behind.
    pub async fn load_skills(&self) -> Result<(), StoreError> {
        install::sweep(&self.skills.root);
        let stored = self.store.setting(DISABLED_SETTING).await?.unwrap_or_else(|| "[]".into());
        let names: BTreeSet<String> = serde_json::from_str(&stored).unwrap_or_else(|error| {
            tracing::error!(%error, "the skills switched off cannot be read; every skill is on");
            BTreeSet::new()
        });
        *lock(&self.skills.disabled) = names;
        Ok(())
    }

    pub fn skills_view(&self) -> super::SkillsView {
        self.skills.view()
    }

    fn skill_view(&self, name: &str) -> Result<SkillView, SkillsError> {
        self.skills.view().skills.into_iter().find(|skill| skill.name == name).ok_or(SkillsError::Unknown(name.into()))
    }

    /// Checks the archive whole, then writes the skill; `replace` lets it take the place of
    /// one of the same name (which keeps its on or off).
    pub async fn add_skill(self: &Arc<Self>, archive: Vec<u8>, replace: bool) -> Result<Added, SkillsError> {
        let _changing = self.skills.changing.lock().await;
        let root = self.skills.root.clone();
        let written = tokio::task::spawn_blocking(move || -> Result<_, SkillsError> {
            let skill = archive::unpack(&archive, &Limits::DEFAULT)?;
            let name = skill.manifest.name.clone();
            if !root.join(&name).exists() && install::count(&root) >= MAX_INSTALLED {
                return Err(SkillsError::Full);
            }
            let replaced = install::install(&root, &skill, replace)?;
            Ok((name, replaced, skill.files.len(), skill.total_bytes()))
        })
        .await
        .map_err(|_| SkillsError::Worker)??;
        let (name, replaced, files, bytes) = written;
        if !replaced {
            self.switch(&name, true).await?;
        }
        tracing::info!(skill = %name, replaced, files, bytes, "a skill was added");
        Ok(Added { skill: self.skill_view(&name)?, replaced, files, bytes })
    }

    pub async fn remove_skill(&self, name: &str) -> Result<(), SkillsError> {
        checked_name(name)?;
        let _changing = self.skills.changing.lock().await;
        let root = self.skills.root.clone();
        let folder = name.to_owned();
        tokio::task::spawn_blocking(move || install::remove(&root, &folder))
            .await
            .map_err(|_| SkillsError::Worker)??;
        self.switch(name, true).await?;
        tracing::info!(skill = %name, "a skill was removed");
        Ok(())
    }

    /// Switches a skill on or off; kept in the store.
    pub async fn set_skill_enabled(&self, name: &str, enabled: bool) -> Result<SkillView, SkillsError> {
        checked_name(name)?;
        let _changing = self.skills.changing.lock().await;
        if !self.skills.root.join(name).is_dir() {
            return Err(SkillsError::Unknown(name.into()));
        }
        self.switch(name, enabled).await?;
        tracing::info!(skill = %name, enabled, "a skill was switched");
        self.skill_view(name)
    }

    /// Stores the names switched off with `name` on or off, then applies them.
    async fn switch(&self, name: &str, enabled: bool) -> Result<(), StoreError> {
        let mut next = lock(&self.skills.disabled).clone();
        let changed = if enabled { next.remove(name) } else { next.insert(name.to_owned()) };
        if !changed {
            return Ok(());
        }
        let stored = serde_json::to_string(&next).unwrap_or_else(|_| "[]".into());
        self.store.set_setting(DISABLED_SETTING, &stored).await?;
        *lock(&self.skills.disabled) = next;
        Ok(())
    }
}
