//! `molt deploy`: runs the provisioning steps under an `indicatif` progress display on stderr
//! (plain lines when stderr is not a terminal) and prints the deployed URL on stdout.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::context::Context;
use super::deployment::{cloudflare, load_config, open_store};
use super::error::{Hint, UserError};
use super::output;
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
    let deployed = result.map_err(|error| UserError::from(DeployFailed { error, dir: args.dir.clone() }))?;
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

/// A deploy failure, with the command that fixes it: most of them continue where they stopped.
#[derive(Debug, thiserror::Error)]
#[error("{error}")]
struct DeployFailed {
    error: DeployError,
    dir: PathBuf,
}

impl Hint for DeployFailed {
    fn hint(&self) -> Option<String> {
        Some(deploy_hint(&self.error, &self.dir))
    }
}

fn deploy_hint(error: &DeployError, dir: &Path) -> String {
    let again = format!("then run `molt deploy --dir {}` again: it continues where it stopped", dir.display());
    match error {
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
    }
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
