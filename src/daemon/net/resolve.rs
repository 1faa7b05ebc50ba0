//! The guard applied to a request: the URL's scheme and literal address are checked before
//! it is sent, and its host name is resolved by [`GuardedResolver`], which hands the client only
//! the addresses the guard accepts. The addresses checked are the addresses connected to, so a
//! name that answers differently the second time (DNS rebinding) gains nothing.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use reqwest::Url;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use super::guard::{AddressGuard, Refused};

/// Why a URL may not be reached.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GuardError {
    #[error("`{scheme}:` URLs are not fetched; only `http` and `https`")]
    Scheme { scheme: String },
    #[error("the URL names no host")]
    NoHost,
    #[error(
        "refused: {0}; only public addresses are reached unless the operator allows the host in `MOLT_WEB_FETCH_ALLOW`"
    )]
    Refused(Refused),
    #[error("cannot resolve `{host}`: {reason}")]
    Lookup { host: String, reason: String },
    #[error("`{host}` has no address")]
    NoAddress { host: String },
}

impl AddressGuard {
    /// Checks `url` (scheme, host, and the address when the host is one) and returns `builder`
    /// set so the client reaches only the addresses this guard accepts for the URL's port: a
    /// guarded resolver, no proxy (a proxy would resolve the host itself), and no redirects
    /// (each hop is a new URL for the caller to check).
    pub fn client_for(&self, url: &Url, builder: reqwest::ClientBuilder) -> Result<reqwest::ClientBuilder, GuardError> {
        let port = self.check_url(url)?;
        let resolver = GuardedResolver { guard: self.clone(), port };
        Ok(builder.dns_resolver(Arc::new(resolver)).no_proxy().redirect(reqwest::redirect::Policy::none()))
    }

    /// The URL's port once its scheme and literal address pass. A host name is checked when it
    /// is resolved, not here.
    pub fn check_url(&self, url: &Url) -> Result<u16, GuardError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(GuardError::Scheme { scheme: url.scheme().to_owned() });
        }
        let port = url.port_or_known_default().ok_or(GuardError::NoHost)?;
        let host = url.host_str().ok_or(GuardError::NoHost)?;
        // `Url` writes an IP host in its one canonical form (`[v6]`, dotted IPv4) and resolves
        // nothing, so this is the address that would be connected to.
        let Ok(address) = host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() else {
            return Ok(port);
        };
        self.check(host, port, address).map_err(GuardError::Refused)?;
        Ok(port)
    }

    /// Resolves `host` and keeps the addresses the guard accepts for `port`; refused when none
    /// is left, naming the first refused one.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, GuardError> {
        let found = tokio::net::lookup_host((host, port))
            .await
            .map_err(|error| GuardError::Lookup { host: host.to_owned(), reason: error.to_string() })?;
        let mut kept = Vec::new();
        let mut refused = None;
        for address in found {
            match self.check(host, port, address.ip()) {
                Ok(()) => kept.push(address),
                Err(refusal) => {
                    refused.get_or_insert(refusal);
                }
            }
        }
        match (kept.is_empty(), refused) {
            (true, Some(refusal)) => Err(GuardError::Refused(refusal)),
            (true, None) => Err(GuardError::NoAddress { host: host.to_owned() }),
            (false, refused) => {
                if let Some(refusal) = refused {
                    tracing::debug!(%host, address = %refusal.address, "a refused address of a host was left out");
                }
                Ok(kept)
            }
        }
    }
}

/// A reqwest resolver for requests to one port: it resolves through the guard, so the client
/// connects only to accepted addresses. Literal IP URLs never reach it; `check_url` covers them.
pub struct GuardedResolver {
    guard: AddressGuard,
    port: u16,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let guard = self.guard.clone();
        let port = self.port;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses = guard.resolve(&host, port).await?;
            Ok(Box::new(addresses.into_iter()) as Addrs)
        })
    }
}

/// The guard's refusal inside a failed request, if that is why it failed.
pub fn guard_error(error: &reqwest::Error) -> Option<&GuardError> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(current) = source {
        if let Some(found) = current.downcast_ref::<GuardError>() {
            return Some(found);
        }
        source = current.source();
    }
    None
}
