//! Which gateway a command talks to, and which token it may send there: the one resolver of
//! `molt pair`, `molt chat`, `molt tail --gateway`, `molt doctor` and `molt gateway backup`.
//!
//! One flag, `--url`, and one variable, `MOLT_URL`; the older `MOLT_GATEWAY_URL` and
//! `MOLT_WORKER_URL` are read as its aliases, with a `warning:`. Without any, a command uses its
//! own default (the local gateway from its settings, or the deployment's Worker). Any of
//! `http`, `https`, `ws` or `wss` is accepted; each command takes the form it speaks.
//!
//! The one token rule: a gateway token from the environment goes wherever the user points it;
//! the token kept in the data directory belongs to the local gateway and is sent to loopback
//! URLs only (`core::url::local_token_for`).

use std::path::Path;

use super::error::{Hint, UserError};
use super::output;
use crate::core::secret::Secret;
use crate::core::settings::Settings;
use crate::core::url::{is_loopback_url, local_token_for};
use crate::daemon::token::TOKEN_FILE;

pub const VARIABLE: &str = "MOLT_URL";
/// Older names of `MOLT_URL` (`molt tail --gateway`'s and `molt doctor`'s), read after it.
pub const DEPRECATED: [&str; 2] = ["MOLT_GATEWAY_URL", "MOLT_WORKER_URL"];

/// A gateway's address as the user gave it, without a trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayUrl {
    given: String,
    secure: bool,
    /// `host[:port][/path]`.
    rest: String,
}

#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an http, https, ws or wss URL")]
pub struct NotAUrl(String);

impl Hint for NotAUrl {
    fn hint(&self) -> Option<String> {
        Some("pass `--url https://<worker>.workers.dev` or `--url http://127.0.0.1:18789`".into())
    }
}

impl GatewayUrl {
    pub fn parse(raw: &str) -> Result<Self, NotAUrl> {
        let given = raw.trim().trim_end_matches('/').to_owned();
        let (scheme, rest) = given.split_once("://").ok_or_else(|| NotAUrl(raw.to_owned()))?;
        let secure = match scheme.to_ascii_lowercase().as_str() {
            "http" | "ws" => false,
            "https" | "wss" => true,
            _ => return Err(NotAUrl(raw.to_owned())),
        };
        if rest.is_empty() || rest.starts_with('/') || rest.contains(char::is_whitespace) {
            return Err(NotAUrl(raw.to_owned()));
        }
        let rest = rest.to_owned();
        Ok(Self { given, secure, rest })
    }

    /// The local gateway its settings describe: `http://127.0.0.1:PORT` when it binds every
    /// address.
    pub fn local(settings: &Settings) -> Self {
        let host = if settings.bind.is_unspecified() { "127.0.0.1".to_owned() } else { settings.bind.to_string() };
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        let given = format!("http://{host}:{}", settings.port);
        Self { rest: given["http://".len()..].to_owned(), given, secure: false }
    }

    /// As the user gave it, for messages.
    pub fn as_str(&self) -> &str {
        &self.given
    }

    /// The base of the HTTP APIs: `ws` becomes `http`, `wss` `https`, and a final `/ws` goes.
    pub fn http(&self) -> String {
        let rest = self.rest.strip_suffix("/ws").unwrap_or(&self.rest);
        format!("{}://{rest}", if self.secure { "https" } else { "http" })
    }

    /// The protocol's WebSocket: `http` becomes `ws`, `https` `wss`, and a URL without a path
    /// gets `/ws`.
    pub fn websocket(&self) -> String {
        let scheme = if self.secure { "wss" } else { "ws" };
        if self.rest.contains('/') {
            format!("{scheme}://{}", self.rest)
        } else {
            format!("{scheme}://{}/ws", self.rest)
        }
    }

    pub fn is_loopback(&self) -> bool {
        is_loopback_url(&self.given)
    }

    /// The data directory's token, for a loopback URL only.
    pub fn local_token(&self, data_dir: &Path) -> Option<Secret> {
        local_token_for(&self.given, &data_dir.join(TOKEN_FILE))
    }

    /// The token to send: `MOLT_GATEWAY_TOKEN` (or `MOLTBOT_GATEWAY_TOKEN`) wherever the user
    /// points it, else the data directory's for a loopback URL.
    pub fn token(&self, settings: &Settings) -> Option<Secret> {
        settings.gateway_token.clone().or_else(|| self.local_token(&settings.data_dir))
    }
}

/// `--url`, else `MOLT_URL`, else the first deprecated alias that is set, with that alias.
pub fn given(flag: Option<&str>, env: &dyn Fn(&str) -> Option<String>) -> Option<(String, Option<&'static str>)> {
    if let Some(url) = flag.filter(|url| !url.is_empty()) {
        return Some((url.to_owned(), None));
    }
    if let Some(url) = env(VARIABLE) {
        return Some((url, None));
    }
    DEPRECATED.iter().find_map(|alias| env(alias).map(|url| (url, Some(*alias))))
}

/// The URL `flag` or the environment names, if any; warns on stderr when a deprecated alias
/// named it.
pub fn resolve(flag: Option<&str>) -> Result<Option<GatewayUrl>, NotAUrl> {
    let Some((raw, alias)) = given(flag, &process_env) else {
        return Ok(None);
    };
    if let Some(alias) = alias {
        output::warning(format_args!("`{alias}` is deprecated: set `{VARIABLE}` instead"));
    }
    GatewayUrl::parse(&raw).map(Some)
}

/// Where a client of a local or deployed gateway goes, and with what.
#[derive(Debug)]
pub struct Target {
    pub url: GatewayUrl,
    pub token: Option<Secret>,
    /// An Access service token's id and secret, sent as `CF-Access-Client-Id` and
    /// `CF-Access-Client-Secret`.
    pub access: Option<(String, Secret)>,
}

impl Target {
    /// [`resolve`]'s URL, else the local gateway of `settings`; its token by the one rule; the
    /// Access service token from `MOLT_ACCESS_CLIENT_ID` and `MOLT_ACCESS_CLIENT_SECRET`.
    pub fn resolve(flag: Option<&str>, settings: &Settings) -> Result<Self, UserError> {
        let url = resolve(flag)?.unwrap_or_else(|| GatewayUrl::local(settings));
        let token = url.token(settings);
        let access = match (process_env("MOLT_ACCESS_CLIENT_ID"), process_env("MOLT_ACCESS_CLIENT_SECRET")) {
            (Some(id), Some(secret)) => Some((id, Secret::new(secret))),
            _ => None,
        };
        Ok(Self { url, token, access })
    }
}

/// A variable of this process, unset when empty.
fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::core::settings::{FileConfig, GatewayFlags};

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn the_flag_then_molt_url_then_the_deprecated_aliases() {
        let all = env(&[("MOLT_URL", "http://a"), ("MOLT_GATEWAY_URL", "ws://b/ws"), ("MOLT_WORKER_URL", "https://c")]);
        assert_eq!(given(Some("http://flag"), &all), Some(("http://flag".into(), None)));
        assert_eq!(given(None, &all), Some(("http://a".into(), None)));
        let aliases = env(&[("MOLT_GATEWAY_URL", "ws://b/ws"), ("MOLT_WORKER_URL", "https://c")]);
        assert_eq!(given(None, &aliases), Some(("ws://b/ws".into(), Some("MOLT_GATEWAY_URL"))));
        let worker = env(&[("MOLT_WORKER_URL", "https://c")]);
        assert_eq!(given(None, &worker), Some(("https://c".into(), Some("MOLT_WORKER_URL"))));
        assert_eq!(given(None, &env(&[])), None);
    }

    #[test]
    fn each_command_gets_the_form_it_speaks() {
        let page = GatewayUrl::parse("http://127.0.0.1:18789/").unwrap();
        assert_eq!((page.as_str(), page.http()), ("http://127.0.0.1:18789", "http://127.0.0.1:18789".into()));
        assert_eq!(page.websocket(), "ws://127.0.0.1:18789/ws");
        let socket = GatewayUrl::parse("WSS://molt.example.workers.dev/ws").unwrap();
        assert_eq!(socket.http(), "https://molt.example.workers.dev");
        assert_eq!(socket.websocket(), "wss://molt.example.workers.dev/ws");
        let prefixed = GatewayUrl::parse("https://h/molt").unwrap();
        assert_eq!((prefixed.http(), prefixed.websocket()), ("https://h/molt".into(), "wss://h/molt".into()));
        for bad in ["ftp://h", "127.0.0.1:18789", "http://", "http:///ws", "not a url"] {
            assert!(GatewayUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_data_directorys_token_goes_to_loopback_urls_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(TOKEN_FILE), "local-token\n").unwrap();
        let flags = GatewayFlags { data_dir: Some(dir.path().to_owned()), ..GatewayFlags::default() };
        let settings = Settings::resolve(&flags, &env(&[]), &FileConfig::default()).unwrap();
        let sent = |url: &str| GatewayUrl::parse(url).unwrap().token(&settings).map(|t| t.expose().to_owned());
        assert_eq!(sent("http://127.0.0.1:18789").as_deref(), Some("local-token"));
        assert_eq!(sent("ws://localhost:1/ws").as_deref(), Some("local-token"));
        assert_eq!(sent("http://[::1]:18789").as_deref(), Some("local-token"));
        assert_eq!(sent("https://molt.example.workers.dev"), None);
        assert_eq!(sent("http://127.0.0.1.example.com"), None);
        assert_eq!(
            GatewayUrl::local(&settings).token(&settings).map(|t| t.expose().to_owned()).as_deref(),
            Some("local-token")
        );

        let explicit =
            Settings::resolve(&flags, &env(&[("MOLT_GATEWAY_TOKEN", "mine")]), &FileConfig::default()).unwrap();
        let remote = GatewayUrl::parse("https://molt.example.workers.dev").unwrap();
        assert_eq!(
            remote.token(&explicit).map(|t| t.expose().to_owned()).as_deref(),
            Some("mine"),
            "the user's choice"
        );
    }
}
