//! `molt tail`: the Worker's live logs through the Workers tail API (a session created with
//! filters, its `trace-v1` WebSocket opened with `{"debug": false}`, the session deleted on
//! exit), printed as readable lines —
//! coloured on a terminal unless `NO_COLOR` — or as JSON; `--gateway` follows the daemon's own
//! log stream instead (`tail_gateway.rs`); both print through `tail_text.rs`.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::context::Context;
use super::deployment::{cloudflare, load_config};
use super::error::{Hint, UserError};
use super::output::{self, Paint, Stream};
use super::{tail_gateway, tail_text};
use crate::provision::cloudflare::CloudflareError;

#[derive(Debug, Args)]
pub struct TailArgs {
    /// The deploy folder `molt init` wrote
    #[arg(long, env = "MOLT_DEPLOY_DIR", default_value = "molt-deploy")]
    pub dir: PathBuf,
    /// Only requests with this outcome: `ok`, `error` or `canceled` (repeatable)
    #[arg(long)]
    pub status: Vec<String>,
    /// Only requests with this HTTP method (repeatable)
    #[arg(long)]
    pub method: Vec<String>,
    /// Only events whose logs, exceptions or URL contain this text
    #[arg(long)]
    pub search: Option<String>,
    /// One JSON object per line instead of readable lines
    #[arg(long)]
    pub json: bool,
    /// Follow the gateway daemon's own logs (`logs.tail`) instead of the Worker's
    #[arg(long)]
    pub gateway: bool,
    /// With `--gateway`: the gateway's URL [env: MOLT_URL] [default: http://127.0.0.1:<port from
    /// settings>]
    #[arg(long)]
    pub url: Option<String>,
    /// With `--gateway`: print the recent lines and exit instead of following
    #[arg(long)]
    pub no_follow: bool,
}

pub fn run(args: TailArgs, context: &Context) -> anyhow::Result<()> {
    if args.gateway {
        let options = tail_gateway::Options {
            url: args.url.as_deref(),
            dir: &args.dir,
            json: args.json,
            follow: !args.no_follow,
        };
        return context.block_on(tail_gateway::run(options));
    }
    let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
    let (_, deploy) = load_config(&args.dir)?;
    let client = cloudflare(&deploy, &env)?;
    let filters = Filters::from_args(&args)?;
    context.block_on(async {
        let session = client
            .create_tail(&deploy.worker_name, &filters.message())
            .await
            .map_err(|error| UserError::from(TailError::NoSession { error, dir: args.dir.clone() }))?;
        output::status(format_args!("following `{}` (Ctrl-C to stop)", deploy.worker_name));
        let result = tokio::select! {
            result = stream(&session.url, &filters, args.json) => result,
            _ = tokio::signal::ctrl_c() => Ok(()),
        };
        // The session is deleted whatever happened, so it does not linger on the account.
        if let Err(error) = client.delete_tail(&deploy.worker_name, &session.id).await {
            output::warning(format_args!("cannot delete the tail session: {error}"));
        }
        result
    })
}

async fn stream(url: &str, filters: &Filters, as_json: bool) -> anyhow::Result<()> {
    let mut request = url.into_client_request().context("the tail session's URL is not a WebSocket URL")?;
    request.headers_mut().insert("Sec-WebSocket-Protocol", "trace-v1".parse().context("header")?);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(request, None, true)
        .await
        .map_err(|error| UserError::from(TailError::Open(error.to_string())))?;
    socket.send(Message::Text(json!({"debug": false}).to_string().into())).await.context("cannot start the stream")?;
    let paint = Paint::for_stream(Stream::Stdout);
    let mut stdout = std::io::stdout().lock();
    while let Some(message) = socket.next().await {
        let bytes = match message {
            Ok(Message::Text(text)) => text.as_bytes().to_vec(),
            Ok(Message::Binary(bytes)) => bytes.to_vec(),
            Ok(Message::Close(_)) => break,
            Ok(_) => continue,
            Err(error) => return Err(UserError::from(TailError::Failed(error.to_string())).into()),
        };
        let Ok(event) = serde_json::from_slice::<Value>(&bytes) else {
            continue;
        };
        if !filters.keeps(&event) {
            continue;
        }
        let text = tail_text::redact_tokens(&if as_json { event.to_string() } else { render(&event, &paint) });
        output::line(&mut stdout, text)?;
    }
    Ok(())
}

/// The outcome, method and text filters: Cloudflare applies them, and so does this side.
pub struct Filters {
    outcomes: Vec<&'static str>,
    methods: Vec<String>,
    search: Option<String>,
}

const ERROR_OUTCOMES: &[&str] = &["exception", "exceededCpu", "exceededMemory", "unknown"];

impl Filters {
    pub fn from_args(args: &TailArgs) -> Result<Self, UserError> {
        let mut outcomes = Vec::new();
        for status in &args.status {
            match status.as_str() {
                "ok" => outcomes.push("ok"),
                "error" => outcomes.extend_from_slice(ERROR_OUTCOMES),
                "canceled" => outcomes.push("canceled"),
                other => return Err(TailError::UnknownStatus(other.to_owned()).into()),
            }
        }
        let methods = args.method.iter().map(|method| method.to_ascii_uppercase()).collect();
        Ok(Self { outcomes, methods, search: args.search.clone() })
    }

    /// The body of the request that creates the tail session.
    pub fn message(&self) -> Value {
        let mut filters = Vec::new();
        if !self.outcomes.is_empty() {
            filters.push(json!({"outcome": self.outcomes}));
        }
        if !self.methods.is_empty() {
            filters.push(json!({"method": self.methods}));
        }
        if let Some(text) = &self.search {
            filters.push(json!({"query": text}));
        }
        json!({"filters": filters})
    }

    pub fn keeps(&self, event: &Value) -> bool {
        let outcome = event["outcome"].as_str().unwrap_or_default();
        if !self.outcomes.is_empty() && !self.outcomes.contains(&outcome) {
            return false;
        }
        let method = event["event"]["request"]["method"].as_str().unwrap_or_default();
        if !self.methods.is_empty() && !self.methods.iter().any(|wanted| wanted == method) {
            return false;
        }
        match &self.search {
            Some(text) => event.to_string().contains(text.as_str()),
            None => true,
        }
    }
}

#[derive(Debug, thiserror::Error)]
enum TailError {
    #[error("{error}")]
    NoSession { error: CloudflareError, dir: PathBuf },
    #[error("cannot open the tail WebSocket: {0}")]
    Open(String),
    #[error("the tail WebSocket failed: {0}")]
    Failed(String),
    #[error("unknown status `{0}`")]
    UnknownStatus(String),
}

impl Hint for TailError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::NoSession { dir, .. } => {
                format!("check that the Worker is deployed: `molt deploy --dir {}`", dir.display())
            }
            Self::Open(_) | Self::Failed(_) => "run `molt tail` again".into(),
            Self::UnknownStatus(_) => "use `--status ok`, `error` or `canceled`".into(),
        })
    }
}

/// One trace event as readable lines: the request, then its logs and exceptions.
pub fn render(event: &Value, paint: &Paint) -> String {
    let time = event["eventTimestamp"].as_i64().map(tail_text::format_ms).unwrap_or_default();
    let outcome = event["outcome"].as_str().unwrap_or("unknown");
    let request = &event["event"]["request"];
    let head = match request["method"].as_str() {
        Some(method) => {
            let status = event["event"]["response"]["status"].as_u64().map(|s| s.to_string()).unwrap_or_default();
            format!("{method} {} {status}", request["url"].as_str().unwrap_or_default())
        }
        None if event["event"]["cron"].is_string() => {
            format!("cron {}", event["event"]["cron"].as_str().unwrap_or_default())
        }
        None => event["scriptName"].as_str().unwrap_or("event").to_owned(),
    };
    let painted_outcome = if outcome == "ok" { paint.green(outcome) } else { paint.red(outcome) };
    let mut out = format!("{} {head} {painted_outcome}", paint.dim(&time));
    for log in event["logs"].as_array().into_iter().flatten() {
        let level = log["level"].as_str().unwrap_or("log");
        let parts: Vec<String> = log["message"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|part| part.as_str().map_or_else(|| part.to_string(), str::to_owned))
            .collect();
        let label = format!("({level})");
        let label = match level {
            "error" => paint.red(&label),
            "warn" => paint.yellow(&label),
            _ => paint.dim(&label),
        };
        out.push_str(&format!("\n  {label} {}", parts.join(" ")));
    }
    for exception in event["exceptions"].as_array().into_iter().flatten() {
        let name = exception["name"].as_str().unwrap_or("Error");
        let message = exception["message"].as_str().unwrap_or_default();
        out.push_str(&format!("\n  {} {message}", paint.red(&format!("✘ {name}:"))));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fetch_event_renders_its_request_logs_and_exceptions() {
        let event = json!({
            "outcome": "exception",
            "scriptName": "molt",
            "eventTimestamp": 1_795_953_600_000_i64,
            "event": {"request": {"url": "https://molt.ada.workers.dev/api/admin", "method": "POST"}, "response": {"status": 500}},
            "logs": [{"message": ["container starting", 3], "level": "warn", "timestamp": 1}],
            "exceptions": [{"name": "Error", "message": "boom", "timestamp": 2}],
        });
        let text = render(&event, &Paint::new(false));
        assert_eq!(
            text,
            "2026-11-29T12:00:00.000Z POST https://molt.ada.workers.dev/api/admin 500 exception\n  (warn) container starting 3\n  ✘ Error: boom"
        );
        assert!(render(&event, &Paint::new(true)).contains("\x1b[31m"));
    }
}
