//! `molt doctor`: runs every check of the deployment and prints one line each (or `--json`);
//! each failure carries a `hint:` with the command that fixes it; exit 1 when any failed.

use std::path::PathBuf;

use clap::Args;

use super::context::Context;
use super::deployment::{cloudflare, load_config, load_secrets, open_store};
use super::error::{Hint, UserError};
use super::gateway_url;
use super::output::{self, Paint, Stream};
use crate::core::secret::Secret;
use crate::core::settings::{ANTHROPIC_BASE_URL, OPENAI_BASE_URL};
use crate::provision::doctor::{self, Inputs, Status};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The deploy folder `molt init` wrote
    #[arg(long, env = "MOLT_DEPLOY_DIR", default_value = "molt-deploy")]
    pub dir: PathBuf,
    /// The Worker's URL [env: MOLT_URL] [default: `https://WORKER.SUBDOMAIN.workers.dev`]
    #[arg(long)]
    pub url: Option<String>,
    /// One JSON object with every check
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: DoctorArgs, context: &Context) -> anyhow::Result<()> {
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let worker_url = gateway_url::resolve(args.url.as_deref()).map_err(UserError::from)?;
    let (config, deploy) = load_config(&args.dir)?;
    let store = open_store(&deploy.worker_name, &env)?;
    let inputs = Inputs {
        cloudflare: cloudflare(&deploy, &env)?,
        local: load_secrets(&store)?,
        worker_url: worker_url.map(|url| url.http()),
        anthropic_base_url: env("ANTHROPIC_BASE_URL").unwrap_or_else(|| ANTHROPIC_BASE_URL.into()),
        openai_base_url: env("OPENAI_BASE_URL").unwrap_or_else(|| OPENAI_BASE_URL.into()),
        dir: args.dir.display().to_string(),
        access: env("MOLT_ACCESS_CLIENT_ID").zip(env("MOLT_ACCESS_CLIENT_SECRET").map(Secret::new)),
        config,
        deploy,
    };
    let checks = context.block_on(doctor::run(&inputs));
    let failed = checks.iter().filter(|check| check.status == Status::Fail).count();
    if args.json {
        output::json(&serde_json::json!({"ok": failed == 0, "checks": checks}))?;
    } else {
        let paint = Paint::for_stream(Stream::Stdout);
        for check in &checks {
            let mark = match check.status {
                Status::Ok => paint.green("ok  "),
                Status::Fail => paint.red("FAIL"),
                Status::Skip => paint.dim("skip"),
            };
            output::println(format_args!("{mark} {:<17} {}", check.name, check.detail))?;
            if let Some(hint) = &check.hint {
                output::println(format_args!("     hint: {hint}"))?;
            }
        }
    }
    if failed > 0 {
        return Err(UserError::from(ChecksFailed(failed)).into());
    }
    Ok(())
}

#[derive(Debug, thiserror::Error)]
#[error("{0} check(s) failed")]
struct ChecksFailed(usize);

impl Hint for ChecksFailed {
    fn hint(&self) -> Option<String> {
        Some("run the commands in the `hint:` lines above, then `molt doctor` again".into())
    }
}
