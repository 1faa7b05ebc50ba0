//! What the gateway trusts at its edge: which web origins may open browser WebSockets and send
//! cookie-authenticated changes, which peers may name the client in `X-Forwarded-For`, and the
//! secret the Cloudflare Worker proves itself with.

use std::net::IpAddr;

use ipnet::IpNet;

use crate::core::secret::Secret;
use crate::core::url::normalize_origin;

use super::SettingsError;
use super::layers::{Layers, Origin};

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EdgeSettings {
    /// Origins besides the gateway's own, normalised (`scheme://host[:port]`).
    pub allowed_origins: Vec<String>,
    /// Peers whose `X-Forwarded-For` names the client (a reverse proxy on this host).
    pub trusted_proxies: Vec<IpNet>,
    /// `MOLT_PROXY_SECRET`: the Worker sends it in `x-molt-proxy-secret`; only requests that
    /// carry it may name the client in `cf-connecting-ip`.
    pub proxy_secret: Option<Secret>,
}

impl EdgeSettings {
    pub fn trusts_proxy(&self, peer: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|net| net.contains(&peer))
    }
}

fn list(raw: &str) -> impl Iterator<Item = &str> {
    raw.split(',').map(str::trim).filter(|item| !item.is_empty())
}

pub(super) fn resolve(
    layers: &mut Layers<'_>,
    file_origins: Option<&[String]>,
    file_proxies: Option<&[String]>,
) -> Result<EdgeSettings, SettingsError> {
    let origins: Option<(Vec<String>, Origin)> = match layers.env(&["MOLT_ALLOWED_ORIGINS"]) {
        Some((var, raw)) => Some((list(&raw).map(str::to_owned).collect(), Origin::Env(var))),
        None => file_origins.map(|origins| (origins.to_vec(), Origin::File)),
    };
    let mut allowed_origins = Vec::new();
    if let Some((raw, origin)) = origins {
        for item in &raw {
            let normalized = normalize_origin(item).ok_or_else(|| SettingsError::Invalid {
                name: "allowed_origins",
                value: item.clone(),
                expected: "comma-separated origins such as `https://chat.example.com` (scheme, host, optional port)",
            })?;
            allowed_origins.push(normalized);
        }
        layers.record("allowed_origins", allowed_origins.join(","), origin);
    } else {
        layers.record("allowed_origins", "(only the gateway's own origin)", Origin::Default);
    }
    let proxies: Option<(Vec<String>, Origin)> = match layers.env(&["MOLT_TRUSTED_PROXIES"]) {
        Some((var, raw)) => Some((list(&raw).map(str::to_owned).collect(), Origin::Env(var))),
        None => file_proxies.map(|proxies| (proxies.to_vec(), Origin::File)),
    };
    let mut trusted_proxies = Vec::new();
    if let Some((raw, origin)) = proxies {
        for item in &raw {
            let net = item.parse::<IpNet>().or_else(|_| item.parse::<IpAddr>().map(IpNet::from)).map_err(|_| {
                SettingsError::Invalid {
                    name: "trusted_proxies",
                    value: item.clone(),
                    expected: "comma-separated IP addresses or CIDR ranges such as `127.0.0.1` or `10.0.0.0/8`",
                }
            })?;
            trusted_proxies.push(net);
        }
        let shown: Vec<String> = trusted_proxies.iter().map(ToString::to_string).collect();
        layers.record("trusted_proxies", shown.join(","), origin);
    } else {
        layers.record("trusted_proxies", "(none: X-Forwarded-For is ignored)", Origin::Default);
    }
    let proxy_secret = layers.secret("proxy_secret", &["MOLT_PROXY_SECRET"]);
    Ok(EdgeSettings { allowed_origins, trusted_proxies, proxy_secret })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_env(pairs: &[(&str, &str)]) -> Result<EdgeSettings, SettingsError> {
        let map: std::collections::HashMap<String, String> =
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let env = move |name: &str| map.get(name).cloned();
        let mut layers = Layers::new(&env);
        resolve(&mut layers, None, None)
    }

    #[test]
    fn origins_and_proxies_parse_and_bad_ones_are_refused() {
        let edge = resolve_env(&[
            ("MOLT_ALLOWED_ORIGINS", "https://Chat.Example.com:443, http://127.0.0.1:5173"),
            ("MOLT_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8"),
            ("MOLT_PROXY_SECRET", "s3cret"),
        ])
        .unwrap();
        assert_eq!(edge.allowed_origins, ["https://chat.example.com", "http://127.0.0.1:5173"]);
        assert!(edge.trusts_proxy([127, 0, 0, 1].into()) && edge.trusts_proxy([10, 9, 8, 7].into()));
        assert!(!edge.trusts_proxy([127, 0, 0, 2].into()));
        assert_eq!(edge.proxy_secret.as_ref().map(Secret::expose), Some("s3cret"));
        assert!(resolve_env(&[("MOLT_ALLOWED_ORIGINS", "https://a.dev/path")]).is_err());
        assert!(resolve_env(&[("MOLT_TRUSTED_PROXIES", "not-an-ip")]).is_err());
        assert_eq!(resolve_env(&[]).unwrap(), EdgeSettings::default());
    }

    #[test]
    fn molt_toml_gives_both_lists_and_the_environment_wins() {
        let text = "[gateway]\nallowed_origins = [\"https://chat.example.com\"]\ntrusted_proxies = [\"10.1.0.0/16\"]\n";
        let file: crate::core::settings::FileConfig = toml::from_str(text).unwrap();
        let env = |name: &str| (name == "MOLT_TRUSTED_PROXIES").then(|| "127.0.0.1".to_owned());
        let mut layers = Layers::new(&env);
        let gateway = &file.gateway;
        let edge =
            resolve(&mut layers, gateway.allowed_origins.as_deref(), gateway.trusted_proxies.as_deref()).unwrap();
        assert_eq!(edge.allowed_origins, ["https://chat.example.com"]);
        assert!(edge.trusts_proxy([127, 0, 0, 1].into()) && !edge.trusts_proxy([10, 1, 2, 3].into()));
        let origin = layers.provenance.iter().find(|line| line.name == "allowed_origins").unwrap();
        assert_eq!(origin.origin, Origin::File);
    }
}
