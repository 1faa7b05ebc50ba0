//! Reaching one server and holding the connection: a stdio server is a child process with a
//! clean environment (`PATH`, `HOME`, `LANG` and its own `env`, never the gateway's secrets) in
//! its own process group, its stderr kept as its last lines; an HTTP server is Streamable HTTP
//! with its headers, over molt's TLS. The client answers `notifications/tools/list_changed` by
//! waking the server's supervisor, which lists the tools again.

use std::collections::{HashMap, VecDeque};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use process_wrap::tokio::{CommandWrap, KillOnDrop, ProcessGroup};
use rmcp::model::{ClientCapabilities, ClientConfig, Implementation};
use rmcp::service::{NotificationContext, RunningService};
use rmcp::transport::TokioChildProcess;
use rmcp::transport::streamable_http_client::{StreamableHttpClientTransport, StreamableHttpClientTransportConfig};
use rmcp::{ClientHandler, RoleClient, ServiceExt};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::sync::Notify;

use crate::core::secret::Secret;
use crate::core::settings::McpTransport;
use crate::core::sync::lock;

pub type Connection = RunningService<RoleClient, Client>;

/// Lines of a server's stderr kept, and the bytes of each.
const STDERR_LINES: usize = 20;
const STDERR_LINE_BYTES: usize = 512;
/// An HTTP server that accepts no connection, or stops sending, within these is given up on
/// (a tool call has its own, shorter or longer, timeout).
const HTTP_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const HTTP_READ_TIMEOUT: Duration = Duration::from_secs(300);

/// The client side of one connection.
pub struct Client {
    tools_changed: Arc<Notify>,
}

impl ClientHandler for Client {
    fn get_info(&self) -> ClientConfig {
        ClientConfig::new(ClientCapabilities::default(), Implementation::new("molt", crate::VERSION))
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.tools_changed.notify_one();
    }
}

/// The last lines a server wrote to stderr, for the admin status and `molt doctor`.
#[derive(Default)]
pub struct StderrTail {
    lines: Mutex<VecDeque<String>>,
}

impl StderrTail {
    pub fn lines(&self) -> Vec<String> {
        lock(&self.lines).iter().cloned().collect()
    }

    fn push(&self, line: &str) {
        let mut end = line.len().min(STDERR_LINE_BYTES);
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        let mut lines = lock(&self.lines);
        if lines.len() == STDERR_LINES {
            lines.pop_front();
        }
        lines.push_back(line[..end].to_owned());
    }

    async fn follow(self: Arc<Self>, stderr: impl tokio::io::AsyncRead + Unpin, server: Arc<str>) {
        let mut reader = BufReader::new(stderr);
        let mut line = Vec::new();
        // Lines are read as bytes and bounded: a server that writes one endless line costs
        // nothing more than a full buffer.
        loop {
            line.clear();
            match (&mut reader).take(64 * 1024).read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&line);
                    let text = text.trim_end();
                    tracing::debug!(server = %server, line = %text, "MCP server stderr");
                    self.push(text);
                }
            }
        }
    }
}

/// Starts the server and completes the MCP handshake.
pub async fn connect(
    server: &Arc<str>,
    transport: &McpTransport,
    inherited: &[(String, String)],
    http: &reqwest_mcp::Client,
    tools_changed: Arc<Notify>,
    stderr: &Arc<StderrTail>,
) -> Result<Connection, String> {
    let client = Client { tools_changed };
    match transport {
        McpTransport::Stdio { command, args, env } => {
            let mut child = tokio::process::Command::new(command);
            child.args(args).env_clear().envs(inherited.iter().map(|(name, value)| (name, value)));
            child.envs(env.iter().map(|(name, value)| (name, value.expose())));
            let mut wrapped = CommandWrap::from(child);
            wrapped.wrap(ProcessGroup::leader()).wrap(KillOnDrop);
            let (process, child_stderr) = TokioChildProcess::builder(wrapped)
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|error| format!("cannot start `{command}`: {error}"))?;
            if let Some(child_stderr) = child_stderr {
                tokio::spawn(Arc::clone(stderr).follow(child_stderr, Arc::clone(server)));
            }
            client.serve(process).await.map_err(|error| error.to_string())
        }
        McpTransport::Http { url, headers } => {
            let config =
                StreamableHttpClientTransportConfig::with_uri(url.as_str()).custom_headers(header_map(headers)?);
            let transport = StreamableHttpClientTransport::with_client(http.clone(), config);
            client.serve(transport).await.map_err(|error| error.to_string())
        }
    }
}

fn header_map(headers: &[(String, Secret)]) -> Result<HashMap<http::HeaderName, http::HeaderValue>, String> {
    headers
        .iter()
        .map(|(name, value)| {
            let header = http::HeaderName::try_from(name.as_str())
                .map_err(|_| format!("`headers.{name}` is not a valid header name"))?;
            let mut value = http::HeaderValue::try_from(value.expose())
                .map_err(|_| format!("`headers.{name}` has a value that cannot be sent in a header"))?;
            value.set_sensitive(true);
            Ok((header, value))
        })
        .collect()
}

/// The HTTP client of every Streamable HTTP server: molt's TLS (rustls on ring with the webpki
/// roots), no redirects followed (a redirect would carry the headers elsewhere), bounded waits.
pub fn http_client() -> Result<reqwest_mcp::Client, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| error.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest_mcp::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest_mcp::redirect::Policy::none())
        .connect_timeout(HTTP_CONNECT_TIMEOUT)
        .read_timeout(HTTP_READ_TIMEOUT)
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|error| format!("cannot build the HTTP client of MCP servers: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_stderr_tail_keeps_the_last_lines_each_bounded() {
        let tail = StderrTail::default();
        for n in 0..30 {
            tail.push(&format!("line {n}"));
        }
        tail.push(&"é".repeat(400));
        let lines = tail.lines();
        assert_eq!(lines.len(), STDERR_LINES);
        assert_eq!(lines[0], "line 11");
        assert!(lines[19].len() <= STDERR_LINE_BYTES && lines[19].starts_with('é'));
    }

    #[test]
    fn headers_are_checked_and_marked_sensitive() {
        let good = header_map(&[("Authorization".into(), Secret::new("Bearer x"))]).unwrap();
        assert!(good.values().all(http::HeaderValue::is_sensitive));
        let bad = header_map(&[("X-Key".into(), Secret::new("a\nb"))]).unwrap_err();
        assert!(bad.contains("`headers.X-Key`") && !bad.contains("a\nb"), "{bad}");
    }

    #[test]
    fn the_http_client_builds_with_molts_tls() {
        assert!(http_client().is_ok());
    }
}
