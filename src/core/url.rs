//! Facts about URLs the clients and the gateway both need: whether a URL points at this machine
//! (the only place the data directory's token may be sent), and a web origin's canonical form.

use std::net::IpAddr;
use std::path::Path;

use crate::core::secret::Secret;

/// The host of `scheme://host[:port]/...`, without brackets or port.
fn host_of(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // Credentials before `@` are not the host.
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    Some(match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority.rsplit_once(':').map_or(authority, |(host, _)| host),
    })
}

/// Whether `url` names this machine: `localhost` or a loopback address (IPv4 or IPv6).
pub fn is_loopback_url(url: &str) -> bool {
    host_of(url).is_some_and(|host| {
        host.eq_ignore_ascii_case("localhost") || host.parse::<IpAddr>().is_ok_and(|address| address.is_loopback())
    })
}

/// The local gateway's token from its token file, only when `url` is on this machine: that
/// token belongs to the local gateway and must never travel to another host.
pub fn local_token_for(url: &str, token_file: &Path) -> Option<Secret> {
    if !is_loopback_url(url) {
        return None;
    }
    let text = std::fs::read_to_string(token_file).ok()?;
    Some(Secret::new(text.trim())).filter(|token| !token.expose().is_empty())
}

/// `scheme://host[:port]` lowercased, without a trailing `/` and without the scheme's default
/// port, as browsers send it in `Origin`; `None` for anything else (a path, another scheme).
pub fn normalize_origin(raw: &str) -> Option<String> {
    let raw = raw.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, authority) = raw.split_once("://")?;
    let default_port = match scheme {
        "http" => ":80",
        "https" => ":443",
        _ => return None,
    };
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
        return None;
    }
    let authority = authority.strip_suffix(default_port).unwrap_or(authority);
    Some(format!("{scheme}://{authority}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls_are_only_this_machine() {
        let local = [
            "http://127.0.0.1:18789",
            "http://localhost:1",
            "ws://[::1]:18789/ws",
            "ws://127.0.0.2/ws",
            "http://LOCALHOST",
        ];
        // The host is what follows the last `@`, as URL parsers read it.
        for url in local.into_iter().chain(["http://user@evil.example@127.0.0.1"]) {
            assert!(is_loopback_url(url), "{url}");
        }
        for url in [
            "https://molt.example.workers.dev",
            "http://127.0.0.1.example.com",
            "ws://127.example.com/ws",
            "http://localhost.example.com/",
            "http://127.0.0.1@evil.example/",
            "not a url",
        ] {
            assert!(!is_loopback_url(url), "{url}");
        }
    }

    #[test]
    fn the_token_file_is_read_for_loopback_urls_only() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gateway-token");
        std::fs::write(&file, "tok\n").unwrap();
        assert_eq!(local_token_for("http://127.0.0.1:1", &file).map(|t| t.expose().to_owned()), Some("tok".into()));
        assert!(local_token_for("https://molt.example.workers.dev", &file).is_none());
    }

    #[test]
    fn origins_are_compared_in_one_form() {
        assert_eq!(normalize_origin("HTTPS://Molt.Example.dev:443/").as_deref(), Some("https://molt.example.dev"));
        assert_eq!(normalize_origin("http://127.0.0.1:80").as_deref(), Some("http://127.0.0.1"));
        assert_eq!(normalize_origin("http://127.0.0.1:18789").as_deref(), Some("http://127.0.0.1:18789"));
        assert_eq!(normalize_origin("null"), None);
        assert_eq!(normalize_origin("https://a.dev/path"), None);
        assert_eq!(normalize_origin("ftp://a.dev"), None);
    }
}
