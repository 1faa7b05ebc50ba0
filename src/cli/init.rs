//! `molt init`: asks (or takes from flags and the environment) what a deployment needs, keeps
//! the secrets in the local store, writes `molt.toml` (no secrets) and renders the deploy folder.
//! Secrets come only from the environment or a hidden prompt, never from flags.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;

use super::context::Context;
use super::deployment::{CONFIG_FILE, load_secrets, open_store};
use super::error::{Hint, UserError};
use super::output;
use super::prompt::Asker;
use crate::core::secret::Secret;
use crate::core::settings::{AccessSection, DeploySection, FileConfig, SettingsError};
use crate::provision::cloudflare::{Cloudflare, CloudflareError};
use crate::provision::instances::{INSTANCE_TYPES, InstanceType, RECOMMENDED};
use crate::provision::templates::{self, TemplateError};

mod channels;

const POLICIES: &[&str] = &["pairing", "allowlist", "open", "disabled"];
const PROVIDERS: &[&str] = &["anthropic", "ai-gateway", "openai"];

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where the deploy folder goes (`molt.toml`, `wrangler.toml`, the Worker)
    #[arg(long, env = "MOLT_DEPLOY_DIR", default_value = "molt-deploy")]
    pub dir: PathBuf,
    /// Cloudflare account id (the API token comes from `CLOUDFLARE_API_TOKEN` or a prompt)
    #[arg(long, env = "CLOUDFLARE_ACCOUNT_ID")]
    account_id: Option<String>,
    /// Worker name; the assistant lives at `https://NAME.<subdomain>.workers.dev` [default: molt]
    #[arg(long, env = "MOLT_WORKER_NAME")]
    worker_name: Option<String>,
    /// Model provider: `anthropic`, `ai-gateway` or `openai` (its key from the environment)
    #[arg(long, env = "MOLT_PROVIDER", value_parser = ["anthropic", "ai-gateway", "openai"])]
    provider: Option<String>,
    /// Model name [default: the provider's]
    #[arg(long, env = "MOLT_MODEL")]
    model: Option<String>,
    /// OpenAI-compatible base URL (with `--provider openai`)
    #[arg(long, env = "OPENAI_BASE_URL")]
    openai_base_url: Option<String>,
    /// Cloudflare AI Gateway id (with `--provider ai-gateway`)
    #[arg(long, env = "CF_AI_GATEWAY_GATEWAY_ID")]
    ai_gateway_id: Option<String>,
    /// Channels, comma-separated: `telegram`, `discord`, `slack`, or `none`
    #[arg(long, env = "MOLT_CHANNELS", value_delimiter = ',')]
    channels: Option<Vec<String>>,
    /// `webhook` (recommended when the container sleeps) or `polling`
    #[arg(long, env = "TELEGRAM_MODE", value_parser = ["webhook", "polling"])]
    telegram_mode: Option<String>,
    /// `events` (recommended when the container sleeps) or `socket`
    #[arg(long, env = "SLACK_MODE", value_parser = ["events", "socket"])]
    slack_mode: Option<String>,
    /// Telegram DM policy: `pairing`, `allowlist`, `open` or `disabled` [default: pairing]
    #[arg(long, env = "TELEGRAM_DM_POLICY", value_parser = POLICIES.to_vec())]
    telegram_dm_policy: Option<String>,
    /// Discord DM policy [default: pairing]
    #[arg(long, env = "DISCORD_DM_POLICY", value_parser = POLICIES.to_vec())]
    discord_dm_policy: Option<String>,
    /// Slack DM policy [default: pairing]
    #[arg(long, env = "SLACK_DM_POLICY", value_parser = POLICIES.to_vec())]
    slack_dm_policy: Option<String>,
    /// Idle time before the container sleeps (`10m`, `1h`) or `never` [default: 10m]
    #[arg(long, env = "SANDBOX_SLEEP_AFTER")]
    sleep_after: Option<String>,
    /// Container instance type: `lite`, `basic`, `standard-1`… [default: lite]
    #[arg(long, env = "MOLT_INSTANCE_TYPE")]
    instance_type: Option<String>,
    /// R2 bucket for the gateway's data [default: WORKER-data]
    #[arg(long, env = "R2_BUCKET_NAME")]
    bucket: Option<String>,
    /// Cloudflare Access team domain (`<team>.cloudflareaccess.com`) guarding the admin paths
    #[arg(long, env = "CF_ACCESS_TEAM_DOMAIN")]
    access_team_domain: Option<String>,
    /// Emails Access lets in, comma-separated
    #[arg(long, env = "MOLT_ACCESS_EMAILS", value_delimiter = ',')]
    access_emails: Option<Vec<String>>,
    /// Put the whole host behind Access, not only the admin paths (channel webhooks stay open)
    #[arg(long, env = "MOLT_ACCESS_WHOLE_HOST")]
    access_whole_host: bool,
    /// A registry image to run instead of building the deploy folder's `Dockerfile`
    #[arg(long, env = "MOLT_IMAGE")]
    image: Option<String>,
    /// Never prompt: fail at once, naming every missing value
    #[arg(long)]
    non_interactive: bool,
    /// Do not check the API token with Cloudflare (offline)
    #[arg(long)]
    no_verify: bool,
}

/// Everything init decided, before it is written.
struct Answers {
    account_id: String,
    worker_name: String,
    provider: String,
    deploy: DeploySection,
    model: Option<String>,
    openai_base_url: Option<String>,
    secrets: Vec<(&'static str, Secret)>,
}

pub fn run(args: InitArgs, context: &Context) -> anyhow::Result<()> {
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let interactive = !args.non_interactive && std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    let existing = load_existing(&args.dir)?;
    let provisional = args
        .worker_name
        .clone()
        .or_else(|| existing.as_ref().and_then(|config| config.deploy.as_ref()).map(|d| d.worker_name.clone()))
        .unwrap_or_else(|| "molt".into());
    let mut store = open_store(&provisional, &env)?;
    let mut asker = Asker::new(interactive);
    asker.stored = load_secrets(&store)?.into_keys().collect();
    let answers = ask(&args, &mut asker, &env, existing.as_ref())?;
    asker.finish()?;
    if answers.worker_name != provisional {
        store = open_store(&answers.worker_name, &env)?;
    }
    if let Some(note) = &store.announcement {
        output::note(note);
    }
    let mut secrets = load_secrets(&store)?;
    for (name, value) in answers.secrets.iter().cloned() {
        secrets.insert(name.to_owned(), value);
    }
    if !args.no_verify
        && let Some(token) = secrets.get("CLOUDFLARE_API_TOKEN")
    {
        verify_token(token, &answers.account_id, &env, context)?;
    }
    if !secrets.contains_key("MOLTBOT_GATEWAY_TOKEN") {
        secrets.insert("MOLTBOT_GATEWAY_TOKEN".into(), gateway_token()?);
    }
    // The Worker sends it on every forwarded request (`x-molt-proxy-secret`); only requests
    // carrying it may name the client in `cf-connecting-ip`.
    if !secrets.contains_key("MOLT_PROXY_SECRET") {
        secrets.insert("MOLT_PROXY_SECRET".into(), gateway_token()?);
    }
    let telegram_webhook = answers.deploy.channels.telegram.as_ref().is_some_and(|t| t.mode == "webhook");
    if telegram_webhook && !secrets.contains_key("TELEGRAM_WEBHOOK_SECRET") {
        secrets.insert("TELEGRAM_WEBHOOK_SECRET".into(), gateway_token()?);
    }
    store.save(&secrets).map_err(UserError::from)?;

    let mut config = existing.unwrap_or_default();
    config.model.provider = Some(answers.provider.clone());
    config.model.model = answers.model.clone();
    config.model.openai_base_url = answers.openai_base_url.clone();
    config.deploy = Some(answers.deploy.clone());
    let written = write_folder(&args.dir, &config)?;
    output::status(format_args!("{} secrets kept in {}", secrets.len(), store.location()));
    for path in written {
        output::println(path.display())?;
    }
    output::status(format_args!("next: `molt deploy --dir {}`", args.dir.display()));
    Ok(())
}

fn ask(
    args: &InitArgs,
    asker: &mut Asker,
    env: &dyn Fn(&str) -> Option<String>,
    existing: Option<&FileConfig>,
) -> anyhow::Result<Answers> {
    let before = existing.and_then(|config| config.deploy.clone()).unwrap_or_default();
    let known = |value: &String| (!value.is_empty()).then(|| value.clone());
    let account_id = asker.text(
        "Cloudflare account id",
        "CLOUDFLARE_ACCOUNT_ID (or --account-id)",
        args.account_id.clone().or_else(|| known(&before.account_id)),
        None,
    );
    let mut secrets = Vec::new();
    if let Some(token) = asker.secret("Cloudflare API token", "CLOUDFLARE_API_TOKEN", env("CLOUDFLARE_API_TOKEN")) {
        secrets.push(("CLOUDFLARE_API_TOKEN", token));
    }
    let worker_name = asker.text(
        "Worker name",
        "--worker-name",
        args.worker_name.clone().or_else(|| known(&before.worker_name)),
        Some("molt"),
    );
    let provider = asker.choose(
        "Model provider",
        "MOLT_PROVIDER (or --provider)",
        args.provider.clone().or_else(|| existing.and_then(|config| config.model.provider.clone())),
        PROVIDERS,
        0,
    );
    let (key_name, key_label) = match provider.as_str() {
        "openai" => ("OPENAI_API_KEY", "OpenAI-compatible API key"),
        "ai-gateway" => ("CLOUDFLARE_AI_GATEWAY_API_KEY", "the model provider's key for AI Gateway"),
        _ => ("ANTHROPIC_API_KEY", "Anthropic API key"),
    };
    if let Some(key) = asker.secret(key_label, key_name, env(key_name)) {
        secrets.push((key_name, key));
    }
    let ai_gateway_id = (provider == "ai-gateway").then(|| {
        asker.text("AI Gateway id", "CF_AI_GATEWAY_GATEWAY_ID (or --ai-gateway-id)", args.ai_gateway_id.clone(), None)
    });
    let openai_base_url = (provider == "openai").then(|| {
        asker.text(
            "OpenAI-compatible base URL",
            "OPENAI_BASE_URL",
            args.openai_base_url.clone(),
            Some("https://api.openai.com/v1"),
        )
    });

    let sleep_after = asker.text(
        "Sleep after idle (`10m`, `1h`, or `never`; a sleeping container is not billed)",
        "SANDBOX_SLEEP_AFTER",
        args.sleep_after.clone().or_else(|| known(&before.sleep_after)),
        Some("10m"),
    );
    let sleeps = sleep_after != "never";
    let channels = channels::ask_channels(args, asker, env, sleeps, &before.channels, &mut secrets);
    let instance_type = ask_instance(args, asker, &before)?;
    let bucket = args.bucket.clone().or_else(|| known(&before.bucket)).unwrap_or_else(|| format!("{worker_name}-data"));
    let access = ask_access(args, asker, before.access.as_ref());
    let deploy = DeploySection {
        worker_name: worker_name.clone(),
        account_id: account_id.clone(),
        bucket,
        image: args.image.clone().or(before.image.clone()),
        instance_type,
        sleep_after,
        ai_gateway_id,
        access,
        channels,
    };
    Ok(Answers { account_id, worker_name, provider, deploy, model: args.model.clone(), openai_base_url, secrets })
}

fn ask_instance(args: &InitArgs, asker: &mut Asker, before: &DeploySection) -> anyhow::Result<String> {
    let names: Vec<&str> = INSTANCE_TYPES.iter().map(|instance| instance.name).collect();
    let labels: Vec<String> = INSTANCE_TYPES.iter().map(InstanceType::describe).collect();
    let given =
        args.instance_type.clone().or_else(|| (!before.instance_type.is_empty()).then(|| before.instance_type.clone()));
    if let Some(name) = &given
        && InstanceType::find(name).is_none()
    {
        asker.invalid(format!("unknown instance type `{name}`; expected one of {}", names.join(", ")));
        return Ok(RECOMMENDED.into());
    }
    let index =
        asker.choose_labelled("Instance type (`lite` fits: the gateway idles at ~10 MB)", given, &names, &labels, 0);
    Ok(index)
}

fn ask_access(args: &InitArgs, asker: &mut Asker, before: Option<&AccessSection>) -> Option<AccessSection> {
    let team_domain = asker.optional(
        "Cloudflare Access team domain (`<team>.cloudflareaccess.com`; empty to skip)",
        args.access_team_domain.clone().or_else(|| before.map(|access| access.team_domain.clone())),
    )?;
    let emails = asker.list(
        "Emails allowed through Access, comma-separated",
        "MOLT_ACCESS_EMAILS (or --access-emails)",
        args.access_emails.clone().or_else(|| before.map(|access| access.emails.clone())),
    );
    let given = (args.access_whole_host || before.is_some_and(|access| access.whole_host)).then_some(true);
    let whole_host = asker.confirm("Put the chat page behind Access too, not only the admin pages?", given, false);
    Some(AccessSection { team_domain, emails, whole_host })
}

/// 32 bytes from the OS RNG, hex.
fn gateway_token() -> anyhow::Result<Secret> {
    use rand::TryRngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.try_fill_bytes(&mut bytes).context("the OS random number generator failed")?;
    Ok(Secret::new(hex::encode(bytes)))
}

fn verify_token(
    token: &Secret,
    account_id: &str,
    env: &dyn Fn(&str) -> Option<String>,
    context: &Context,
) -> anyhow::Result<()> {
    let client = Cloudflare::new(&Cloudflare::base_url_from(env), token.clone(), account_id);
    let error = match context.block_on(client.verify_token()) {
        Ok(status) if status.status == "active" => return Ok(()),
        Ok(status) => InitError::TokenInactive(status.status),
        Err(error) => InitError::Verify(error),
    };
    Err(UserError::from(error).into())
}

fn load_existing(dir: &Path) -> Result<Option<FileConfig>, UserError> {
    let path = dir.join(CONFIG_FILE);
    FileConfig::load(&path, false).map_err(|error| InitError::Existing { error, path }.into())
}

fn write_folder(dir: &Path, config: &FileConfig) -> anyhow::Result<Vec<PathBuf>> {
    let files = templates::render(config).map_err(|error| UserError::from(InitError::Render(error)))?;
    templates::write(dir, &files).map_err(|error| UserError::from(InitError::Unwritable(error.to_string())))?;
    let text = format!(
        "# molt's settings: `molt gateway` reads [gateway] and [model], `molt deploy` reads [deploy].\n\
         # No secrets here: they are in the OS keyring (or the file `molt init` named).\n{}",
        toml::to_string(config).context("cannot write molt.toml")?
    );
    let path = dir.join(CONFIG_FILE);
    std::fs::write(&path, text).map_err(|error| {
        UserError::from(InitError::Unwritable(format!("cannot write `{}`: {error}", path.display())))
    })?;
    let mut written = vec![path];
    written.extend(files.iter().map(|file| dir.join(file.name)));
    Ok(written)
}

#[derive(Debug, thiserror::Error)]
enum InitError {
    #[error("the Cloudflare API token is `{0}`, not active")]
    TokenInactive(String),
    #[error("{0}")]
    Verify(CloudflareError),
    #[error("{error}")]
    Existing { error: SettingsError, path: PathBuf },
    #[error("{0}")]
    Render(TemplateError),
    #[error("{0}")]
    Unwritable(String),
}

impl Hint for InitError {
    fn hint(&self) -> Option<String> {
        const TOKENS: &str = "https://dash.cloudflare.com/profile/api-tokens";
        Some(match self {
            Self::TokenInactive(_) => format!("create a token at {TOKENS}, then run `molt init` again"),
            Self::Verify(error) if error.is_auth() => {
                format!("check `CLOUDFLARE_API_TOKEN` (create one at {TOKENS}), then run `molt init` again")
            }
            Self::Verify(_) => "check the network, or run `molt init --no-verify`".into(),
            Self::Existing { path, .. } => format!("fix or remove `{}`", path.display()),
            Self::Render(_) => "run `molt init` again".into(),
            Self::Unwritable(_) => "choose a writable folder with `molt init --dir DIR`".into(),
        })
    }
}
