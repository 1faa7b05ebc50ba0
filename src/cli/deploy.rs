//! `molt deploy`: runs the provisioning steps under an `indicatif` progress display on stderr
//! (plain lines when stderr is not a terminal) and prints the deployed URL on stdout.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::UserError;
use super::context::Context;
use super::init::{CONFIG_FILE, load_secrets, open_store};
use super::output;
use crate::core::settings::{DeploySection, FileConfig};
use crate::provision::cloudflare::Cloudflare;
use crate::provision::deploy::{Deploy, DeployError, Outcome, Progress, Step};
use crate::provision::telegram;
use crate::provision::wrangler::{Wrangler, WranglerError};

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The deploy folder `molt init` wrote
    #[arg(long, env = "MOLT_DEPLOY_DIR", default_value = "molt-deploy")]
    pub dir: PathBuf,
    /// Do every step but `wrangler deploy` (when the Worker is uploaded some other way)
    #[arg(long)]
    pub skip_wrangler: bool,
}

/// The deploy folder's `molt.toml`, which must have a `[deploy]` section.
pub fn load_config(dir: &Path) -> anyhow::Result<(FileConfig, DeploySection)> {
    let path = dir.join(CONFIG_FILE);
    let hint = format!("run `molt init --dir {}` first", dir.display());
    let config = FileConfig::load(&path, true).map_err(|error| UserError::new(error.to_string(), hint.clone()))?;
    let config = config.unwrap_or_default();
    let deploy = config
        .deploy
        .clone()
        .ok_or_else(|| UserError::new(format!("`{}` has no `[deploy]` section", path.display()), hint))?;
    Ok((config, deploy))
}

/// A Cloudflare client with the token from the environment or the local store.
pub fn cloudflare(deploy: &DeploySection, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Cloudflare> {
    let store = open_store(&deploy.worker_name, env)?;
    let token = match env("CLOUDFLARE_API_TOKEN") {
        Some(token) => crate::core::secret::Secret::new(token),
        None => load_secrets(&store)?.remove("CLOUDFLARE_API_TOKEN").ok_or_else(|| {
            UserError::new(
                "no Cloudflare API token: neither `CLOUDFLARE_API_TOKEN` nor the local secret store has one",
                "set `CLOUDFLARE_API_TOKEN`, or run `molt init` to store it",
            )
        })?,
    };
    Ok(Cloudflare::new(&Cloudflare::base_url_from(env), token, deploy.account_id.clone()))
}

pub fn run(args: DeployArgs, context: &Context) -> anyhow::Result<()> {
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let (config, deploy) = load_config(&args.dir)?;
    let cloudflare = cloudflare(&deploy, &env)?;
    let store = open_store(&deploy.worker_name, &env)?;
    if let Some(note) = &store.announcement {
        output::note(note);
    }
    let wrangler = (!args.skip_wrangler).then(|| Wrangler {
        dir: args.dir.clone(),
        account_id: deploy.account_id.clone(),
        token: cloudflare_token(&cloudflare),
        api_base_url: env("CLOUDFLARE_API_BASE_URL"),
    });
    let plan = Deploy {
        dir: args.dir.clone(),
        config,
        cloudflare,
        store,
        telegram_api: env("MOLT_TELEGRAM_API_URL").unwrap_or_else(|| telegram::DEFAULT_API_URL.into()),
        wrangler,
        molt_binary: std::env::current_exe().ok(),
    };
    let mut display = Display::new();
    let result = context.block_on(plan.run(&mut display));
    display.bar.finish_and_clear();
    let deployed = result.map_err(|error| explain(error, &args.dir))?;
    let summary = match deployed.changed {
        0 => "nothing to change: everything was already deployed".to_owned(),
        n => format!("{n} step(s) changed something"),
    };
    output::status(summary);
    output::println(&deployed.url)?;
    output::status(format_args!(
        "open `{}/#token=TOKEN` once (the page trades it for a cookie and clears it from the address bar); \
         `molt secrets get MOLTBOT_GATEWAY_TOKEN --dir {}` prints TOKEN",
        deployed.url.trim_end_matches('/'),
        args.dir.display()
    ));
    Ok(())
}

fn cloudflare_token(client: &Cloudflare) -> crate::core::secret::Secret {
    client.token().clone()
}

/// A deploy failure as the operator should read it, with the command that fixes it.
fn explain(error: DeployError, dir: &Path) -> anyhow::Error {
    let again = format!("then run `molt deploy --dir {}` again: it continues where it stopped", dir.display());
    let hint = match &error {
        DeployError::Cloudflare { source, .. } if source.is_auth() => format!(
            "the API token lacks a permission (Workers Scripts, Workers R2 Storage, Access: Apps and Policies, \
             API Tokens) or is wrong; fix it with `molt init`, {again}"
        ),
        DeployError::Cloudflare { .. } | DeployError::Telegram(_) => {
            format!("check the network and the account, {again}")
        }
        DeployError::TokenInactive(_) => format!("create a new token and store it with `molt init`, {again}"),
        DeployError::NoPermissionGroup => {
            "set `R2_ACCESS_KEY_ID` and `R2_SECRET_ACCESS_KEY` with `molt secrets set`, then run `molt deploy` again"
                .to_owned()
        }
        DeployError::NoWorker(_) => {
            format!("upload it: run `molt deploy --dir {}` without `--skip-wrangler`", dir.display())
        }
        DeployError::MissingSecret(name) => format!("store it with `molt secrets set {name} --dir {}`", dir.display()),
        DeployError::Wrangler(WranglerError::NodeMissing { .. }) => {
            format!("install Node.js 20 or newer (it brings `npm` and `npx`), {again}")
        }
        DeployError::Wrangler(WranglerError::DockerMissing { .. }) => {
            format!("start a Docker engine, or use a registry image: `molt init --dir {} --image REF`", dir.display())
        }
        DeployError::Wrangler(_) => format!("read wrangler's output above, {again}"),
        DeployError::Store(_) => "unlock the OS keyring, or use `MOLT_SECRET_STORE=file`".to_owned(),
        DeployError::State(_) | DeployError::Template(_) | DeployError::Binary { .. } => {
            format!("check that `{}` is writable, {again}", dir.display())
        }
    };
    UserError::new(error.to_string(), hint).into()
}

/// The progress display: a bar with the current step, finished steps printed above it.
struct Display {
    bar: ProgressBar,
    fancy: bool,
}

impl Display {
    fn new() -> Self {
        let fancy = std::io::stderr().is_terminal();
        let bar = if fancy { ProgressBar::new(Step::ALL.len() as u64) } else { ProgressBar::hidden() };
        let style = ProgressStyle::with_template("{spinner} [{pos}/{len}] {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(120));
        Self { bar, fancy }
    }

    fn line(&self, text: &str) {
        if self.fancy {
            self.bar.println(text);
        } else {
            output::status(text);
        }
    }
}

impl Progress for Display {
    fn start(&mut self, step: Step) {
        self.bar.set_message(step.label());
    }

    fn finish(&mut self, step: Step, outcome: Outcome, detail: &str) {
        let mark = match outcome {
            Outcome::Changed => "done",
            Outcome::AlreadyDone => "ok",
            Outcome::NotConfigured => "skip",
        };
        self.line(&format!("{mark:>4}  {}: {detail}", step.label()));
        self.bar.inc(1);
    }

    fn output(&mut self, line: &str) {
        self.line(&format!("      │ {line}"));
    }
}
