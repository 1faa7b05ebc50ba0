//! The one answer to "who is the client, is it on this machine, and may its page talk to us":
//! the client address (the socket's peer unless the Worker or a trusted proxy names another),
//! whether a request is direct loopback, and the browser `Origin` check. Every route asks here.

use std::net::{IpAddr, SocketAddr};

use axum::http::{HeaderMap, header};

use crate::core::settings::EdgeSettings;
use crate::core::url::normalize_origin;

/// The header the Cloudflare Worker sends `MOLT_PROXY_SECRET` in.
pub const PROXY_SECRET_HEADER: &str = "x-molt-proxy-secret";

/// Headers a proxy (the Cloudflare Worker, a reverse proxy, Cloudflare's edge) adds: any of them
/// means the request did not come straight from a process on this host, whoever sent it. A
/// reverse proxy on the same host (nginx, cloudflared) connects from 127.0.0.1 for everyone.
const PROXY_HEADERS: [&str; 14] = [
    "cf-connecting-ip",
    "cf-connecting-ipv6",
    "cf-ray",
    "cf-visitor",
    "cf-ipcountry",
    "cf-worker",
    "cdn-loop",
    "true-client-ip",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "forwarded",
    "x-real-ip",
    PROXY_SECRET_HEADER,
];

/// Who is on the other end of a request.
#[derive(Debug, Clone, Copy)]
pub struct Peer {
    /// The client's address: what rate limits and the audit log key on.
    pub address: IpAddr,
    /// A loopback peer with no proxy headers: a process on this machine.
    pub direct_loopback: bool,
    /// The request came through the Worker (its secret matched) or a trusted proxy, so its
    /// forwarding headers (`x-forwarded-host`, `x-forwarded-proto`) describe the public origin.
    pub via_edge: bool,
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok()).map(str::trim)
}

impl Peer {
    pub fn new(socket: SocketAddr, headers: &HeaderMap, edge: &EdgeSettings) -> Self {
        let socket_ip = socket.ip().to_canonical();
        let proxied = PROXY_HEADERS.iter().any(|name| headers.contains_key(*name));
        let from_worker = edge.proxy_secret.as_ref().is_some_and(|secret| {
            headers
                .get_all(PROXY_SECRET_HEADER)
                .iter()
                .any(|value| value.to_str().is_ok_and(|value| secret.matches(value.trim())))
        });
        let worker_client = from_worker
            .then(|| header(headers, "cf-connecting-ip").and_then(|value| value.parse::<IpAddr>().ok()))
            .flatten();
        if !from_worker && headers.contains_key("cf-connecting-ip") {
            warn_once(edge);
        }
        let trusted_proxy = edge.trusts_proxy(socket_ip);
        let address = worker_client
            .or_else(|| trusted_proxy.then(|| forwarded_client(headers, edge)).flatten())
            .unwrap_or(socket_ip)
            .to_canonical();
        Self { address, direct_loopback: socket_ip.is_loopback() && !proxied, via_edge: from_worker || trusted_proxy }
    }
}

/// Says once per process why `cf-connecting-ip` was not believed: behind a Worker deployed
/// before the proxy secret, every visitor shares the Worker's address (and its rate limit).
fn warn_once(edge: &EdgeSettings) {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    let why = if edge.proxy_secret.is_some() {
        "its `x-molt-proxy-secret` did not match"
    } else {
        "`MOLT_PROXY_SECRET` is not set"
    };
    tracing::warn!(
        "ignoring `cf-connecting-ip`: {why}; hint: run `molt init` and `molt deploy` again so the Worker sends the secret"
    );
}

/// The client named by `X-Forwarded-For`, read from the right: each hop a trusted proxy added
/// is skipped, and the first address no trusted proxy is known for is the client.
fn forwarded_client(headers: &HeaderMap, edge: &EdgeSettings) -> Option<IpAddr> {
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    let mut client = None;
    for hop in hops.iter().rev() {
        let Ok(address) = hop.parse::<IpAddr>() else { break };
        let address = address.to_canonical();
        client = Some(address);
        if !edge.trusts_proxy(address) {
            break;
        }
    }
    client
}

/// The origins this request may come from: `http://<Host>` (the gateway serves plain HTTP),
/// `https://<Host>` when a proxy says the request arrived over HTTPS (the Worker's container
/// transport rewrites `https:` to `http:` but keeps the host; a browser page cannot add these
/// headers to a WebSocket upgrade), and behind the Worker or a trusted proxy the public host it
/// forwards in `x-forwarded-host`.
fn own_origins(headers: &HeaderMap, peer: &Peer) -> Vec<String> {
    let https = header(headers, "x-forwarded-proto").is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
        || header(headers, "cf-visitor").is_some_and(|visitor| visitor.contains("\"https\""));
    let schemes: &[&str] = if https { &["http", "https"] } else { &["http"] };
    let host = header(headers, header::HOST.as_str());
    let forwarded_host = if peer.via_edge { header(headers, "x-forwarded-host") } else { None };
    let mut own = Vec::new();
    for authority in [host, forwarded_host].into_iter().flatten() {
        for scheme in schemes {
            own.extend(normalize_origin(&format!("{scheme}://{authority}")));
        }
    }
    own
}

/// Whether a browser request may proceed: requests without `Origin` (the CLI, OpenClaw's
/// clients, same-origin navigations) always; others only from the gateway's own origin or
/// `MOLT_ALLOWED_ORIGINS`. A page from another site or another local port must not ride the
/// cookie into the gateway.
pub fn origin_allowed(headers: &HeaderMap, peer: &Peer, edge: &EdgeSettings) -> bool {
    let mut given = headers.get_all(header::ORIGIN).iter();
    let Some(origin) = given.next() else { return true };
    if given.next().is_some() {
        return false;
    }
    let Some(origin) = origin.to_str().ok().and_then(normalize_origin) else { return false };
    own_origins(headers, peer).contains(&origin) || edge.allowed_origins.contains(&origin)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;
    use crate::core::secret::Secret;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    const LOOPBACK: ([u8; 4], u16) = ([127, 0, 0, 1], 40000);

    #[test]
    fn cf_connecting_ip_counts_only_with_the_worker_secret() {
        let edge = EdgeSettings { proxy_secret: Some(Secret::new("worker")), ..EdgeSettings::default() };
        let spoofed = Peer::new(LOOPBACK.into(), &headers(&[("cf-connecting-ip", "203.0.113.5")]), &edge);
        assert_eq!(spoofed.address, IpAddr::from([127, 0, 0, 1]));
        assert!(!spoofed.direct_loopback, "a proxy header is never local");
        let wrong = headers(&[("cf-connecting-ip", "203.0.113.5"), (PROXY_SECRET_HEADER, "guess")]);
        assert_eq!(Peer::new(LOOPBACK.into(), &wrong, &edge).address, IpAddr::from([127, 0, 0, 1]));
        let worker = headers(&[("cf-connecting-ip", "203.0.113.5"), (PROXY_SECRET_HEADER, "worker")]);
        let peer = Peer::new(([10, 0, 0, 2], 1).into(), &worker, &edge);
        assert_eq!(peer.address, IpAddr::from([203, 0, 113, 5]));
        assert!(peer.via_edge && !peer.direct_loopback);
    }

    #[test]
    fn x_forwarded_for_counts_only_from_trusted_proxies() {
        let edge = EdgeSettings { trusted_proxies: vec!["127.0.0.1/32".parse().unwrap()], ..EdgeSettings::default() };
        let forwarded = headers(&[("x-forwarded-for", "198.51.100.1, 203.0.113.9"), ("x-forwarded-for", "127.0.0.1")]);
        let peer = Peer::new(LOOPBACK.into(), &forwarded, &edge);
        assert_eq!(peer.address, IpAddr::from([203, 0, 113, 9]), "the rightmost hop no trusted proxy added");
        assert!(!peer.direct_loopback);
        let untrusted = Peer::new(([192, 0, 2, 4], 1).into(), &forwarded, &edge);
        assert_eq!(untrusted.address, IpAddr::from([192, 0, 2, 4]));
        let direct = Peer::new(LOOPBACK.into(), &HeaderMap::new(), &edge);
        assert!(direct.direct_loopback);
        assert!(!Peer::new(LOOPBACK.into(), &headers(&[("cf-ray", "8f-AMS")]), &edge).direct_loopback);
    }

    #[test]
    fn only_the_own_origin_and_allowed_ones_pass() {
        let edge = EdgeSettings { allowed_origins: vec!["https://chat.example.com".into()], ..EdgeSettings::default() };
        let peer = Peer::new(LOOPBACK.into(), &HeaderMap::new(), &edge);
        let check =
            |origin: &str| origin_allowed(&headers(&[("host", "127.0.0.1:18789"), ("origin", origin)]), &peer, &edge);
        assert!(check("http://127.0.0.1:18789"));
        assert!(check("https://chat.example.com"));
        assert!(!check("http://127.0.0.1:5173"), "another local port is another origin");
        assert!(!check("https://evil.example"));
        assert!(!check("null"));
        assert!(origin_allowed(&headers(&[("host", "127.0.0.1:18789")]), &peer, &edge), "no Origin: not a browser");
    }

    #[test]
    fn behind_the_worker_the_public_origin_is_the_own_one() {
        let edge = EdgeSettings { proxy_secret: Some(Secret::new("worker")), ..EdgeSettings::default() };
        let forwarded = [
            ("host", "molt.ada.workers.dev"),
            ("x-forwarded-host", "molt.ada.workers.dev"),
            ("x-forwarded-proto", "https"),
            (PROXY_SECRET_HEADER, "worker"),
            ("origin", "https://molt.ada.workers.dev"),
        ];
        let request = headers(&forwarded);
        let peer = Peer::new(([10, 0, 0, 2], 1).into(), &request, &edge);
        assert!(origin_allowed(&request, &peer, &edge));
        let spoofed = headers(&[
            ("host", "10.0.0.1:18789"),
            ("x-forwarded-host", "evil.example"),
            ("origin", "http://evil.example"),
        ]);
        let peer = Peer::new(([10, 0, 0, 2], 1).into(), &spoofed, &edge);
        assert!(!origin_allowed(&spoofed, &peer, &edge), "forwarding headers count only from the edge");
        // A deployment whose Worker predates the proxy secret: the host is kept, the scheme
        // comes from Cloudflare's `cf-visitor`.
        let old_worker = headers(&[
            ("host", "molt.ada.workers.dev"),
            ("cf-visitor", r#"{"scheme":"https"}"#),
            ("origin", "https://molt.ada.workers.dev"),
        ]);
        let peer = Peer::new(([10, 0, 0, 2], 1).into(), &old_worker, &edge);
        assert!(origin_allowed(&old_worker, &peer, &edge));
    }
}
