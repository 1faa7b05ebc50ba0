//! `molt deploy`'s steps, in order, each idempotent and skipped when already done: verify the
//! token, the R2 bucket, R2 S3 credentials, the workers.dev subdomain, Cloudflare Access, the
//! Worker (`wrangler deploy`), the Worker's secrets, the Telegram webhook. What was done is saved
//! after each step (`state.rs`), so a re-run after a failure continues where it stopped.

use std::path::PathBuf;

use sha2::{Digest, Sha256};

use super::cloudflare::{Cloudflare, CloudflareError};
use super::secrets::{SecretStore, SecretStoreError};
use super::state::{DeployState, StateError, secret_digest};
use super::telegram::{Telegram, TelegramError, WEBHOOK_PATH};
use super::templates::{self, TemplateError};
use super::wrangler::{self, Wrangler, WranglerError};
use crate::core::secret::Secret;
use crate::core::settings::{DeploySection, FileConfig};

/// The permission group a bucket-scoped R2 token gets (object read and write).
pub const R2_PERMISSION_GROUP: &str = "Workers R2 Storage Bucket Item Write";
/// Local secrets that stay local: never pushed to the Worker.
pub const LOCAL_ONLY: &[&str] = &["CLOUDFLARE_API_TOKEN"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Token,
    Bucket,
    R2Credentials,
    Subdomain,
    Access,
    Worker,
    Secrets,
    Telegram,
}

impl Step {
    pub const ALL: [Step; 8] = [
        Step::Token,
        Step::Bucket,
        Step::R2Credentials,
        Step::Subdomain,
        Step::Access,
        Step::Worker,
        Step::Secrets,
        Step::Telegram,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Step::Token => "API token",
            Step::Bucket => "R2 bucket",
            Step::R2Credentials => "R2 credentials",
            Step::Subdomain => "workers.dev subdomain",
            Step::Access => "Cloudflare Access",
            Step::Worker => "Worker and container",
            Step::Secrets => "Worker secrets",
            Step::Telegram => "Telegram webhook",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Changed,
    AlreadyDone,
    NotConfigured,
}

/// What the caller shows while the steps run.
pub trait Progress {
    fn start(&mut self, step: Step);
    fn finish(&mut self, step: Step, outcome: Outcome, detail: &str);
    /// A line of wrangler's output.
    fn output(&mut self, line: &str);
}

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{}: {source}", .step.label())]
    Cloudflare { step: Step, source: CloudflareError },
    #[error("the API token is not active (status `{0}`)")]
    TokenInactive(String),
    #[error("no API permission group is named `{R2_PERMISSION_GROUP}`")]
    NoPermissionGroup,
    #[error("the Worker `{0}` does not exist on the account, so its secrets cannot be set")]
    NoWorker(String),
    #[error("Telegram webhook mode needs the local secret `{0}`")]
    MissingSecret(&'static str),
    #[error(transparent)]
    Wrangler(#[from] WranglerError),
    #[error(transparent)]
    Store(#[from] SecretStoreError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Telegram(#[from] TelegramError),
    #[error(transparent)]
    Template(#[from] TemplateError),
    #[error("cannot copy the `molt` binary into `{path}`: {reason}")]
    Binary { path: PathBuf, reason: String },
}

/// Everything a deploy needs, resolved by the caller.
pub struct Deploy {
    pub dir: PathBuf,
    pub config: FileConfig,
    pub cloudflare: Cloudflare,
    pub store: SecretStore,
    pub telegram_api: String,
    /// `None` skips `wrangler deploy` (the Worker is uploaded some other way).
    pub wrangler: Option<Wrangler>,
    /// The binary copied beside the rendered `Dockerfile` when no registry image is used.
    pub molt_binary: Option<PathBuf>,
}

pub struct Deployed {
    pub url: String,
    pub changed: usize,
}

impl Deploy {
    fn section(&self) -> Result<&DeploySection, DeployError> {
        self.config.deploy.as_ref().ok_or(DeployError::Template(TemplateError::NoDeploySection))
    }

    pub async fn run(&self, progress: &mut dyn Progress) -> Result<Deployed, DeployError> {
        let deploy = self.section()?.clone();
        let mut state = DeployState::load(&self.dir)?;
        let mut changed = 0;
        let mut finish = |progress: &mut dyn Progress, step, outcome, detail: &str| {
            if outcome == Outcome::Changed {
                changed += 1;
            }
            progress.finish(step, outcome, detail);
        };
        let api = |step| move |source| DeployError::Cloudflare { step, source };

        progress.start(Step::Token);
        let token = self.cloudflare.verify_token().await.map_err(api(Step::Token))?;
        if token.status != "active" {
            return Err(DeployError::TokenInactive(token.status));
        }
        finish(progress, Step::Token, Outcome::AlreadyDone, "verified");

        progress.start(Step::Bucket);
        let outcome = self.bucket(&deploy.bucket).await.map_err(api(Step::Bucket))?;
        finish(progress, Step::Bucket, outcome, &format!("`{}`", deploy.bucket));

        progress.start(Step::R2Credentials);
        let outcome = self.r2_credentials(&deploy).await?;
        finish(progress, Step::R2Credentials, outcome, "scoped to the bucket");

        progress.start(Step::Subdomain);
        let (subdomain, outcome) = self.subdomain().await.map_err(api(Step::Subdomain))?;
        let host = format!("{}.{subdomain}.workers.dev", deploy.worker_name);
        finish(progress, Step::Subdomain, outcome, &format!("`{subdomain}.workers.dev`"));

        progress.start(Step::Access);
        let (outcome, detail) = self.access(&deploy, &host, &mut state).await?;
        state.save(&self.dir)?;
        finish(progress, Step::Access, outcome, &detail);

        progress.start(Step::Worker);
        let (outcome, detail) = self.worker(&deploy, &mut state, progress).await?;
        state.save(&self.dir)?;
        finish(progress, Step::Worker, outcome, &detail);

        progress.start(Step::Secrets);
        let pushed = self.secrets(&deploy, &mut state).await?;
        let outcome = if pushed > 0 { Outcome::Changed } else { Outcome::AlreadyDone };
        finish(progress, Step::Secrets, outcome, &format!("{pushed} pushed"));

        progress.start(Step::Telegram);
        let (outcome, detail) = self.telegram(&deploy, &host, &mut state).await?;
        state.save(&self.dir)?;
        finish(progress, Step::Telegram, outcome, &detail);

        Ok(Deployed { url: format!("https://{host}/"), changed })
    }

    async fn bucket(&self, name: &str) -> Result<Outcome, CloudflareError> {
        if self.cloudflare.bucket(name).await?.is_some() {
            return Ok(Outcome::AlreadyDone);
        }
        match self.cloudflare.create_bucket(name).await {
            Ok(_) => Ok(Outcome::Changed),
            // Created by someone else between the two calls: it exists, which is all we need.
            Err(error) if error.has_code(super::cloudflare::codes::BUCKET_EXISTS) => Ok(Outcome::AlreadyDone),
            Err(error) => Err(error),
        }
    }

    /// R2's S3 credentials are an API token: key id = token id, secret = SHA-256 of its value.
    async fn r2_credentials(&self, deploy: &DeploySection) -> Result<Outcome, DeployError> {
        let local = self.store.load()?;
        if local.contains_key("R2_ACCESS_KEY_ID") && local.contains_key("R2_SECRET_ACCESS_KEY") {
            return Ok(Outcome::AlreadyDone);
        }
        let api = |source| DeployError::Cloudflare { step: Step::R2Credentials, source };
        let groups = self.cloudflare.permission_groups().await.map_err(api)?;
        let group =
            groups.iter().find(|group| group.name == R2_PERMISSION_GROUP).ok_or(DeployError::NoPermissionGroup)?;
        let name = format!("molt-{}-r2", deploy.worker_name);
        let token = self.cloudflare.create_bucket_token(&name, &deploy.bucket, &group.id).await.map_err(api)?;
        let secret = hex::encode(Sha256::digest(token.value().expose().as_bytes()));
        let mut local = self.store.load()?;
        local.insert("R2_ACCESS_KEY_ID".into(), Secret::new(token.id.clone()));
        local.insert("R2_SECRET_ACCESS_KEY".into(), Secret::new(secret));
        self.store.save(&local)?;
        Ok(Outcome::Changed)
    }

    async fn subdomain(&self) -> Result<(String, Outcome), CloudflareError> {
        if let Some(existing) = self.cloudflare.workers_subdomain().await? {
            return Ok((existing, Outcome::AlreadyDone));
        }
        let prefix: String = self.cloudflare.account_id.chars().filter(char::is_ascii_alphanumeric).take(8).collect();
        let wanted = format!("molt-{prefix}").to_ascii_lowercase();
        Ok((self.cloudflare.create_workers_subdomain(&wanted).await?, Outcome::Changed))
    }

    async fn access(
        &self,
        deploy: &DeploySection,
        host: &str,
        state: &mut DeployState,
    ) -> Result<(Outcome, String), DeployError> {
        let Some(access) = &deploy.access else {
            return Ok((Outcome::NotConfigured, "no team domain in `molt.toml`".into()));
        };
        let api = |source| DeployError::Cloudflare { step: Step::Access, source };
        let mut outcome = Outcome::AlreadyDone;
        let apps = self.cloudflare.access_apps().await.map_err(api)?;
        let admin_name = format!("molt {} admin", deploy.worker_name);
        let uris = if access.whole_host {
            vec![host.to_owned()]
        } else {
            vec![format!("{host}/_admin"), format!("{host}/api/admin")]
        };
        let app = match apps.iter().find(|app| app.name == admin_name) {
            Some(app) => app.clone(),
            None => {
                outcome = Outcome::Changed;
                self.cloudflare.create_access_app(&admin_name, &uris).await.map_err(api)?
            }
        };
        state.access_app_id = Some(app.id.clone());
        let policies = self.cloudflare.access_policies(&app.id).await.map_err(api)?;
        if !policies.iter().any(|policy| policy.name == "molt operators") {
            outcome = Outcome::Changed;
            self.cloudflare
                .create_access_policy(&app.id, "molt operators", "allow", &access.emails)
                .await
                .map_err(api)?;
        }
        if access.whole_host {
            let channels_name = format!("molt {} channel webhooks", deploy.worker_name);
            let channels = match apps.iter().find(|app| app.name == channels_name) {
                Some(app) => app.clone(),
                None => {
                    outcome = Outcome::Changed;
                    let uris = [format!("{host}/channels")];
                    self.cloudflare.create_access_app(&channels_name, &uris).await.map_err(api)?
                }
            };
            let policies = self.cloudflare.access_policies(&channels.id).await.map_err(api)?;
            if !policies.iter().any(|policy| policy.decision == "bypass") {
                outcome = Outcome::Changed;
                self.cloudflare
                    .create_access_policy(&channels.id, "molt channel webhooks", "bypass", &[])
                    .await
                    .map_err(api)?;
            }
        }
        let team_domain = self.cloudflare.access_team_domain().await.map_err(api)?;
        let mut local = self.store.load()?;
        let aud = Secret::new(app.aud.clone());
        if local.get("CF_ACCESS_AUD") != Some(&aud) {
            local.insert("CF_ACCESS_AUD".into(), aud);
            self.store.save(&local)?;
        }
        Ok((outcome, format!("`{admin_name}` on `{team_domain}`")))
    }

    async fn worker(
        &self,
        deploy: &DeploySection,
        state: &mut DeployState,
        progress: &mut dyn Progress,
    ) -> Result<(Outcome, String), DeployError> {
        let Some(runner) = &self.wrangler else {
            return Ok((Outcome::NotConfigured, "skipped: `--skip-wrangler`".into()));
        };
        let files = templates::render(&self.config)?;
        templates::write(&self.dir, &files)?;
        let mut hasher = Sha256::new();
        for file in &files {
            hasher.update(file.name.as_bytes());
            hasher.update(file.text.as_bytes());
        }
        if deploy.image.is_none()
            && let Some(binary) = &self.molt_binary
        {
            let target = self.dir.join("molt");
            let bytes = std::fs::read(binary)
                .map_err(|error| DeployError::Binary { path: target.clone(), reason: error.to_string() })?;
            hasher.update(&bytes);
            if std::fs::read(&target).ok().as_deref() != Some(bytes.as_slice()) {
                std::fs::write(&target, &bytes)
                    .map_err(|error| DeployError::Binary { path: target.clone(), reason: error.to_string() })?;
            }
        }
        let digest = hex::encode(hasher.finalize());
        let exists = self
            .cloudflare
            .worker_secrets(&deploy.worker_name)
            .await
            .map_err(|source| DeployError::Cloudflare { step: Step::Worker, source })?
            .is_some();
        if exists && state.worker_digest.as_deref() == Some(digest.as_str()) {
            return Ok((Outcome::AlreadyDone, "unchanged since the last deploy".into()));
        }
        if !wrangler::on_path("npx") {
            return Err(WranglerError::NodeMissing { program: "npx" }.into());
        }
        if deploy.image.is_none() && !wrangler::on_path("docker") {
            return Err(WranglerError::DockerMissing {
                dir: self.dir.clone(),
                output: "`docker` is not on PATH".into(),
            }
            .into());
        }
        let lines = runner.deploy(&mut |line| progress.output(line)).await?;
        state.worker_digest = Some(digest);
        let detail =
            wrangler::deployed_url(&lines).map_or_else(|| "deployed".to_owned(), |url| format!("deployed to {url}"));
        Ok((Outcome::Changed, detail))
    }

    async fn secrets(&self, deploy: &DeploySection, state: &mut DeployState) -> Result<usize, DeployError> {
        push_secrets(&self.cloudflare, &self.store, &self.dir, &deploy.worker_name, state, false).await
    }

    async fn telegram(
        &self,
        deploy: &DeploySection,
        host: &str,
        state: &mut DeployState,
    ) -> Result<(Outcome, String), DeployError> {
        let webhook = deploy.channels.telegram.as_ref().is_some_and(|telegram| telegram.mode == "webhook");
        if !webhook {
            return Ok((Outcome::NotConfigured, "Telegram webhook mode not chosen".into()));
        }
        let local = self.store.load()?;
        let token = local.get("TELEGRAM_BOT_TOKEN").ok_or(DeployError::MissingSecret("TELEGRAM_BOT_TOKEN"))?;
        let secret =
            local.get("TELEGRAM_WEBHOOK_SECRET").ok_or(DeployError::MissingSecret("TELEGRAM_WEBHOOK_SECRET"))?;
        let url = format!("https://{host}{WEBHOOK_PATH}");
        let digest = secret_digest(&url, "TELEGRAM_WEBHOOK_SECRET", secret);
        let telegram = Telegram::new(&self.telegram_api, token.clone());
        if state.telegram_webhook.as_deref() == Some(digest.as_str()) && telegram.webhook_url().await? == url {
            return Ok((Outcome::AlreadyDone, format!("`{url}`")));
        }
        telegram.set_webhook(&url, secret).await?;
        state.telegram_webhook = Some(digest);
        Ok((Outcome::Changed, format!("`{url}`")))
    }
}

/// Pushes every local secret (but [`LOCAL_ONLY`]) that the Worker lacks or that changed since it
/// was last pushed — or all of them with `force`. Returns how many were pushed.
pub async fn push_secrets(
    cloudflare: &Cloudflare,
    store: &SecretStore,
    dir: &std::path::Path,
    worker: &str,
    state: &mut DeployState,
    force: bool,
) -> Result<usize, DeployError> {
    let api = |source| DeployError::Cloudflare { step: Step::Secrets, source };
    let remote = cloudflare
        .worker_secrets(worker)
        .await
        .map_err(api)?
        .ok_or_else(|| DeployError::NoWorker(worker.to_owned()))?;
    let mut pushed = 0;
    for (name, value) in store.load()? {
        if LOCAL_ONLY.contains(&name.as_str()) {
            continue;
        }
        let digest = secret_digest(worker, &name, &value);
        let present = remote.iter().any(|secret| secret.name == name);
        if !force && present && state.pushed.get(&name) == Some(&digest) {
            continue;
        }
        cloudflare.put_worker_secret(worker, &name, &value).await.map_err(api)?;
        state.pushed.insert(name, digest);
        state.save(dir)?;
        pushed += 1;
    }
    Ok(pushed)
}
