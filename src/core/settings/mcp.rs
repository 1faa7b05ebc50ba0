//! `mcp.json`: the MCP servers the assistant's tools come from, in the `mcpServers` format of
//! Claude Desktop and Claude Code. Read once with the settings: `${VAR}` in a server's `env` and
//! `headers` is taken from the gateway's environment then, so secrets stay out of the file. A
//! file that cannot be read is an error for MCP alone, and a server that is wrong is an error for
//! that server alone: the gateway starts either way.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use crate::core::secret::Secret;

/// The variable naming another file than `<data dir>/mcp.json`.
pub const MCP_CONFIG_VAR: &str = "MOLT_MCP_CONFIG";
/// What a stdio server inherits from the gateway's environment, besides its own `env`.
pub const INHERITED: [&str; 3] = ["PATH", "HOME", "LANG"];
/// A call to a server's tool gives up after this long unless its `timeoutSecs` says otherwise.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// A larger file is refused: a list of servers is a few KiB.
const MAX_FILE_BYTES: u64 = 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpSettings {
    /// The file read, or looked for.
    pub path: PathBuf,
    /// Its servers (none when the file does not exist), or why it could not be read.
    pub servers: Result<Vec<McpServer>, McpConfigError>,
    /// `PATH`, `HOME` and `LANG` of the gateway, when set: a stdio server's whole inheritance.
    pub inherited: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum McpConfigError {
    #[error("cannot read `{path}`: {message}")]
    Read { path: PathBuf, message: String },
    #[error("`{path}` line {line}, column {column}: {message}")]
    Parse { path: PathBuf, line: usize, column: usize, message: String },
}

/// One entry of `mcpServers`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McpServer {
    pub name: String,
    /// How to reach it, or why this entry cannot be used (shown as the server's error).
    pub transport: Result<McpTransport, String>,
    pub disabled: bool,
    /// Only these of its tools are offered (`tools`); all of them when `None`.
    pub allowed_tools: Option<Vec<String>>,
    pub call_timeout: Duration,
    /// Guests may use its tools (`"guests": true`); otherwise they are the operator's.
    pub guests: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum McpTransport {
    /// A child process speaking JSON-RPC on its stdin and stdout.
    Stdio { command: String, args: Vec<String>, env: Vec<(String, Secret)> },
    /// Streamable HTTP.
    Http { url: String, headers: Vec<(String, Secret)> },
}

impl McpSettings {
    /// `MOLT_MCP_CONFIG`, else `<data_dir>/mcp.json`, read now.
    pub fn resolve(env: &dyn Fn(&str) -> Option<String>, data_dir: &Path) -> Self {
        let named = env(MCP_CONFIG_VAR).filter(|value| !value.trim().is_empty());
        let path = named.as_ref().map_or_else(|| data_dir.join("mcp.json"), PathBuf::from);
        let inherited = INHERITED.iter().filter_map(|name| Some(((*name).to_owned(), env(name)?))).collect();
        let servers = match read(&path) {
            // A missing default file means no MCP servers; a named one must exist.
            Ok(None) if named.is_none() => Ok(Vec::new()),
            Ok(None) => Err(McpConfigError::Read { path: path.clone(), message: "no such file".into() }),
            Ok(Some(text)) => parse(&path, &text, env),
            Err(message) => Err(McpConfigError::Read { path: path.clone(), message }),
        };
        Self { path, servers, inherited }
    }

    /// Every expanded value of `env` and `headers`, for scrubbing text that may quote one.
    pub fn secrets(&self) -> Vec<&Secret> {
        let Ok(servers) = &self.servers else { return Vec::new() };
        servers
            .iter()
            .filter_map(|server| server.transport.as_ref().ok())
            .flat_map(|transport| match transport {
                McpTransport::Stdio { env, .. } => env.iter(),
                McpTransport::Http { headers, .. } => headers.iter(),
            })
            .map(|(_, value)| value)
            .collect()
    }
}

fn read(path: &Path) -> Result<Option<String>, String> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(error.to_string()),
    };
    let mut text = String::new();
    use std::io::Read;
    file.take(MAX_FILE_BYTES + 1).read_to_string(&mut text).map_err(|error| error.to_string())?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(format!("larger than {MAX_FILE_BYTES} bytes"));
    }
    Ok(Some(text))
}

#[derive(Deserialize)]
struct File {
    #[serde(rename = "mcpServers", default, deserialize_with = "in_order")]
    servers: Vec<(String, Value)>,
}

/// A JSON object's entries in the order written (`serde_json`'s map sorts its keys).
fn in_order<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<(String, Value)>, D::Error> {
    struct Entries;
    impl<'de> serde::de::Visitor<'de> for Entries {
        type Value = Vec<(String, Value)>;
        fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            formatter.write_str("an object of servers by name")
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut entries = Vec::new();
            while let Some((name, value)) = map.next_entry::<String, Value>()? {
                // A name written twice: the last entry counts, as JSON readers have it.
                match entries.iter_mut().find(|(known, _): &&mut (String, Value)| *known == name) {
                    Some(known) => known.1 = value,
                    None => entries.push((name, value)),
                }
            }
            Ok(entries)
        }
    }
    deserializer.deserialize_map(Entries)
}

/// One server as written; fields other clients use (`autoApprove`, …) are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    #[serde(rename = "type")]
    kind: Option<String>,
    command: Option<String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    url: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    #[serde(default)]
    disabled: bool,
    tools: Option<Vec<String>>,
    timeout_secs: Option<u64>,
    #[serde(default)]
    guests: bool,
}

/// The file's servers in the order written; a syntax error names its line and column.
pub fn parse(path: &Path, text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Vec<McpServer>, McpConfigError> {
    let file: File = serde_json::from_str(text).map_err(|error| McpConfigError::Parse {
        path: path.to_owned(),
        line: error.line(),
        column: error.column(),
        message: error.to_string().split(" at line ").next().unwrap_or_default().to_owned(),
    })?;
    Ok(file.servers.into_iter().map(|(name, value)| server(name, value, env)).collect())
}

fn server(name: String, value: Value, env: &dyn Fn(&str) -> Option<String>) -> McpServer {
    let entry = match serde_json::from_value::<Entry>(value) {
        Ok(entry) => entry,
        Err(error) => {
            return McpServer {
                name,
                transport: Err(error.to_string()),
                disabled: false,
                allowed_tools: None,
                call_timeout: DEFAULT_CALL_TIMEOUT,
                guests: false,
            };
        }
    };
    McpServer {
        transport: transport(&entry, env),
        name,
        disabled: entry.disabled,
        allowed_tools: entry.tools,
        call_timeout: entry.timeout_secs.filter(|secs| *secs > 0).map_or(DEFAULT_CALL_TIMEOUT, Duration::from_secs),
        guests: entry.guests,
    }
}

fn transport(entry: &Entry, env: &dyn Fn(&str) -> Option<String>) -> Result<McpTransport, String> {
    let http = match entry.kind.as_deref() {
        None => entry.command.is_none() && entry.url.is_some(),
        Some("stdio") => false,
        Some("http" | "streamable-http" | "streamableHttp") => true,
        Some("sse") => {
            return Err("`\"type\": \"sse\"` (the older HTTP+SSE transport) is not supported; use the server's Streamable HTTP endpoint with `\"type\": \"http\"`".into());
        }
        Some(other) => return Err(format!("unknown `type` `{other}`; expected `stdio` or `http`")),
    };
    if http {
        let url = entry.url.clone().ok_or("needs `url`")?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err("`url` must start with `http://` or `https://`".into());
        }
        return Ok(McpTransport::Http { url, headers: expand_all(&entry.headers, "headers", env)? });
    }
    let command = entry.command.clone().filter(|command| !command.trim().is_empty());
    let command = command.ok_or("needs `command` (a stdio server) or `\"type\": \"http\"` with `url`")?;
    Ok(McpTransport::Stdio { command, args: entry.args.clone(), env: expand_all(&entry.env, "env", env)? })
}

fn expand_all(
    values: &BTreeMap<String, String>,
    field: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<(String, Secret)>, String> {
    values
        .iter()
        .map(|(key, value)| {
            let expanded =
                expand(value, env).map_err(|var| format!("`{field}.{key}` names `${{{var}}}`, which is not set"))?;
            Ok((key.clone(), Secret::new(expanded)))
        })
        .collect()
}

/// `value` with each `${VAR}` replaced by the variable's value; the name of the first unset
/// variable is the error. Text without a closing brace is kept as written.
pub fn expand(value: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = &after[..end];
        out.push_str(&env(name).ok_or_else(|| name.to_owned())?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TOKEN" => Some("t0ken".into()),
            "PATH" => Some("/usr/bin".into()),
            _ => None,
        }
    }

    fn servers(text: &str) -> Vec<McpServer> {
        parse(Path::new("mcp.json"), text, &env).unwrap()
    }

    #[test]
    fn reads_stdio_and_http_servers_in_the_order_written() {
        let all = servers(
            r#"{"mcpServers": {
                "files": {"command": "npx", "args": ["-y", "x"], "env": {"KEY": "k-${TOKEN}"}, "tools": ["read"], "timeoutSecs": 5},
                "remote": {"type": "http", "url": "https://mcp.example/mcp", "headers": {"Authorization": "Bearer ${TOKEN}"}, "guests": true, "autoApprove": []},
                "off": {"command": "x", "disabled": true}
            }}"#,
        );
        let names: Vec<&str> = all.iter().map(|server| server.name.as_str()).collect();
        assert_eq!(names, ["files", "remote", "off"]);
        let Ok(McpTransport::Stdio { command, args, env }) = &all[0].transport else { panic!("{:?}", all[0]) };
        assert_eq!((command.as_str(), args.len()), ("npx", 2));
        assert_eq!((env[0].0.as_str(), env[0].1.expose()), ("KEY", "k-t0ken"));
        assert_eq!(all[0].allowed_tools, Some(vec!["read".to_owned()]));
        assert_eq!(all[0].call_timeout, Duration::from_secs(5));
        let Ok(McpTransport::Http { url, headers }) = &all[1].transport else { panic!("{:?}", all[1]) };
        assert_eq!(url, "https://mcp.example/mcp");
        assert_eq!(headers[0].1.expose(), "Bearer t0ken");
        assert!(all[1].guests && !all[0].guests);
        assert!(all[2].disabled);
    }

    #[test]
    fn an_unset_variable_is_an_error_for_its_server_only() {
        let all = servers(r#"{"mcpServers": {"a": {"command": "x", "env": {"K": "${NOPE}"}}, "b": {"command": "y"}}}"#);
        assert_eq!(all[0].transport.as_ref().unwrap_err(), "`env.K` names `${NOPE}`, which is not set");
        assert!(all[1].transport.is_ok());
    }

    #[test]
    fn a_broken_file_names_its_line() {
        let error =
            parse(Path::new("/d/mcp.json"), "{\n  \"mcpServers\": {\n    \"a\": {,}\n  }\n}", &env).unwrap_err();
        let McpConfigError::Parse { line, .. } = &error else { panic!("{error:?}") };
        assert_eq!(*line, 3);
        assert!(error.to_string().starts_with("`/d/mcp.json` line 3, column"), "{error}");
    }

    #[test]
    fn wrong_entries_say_what_is_wrong() {
        let all = servers(
            r#"{"mcpServers": {"a": {}, "b": {"type": "sse", "url": "http://h"}, "c": {"type": "http", "url": "ftp://h"}, "d": {"command": 3}}}"#,
        );
        let errors: Vec<String> = all.iter().map(|server| server.transport.as_ref().unwrap_err().clone()).collect();
        assert!(errors[0].contains("needs `command`"), "{}", errors[0]);
        assert!(errors[1].contains("not supported"), "{}", errors[1]);
        assert!(errors[2].contains("must start with"), "{}", errors[2]);
        assert!(errors[3].contains("invalid type"), "{}", errors[3]);
    }

    #[test]
    fn expansion_keeps_text_without_a_closing_brace() {
        assert_eq!(expand("a${TOKEN}b${TOKEN}", &env).unwrap(), "at0kenbt0ken");
        assert_eq!(expand("cost $5 ${", &env).unwrap(), "cost $5 ${");
        assert_eq!(expand("${UNSET}", &env).unwrap_err(), "UNSET");
    }

    #[test]
    fn a_missing_default_file_is_no_servers_but_a_missing_named_one_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let none = McpSettings::resolve(&|_| None, dir.path());
        assert!(none.servers.unwrap().is_empty());
        let named = |name: &str| (name == MCP_CONFIG_VAR).then(|| "/nonexistent/mcp.json".to_owned());
        let missing = McpSettings::resolve(&named, dir.path());
        assert!(matches!(missing.servers, Err(McpConfigError::Read { .. })));
        let inherited = McpSettings::resolve(&env, dir.path()).inherited;
        assert_eq!(inherited, [("PATH".to_owned(), "/usr/bin".to_owned())]);
    }
}
