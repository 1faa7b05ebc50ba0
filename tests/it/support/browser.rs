//! Owns `Browser`: a tiny Chrome DevTools Protocol driver for browser tests (one headless Chromium,
//! its temporary profile, and a CDP WebSocket to its single page).
//!
//! Every operation is bounded by a timeout. CDP events that arrive while a command waits for
//! its response are skipped, except console messages, log entries and uncaught exceptions,
//! which are kept and can be read with [`Browser::console`].
#![allow(dead_code, reason = "each test binary uses a different part of this support module")]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex as StdMutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream, connect_async_with_config};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

const LAUNCH_TIMEOUT: Duration = Duration::from_secs(30);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
const LOAD_TIMEOUT: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// A headless Chromium with one page, driven over the DevTools protocol.
pub struct Browser {
    child: Child,
    socket: Mutex<Socket>,
    next_id: AtomicU64,
    console: StdMutex<Vec<String>>,
    // Dropped after `child` is killed; the profile directory goes with it.
    profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium (`$CHROMIUM`, else `/usr/bin/chromium`) and connects to its page.
    pub async fn launch() -> Result<Browser> {
        let exe = chromium_path()?;
        let profile = tempfile::Builder::new()
            .prefix("molt-chromium-")
            .tempdir()
            .context("creating the Chromium profile directory")?;
        let log_path = profile.path().join("chromium.log");
        let log = std::fs::File::create(&log_path).context("creating the Chromium log file")?;
        let mut child = Command::new(&exe)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--window-size=1280,800",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("starting {}", exe.display()))?;

        let port = match wait_for_port(&mut child, profile.path()).await {
            Ok(port) => port,
            Err(err) => {
                let _ = child.start_kill();
                return Err(err.context(log_tail(&log_path)));
            }
        };
        let ws_url = page_ws_url(port).await?;
        let (socket, _) = tokio::time::timeout(COMMAND_TIMEOUT, connect_async_with_config(ws_url.as_str(), None, true))
            .await
            .context("timed out connecting to the DevTools WebSocket")?
            .with_context(|| format!("connecting to {ws_url}"))?;

        let browser = Browser {
            child,
            socket: Mutex::new(socket),
            next_id: AtomicU64::new(1),
            console: StdMutex::new(Vec::new()),
            profile,
        };
        browser.call("Page.enable", json!({})).await?;
        browser.call("Page.setLifecycleEventsEnabled", json!({ "enabled": true })).await?;
        browser.call("Runtime.enable", json!({})).await?;
        browser.call("Log.enable", json!({})).await?;
        Ok(browser)
    }

    /// Navigates the page to `url` and waits for its load event.
    pub async fn goto(&self, url: &str) -> Result<()> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut socket = self.socket.lock().await;
        send(&mut socket, id, "Page.navigate", json!({ "url": url })).await?;
        let deadline = Instant::now() + LOAD_TIMEOUT;
        let mut loader: Option<String> = None;
        let mut loaded: Vec<String> = Vec::new();
        loop {
            if let Some(l) = &loader
                && loaded.contains(l)
            {
                return Ok(());
            }
            let msg = next_message(&mut socket, deadline).await.with_context(|| format!("navigating to {url}"))?;
            if msg.get("id").and_then(Value::as_u64) == Some(id) {
                let result = response_result(msg, "Page.navigate")?;
                if let Some(text) = result.get("errorText").and_then(Value::as_str)
                    && !text.is_empty()
                {
                    bail!("navigating to {url} failed: {text}");
                }
                match result.get("loaderId").and_then(Value::as_str) {
                    Some(l) => loader = Some(l.to_owned()),
                    None => return Ok(()), // same-document navigation: no load event follows
                }
            } else if msg.get("method").and_then(Value::as_str) == Some("Page.lifecycleEvent") {
                let params = &msg["params"];
                if params["name"] == "load"
                    && let Some(l) = params["loaderId"].as_str()
                {
                    loaded.push(l.to_owned());
                }
            } else {
                self.record_event(&msg);
            }
        }
    }

    /// Evaluates `js` in the page (awaiting a returned promise) and returns its JSON value.
    /// A thrown exception or rejected promise becomes an `Err` with its message.
    pub async fn eval(&self, js: &str) -> Result<Value> {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({
                    "expression": js,
                    "returnByValue": true,
                    "awaitPromise": true,
                    "userGesture": true,
                }),
            )
            .await?;
        if let Some(details) = result.get("exceptionDetails") {
            let message = details["exception"]["description"]
                .as_str()
                .or_else(|| details["text"].as_str())
                .unwrap_or("unknown exception");
            bail!("JavaScript error in `{js}`: {message}");
        }
        Ok(result["result"].get("value").cloned().unwrap_or(Value::Null))
    }

    /// Polls `js_predicate` every 50 ms until it evaluates truthy and returns that value.
    pub async fn wait_for(&self, js_predicate: &str, timeout: Duration) -> Result<Value> {
        let deadline = Instant::now() + timeout;
        let mut last_error = None;
        loop {
            match self.eval(js_predicate).await {
                Ok(value) if truthy(&value) => return Ok(value),
                Ok(_) => {}
                Err(err) => last_error = Some(err),
            }
            if Instant::now() >= deadline {
                let why = last_error.map(|e| format!(" (last error: {e:#})")).unwrap_or_default();
                bail!("timed out after {timeout:?} waiting for `{js_predicate}`{why}");
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Saves a PNG screenshot of the page's viewport to `path`.
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let result = self.call("Page.captureScreenshot", json!({ "format": "png" })).await?;
        let data = result["data"].as_str().context("Page.captureScreenshot returned no data")?;
        let png = decode_base64(data)?;
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }

    /// Console messages, log entries and uncaught exceptions seen so far, one line each
    /// (`level: text`). Events are read while commands run, so call this after an `eval`.
    pub fn console(&self) -> Vec<String> {
        self.console.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Sends one raw CDP command to the page (e.g. `Emulation.setDeviceMetricsOverride`)
    /// and returns its `result`.
    pub async fn call(&self, method: &str, params: Value) -> Result<Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut socket = self.socket.lock().await;
        send(&mut socket, id, method, params).await?;
        let deadline = Instant::now() + COMMAND_TIMEOUT;
        loop {
            let msg = next_message(&mut socket, deadline)
                .await
                .with_context(|| format!("waiting for the answer to {method}"))?;
            if msg.get("id").and_then(Value::as_u64) == Some(id) {
                return response_result(msg, method);
            }
            self.record_event(&msg);
        }
    }

    fn record_event(&self, msg: &Value) {
        let params = &msg["params"];
        let line = match msg.get("method").and_then(Value::as_str) {
            Some("Runtime.consoleAPICalled") => {
                let args: Vec<String> =
                    params["args"].as_array().map(|a| a.iter().map(remote_object_text).collect()).unwrap_or_default();
                format!("{}: {}", params["type"].as_str().unwrap_or("log"), args.join(" "))
            }
            Some("Log.entryAdded") => {
                let entry = &params["entry"];
                format!("{}: {}", entry["level"].as_str().unwrap_or("info"), entry["text"].as_str().unwrap_or(""))
            }
            Some("Runtime.exceptionThrown") => {
                let details = &params["exceptionDetails"];
                let text = details["exception"]["description"]
                    .as_str()
                    .or_else(|| details["text"].as_str())
                    .unwrap_or("exception");
                format!("exception: {text}")
            }
            _ => return,
        };
        self.console.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        // Chromium's helper processes outlive the browser process for a moment and keep
        // writing into the profile: wait for the exit, then retry removing the directory.
        let deadline = Instant::now() + Duration::from_secs(3);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        while std::fs::remove_dir_all(self.profile.path()).is_err()
            && self.profile.path().exists()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn chromium_path() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .ok_or_else(|| anyhow!("Chromium not found: install it (apt-get install chromium) or set $CHROMIUM"))
}

/// Waits for Chromium to write `DevToolsActivePort` (first line: the port) into its profile.
async fn wait_for_port(child: &mut Child, profile: &Path) -> Result<u16> {
    let file = profile.join("DevToolsActivePort");
    let deadline = Instant::now() + LAUNCH_TIMEOUT;
    loop {
        if let Ok(text) = std::fs::read_to_string(&file)
            && let Some(Ok(port)) = text.lines().next().map(|l| l.trim().parse::<u16>())
        {
            return Ok(port);
        }
        if let Some(status) = child.try_wait()? {
            bail!("Chromium exited early ({status})");
        }
        if Instant::now() >= deadline {
            bail!("Chromium did not write {} within {LAUNCH_TIMEOUT:?}", file.display());
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Finds the page target's DevTools WebSocket URL via the HTTP endpoint.
async fn page_ws_url(port: u16) -> Result<String> {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).no_proxy().build()?;
    let url = format!("http://127.0.0.1:{port}/json/list");
    let deadline = Instant::now() + LAUNCH_TIMEOUT;
    loop {
        let targets: Option<Value> = match client.get(&url).send().await {
            Ok(resp) => resp.text().await.ok().and_then(|t| serde_json::from_str(&t).ok()),
            Err(_) => None,
        };
        let found = targets.as_ref().and_then(Value::as_array).and_then(|list| {
            list.iter().find(|t| t["type"] == "page").and_then(|t| t["webSocketDebuggerUrl"].as_str())
        });
        if let Some(ws) = found {
            return Ok(ws.to_owned());
        }
        if Instant::now() >= deadline {
            bail!("no page target at {url} within {LAUNCH_TIMEOUT:?} (got {targets:?})");
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

async fn send(socket: &mut Socket, id: u64, method: &str, params: Value) -> Result<()> {
    let text = json!({ "id": id, "method": method, "params": params }).to_string();
    tokio::time::timeout(COMMAND_TIMEOUT, socket.send(Message::text(text)))
        .await
        .with_context(|| format!("timed out sending {method}"))?
        .with_context(|| format!("sending {method}"))
}

/// Reads the next JSON text message, failing at `deadline` or when the socket ends.
async fn next_message(socket: &mut Socket, deadline: Instant) -> Result<Value> {
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let msg = tokio::time::timeout(remaining, socket.next())
            .await
            .map_err(|_| anyhow!("CDP timed out"))?
            .ok_or_else(|| anyhow!("the DevTools connection closed"))?
            .context("reading from the DevTools connection")?;
        match msg {
            Message::Text(text) => {
                return serde_json::from_str(&text).context("CDP sent invalid JSON");
            }
            Message::Close(_) => bail!("the DevTools connection closed"),
            _ => continue,
        }
    }
}

fn response_result(mut msg: Value, method: &str) -> Result<Value> {
    if let Some(err) = msg.get("error") {
        bail!("{method} failed: {} ({})", err["message"].as_str().unwrap_or("unknown error"), err["code"]);
    }
    Ok(msg.get_mut("result").map(Value::take).unwrap_or(Value::Null))
}

fn remote_object_text(obj: &Value) -> String {
    match &obj["value"] {
        Value::String(s) => s.clone(),
        Value::Null => obj["description"].as_str().unwrap_or("undefined").to_owned(),
        other => other.to_string(),
    }
}

fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0 && !f.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

fn decode_base64(data: &str) -> Result<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let bytes: Vec<u8> = data.bytes().filter(|&c| c != b'=' && !c.is_ascii_whitespace()).collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            let v = sextet(c).ok_or_else(|| anyhow!("invalid base64 byte {c:#x}"))?;
            acc |= v << (18 - 6 * i);
        }
        let n = chunk.len() * 6 / 8;
        out.extend_from_slice(&acc.to_be_bytes()[1..1 + n]);
    }
    Ok(out)
}

fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(15)..].join("\n");
    format!("Chromium log ({}):\n{tail}", path.display())
}
