//! Runs wrangler in the deploy folder: `npm ci` (from the folder's `package-lock.json`) when
//! `node_modules` is missing, then `npx --no-install wrangler <args>`. The install runs with
//! none of molt's secrets in its environment (an allowlist of what npm needs; package install
//! scripts never see the Cloudflare token); wrangler gets the token through its environment,
//! never its argv. Each output line goes to a callback so the caller can show it under its
//! progress display.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::core::secret::Secret;

/// How many of wrangler's last lines a failure quotes.
const TAIL_LINES: usize = 15;

#[derive(Debug, thiserror::Error)]
pub enum WranglerError {
    #[error("`{program}` was not found: Node.js is needed to run wrangler")]
    NodeMissing { program: &'static str },
    #[error("wrangler needs a running Docker engine to build the image from `{dir}/Dockerfile`:\n{output}")]
    DockerMissing { dir: PathBuf, output: String },
    #[error("`{command}` failed in `{dir}` ({status}):\n{output}")]
    Failed { command: String, dir: PathBuf, status: String, output: String },
    #[error("cannot run `{command}`: {reason}")]
    Spawn { command: String, reason: String },
}

/// Where and as whom wrangler runs.
#[derive(Debug, Clone)]
pub struct Wrangler {
    pub dir: PathBuf,
    pub account_id: String,
    pub token: Secret,
    /// `CLOUDFLARE_API_BASE_URL`, passed on when set.
    pub api_base_url: Option<String>,
}

impl Wrangler {
    /// `npm ci` (once) and `npx wrangler deploy`; returns wrangler's output lines.
    pub async fn deploy(&self, on_line: &mut dyn FnMut(&str)) -> Result<Vec<String>, WranglerError> {
        if !self.dir.join("node_modules").join("wrangler").exists() {
            self.install(on_line).await?;
        }
        self.run("npx", &["--no-install", "wrangler", "deploy"], on_line).await
    }

    /// `npm ci`: exactly the lockfile's packages, with an environment that holds no secret.
    async fn install(&self, on_line: &mut dyn FnMut(&str)) -> Result<Vec<String>, WranglerError> {
        let mut command = Command::new("npm");
        command.env_clear().envs(install_environment(std::env::vars_os()));
        self.spawn(command, "npm", &["ci", "--no-audit", "--no-fund", "--loglevel=error"], on_line).await
    }

    /// Runs `program` with the Cloudflare credentials in its environment.
    pub async fn run(
        &self,
        program: &'static str,
        args: &[&str],
        on_line: &mut dyn FnMut(&str),
    ) -> Result<Vec<String>, WranglerError> {
        let mut command = Command::new(program);
        command
            .env("CLOUDFLARE_API_TOKEN", self.token.expose())
            .env("CLOUDFLARE_ACCOUNT_ID", &self.account_id)
            .env("WRANGLER_SEND_METRICS", "false");
        if let Some(base) = &self.api_base_url {
            command.env("CLOUDFLARE_API_BASE_URL", base);
        }
        self.spawn(command, program, args, on_line).await
    }

    async fn spawn(
        &self,
        mut command: Command,
        program: &'static str,
        args: &[&str],
        on_line: &mut dyn FnMut(&str),
    ) -> Result<Vec<String>, WranglerError> {
        let command_text = format!("{program} {}", args.join(" "));
        command
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = command.spawn().map_err(|error| match error.kind() {
            std::io::ErrorKind::NotFound => WranglerError::NodeMissing { program },
            _ => WranglerError::Spawn { command: command_text.clone(), reason: error.to_string() },
        })?;
        let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
            return Err(WranglerError::Spawn { command: command_text, reason: "no output pipes".into() });
        };
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<String>(64);
        for stream in [Box::new(stdout) as Box<dyn tokio::io::AsyncRead + Unpin + Send>, Box::new(stderr)] {
            let sender = sender.clone();
            tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if sender.send(line).await.is_err() {
                        break;
                    }
                }
            });
        }
        drop(sender);
        let mut output = Vec::new();
        while let Some(line) = receiver.recv().await {
            on_line(&line);
            output.push(line);
        }
        let status = child
            .wait()
            .await
            .map_err(|error| WranglerError::Spawn { command: command_text.clone(), reason: error.to_string() })?;
        if status.success() {
            return Ok(output);
        }
        let tail = output[output.len().saturating_sub(TAIL_LINES)..].join("\n");
        if mentions_docker_failure(&output) {
            return Err(WranglerError::DockerMissing { dir: self.dir.clone(), output: tail });
        }
        Err(WranglerError::Failed {
            command: command_text,
            dir: self.dir.clone(),
            status: status.to_string(),
            output: tail,
        })
    }
}

/// What `npm ci` may see of molt's environment: where programs, the home folder and temporary
/// files are, the locale, proxies and certificates, and npm's own settings. Everything else
/// (`CLOUDFLARE_API_TOKEN`, provider keys, bot tokens) stays out of reach of install scripts.
fn install_environment(
    vars: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> Vec<(std::ffi::OsString, std::ffi::OsString)> {
    const KEPT: &[&str] = &[
        "PATH",
        "HOME",
        "USER",
        "LOGNAME",
        "SHELL",
        "TMPDIR",
        "TMP",
        "TEMP",
        "LANG",
        "LC_ALL",
        "TERM",
        "XDG_CONFIG_HOME",
        "XDG_CACHE_HOME",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
        "NODE_EXTRA_CA_CERTS",
        "SSL_CERT_FILE",
        "SYSTEMROOT",
        "APPDATA",
        "LOCALAPPDATA",
        "USERPROFILE",
    ];
    vars.filter(|(name, _)| {
        let name = name.to_string_lossy().to_ascii_uppercase();
        KEPT.contains(&name.as_str()) || name.starts_with("NPM_CONFIG_")
    })
    .collect()
}

/// wrangler's words when it cannot reach a Docker engine.
fn mentions_docker_failure(lines: &[String]) -> bool {
    lines.iter().any(|line| {
        let lower = line.to_ascii_lowercase();
        lower.contains("docker")
            && ["not found", "cannot connect", "enoent", "is not running", "not installed", "daemon"]
                .iter()
                .any(|needle| lower.contains(needle))
    })
}

/// The `https://…workers.dev` address wrangler printed, if any.
pub fn deployed_url(lines: &[String]) -> Option<String> {
    lines.iter().find_map(|line| {
        line.split_whitespace()
            .find(|word| word.starts_with("https://") && word.contains(".workers.dev"))
            .map(str::to_owned)
    })
}

/// Is `program` on `PATH`?
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| is_executable(&dir.join(program))))
        .unwrap_or(false)
}

fn is_executable(path: &Path) -> bool {
    path.is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_failures_are_recognised() {
        let lines =
            vec!["✘ [ERROR] The Docker CLI could not be launched. Is Docker installed? spawn docker ENOENT".to_owned()];
        assert!(mentions_docker_failure(&lines));
        assert!(!mentions_docker_failure(&["Uploaded molt (3.1 sec)".to_owned()]));
    }

    #[test]
    fn the_deployed_url_is_found_in_wranglers_output() {
        let lines = vec!["Deployed molt triggers (0.3 sec)".to_owned(), "  https://molt.ada.workers.dev".to_owned()];
        assert_eq!(deployed_url(&lines).as_deref(), Some("https://molt.ada.workers.dev"));
    }

    #[test]
    fn the_install_sees_no_secret() {
        let vars = [
            ("PATH", "/usr/bin"),
            ("HOME", "/home/ada"),
            ("https_proxy", "http://proxy:3128"),
            ("npm_config_registry", "https://registry.example"),
            ("CLOUDFLARE_API_TOKEN", "cf-secret"),
            ("CLOUDFLARE_ACCOUNT_ID", "acc"),
            ("ANTHROPIC_API_KEY", "sk-ant"),
            ("TELEGRAM_BOT_TOKEN", "123:abc"),
        ];
        let kept = install_environment(vars.iter().map(|(name, value)| ((*name).into(), (*value).into())));
        let names: Vec<String> = kept.iter().map(|(name, _)| name.to_string_lossy().into_owned()).collect();
        assert_eq!(names, ["PATH", "HOME", "https_proxy", "npm_config_registry"]);
    }

    #[tokio::test]
    async fn a_missing_program_is_explained() {
        let wrangler =
            Wrangler { dir: std::env::temp_dir(), account_id: "a".into(), token: Secret::new("t"), api_base_url: None };
        let error = wrangler.run("molt-no-such-program", &[], &mut |_| {}).await;
        assert!(matches!(error, Err(WranglerError::NodeMissing { .. }) | Err(WranglerError::Spawn { .. })));
    }
}
