//! Which addresses the gateway may connect to for a URL it did not choose: public addresses
//! only, unless the operator's allowlist names the host. An address is refused by the first rule
//! of the special-purpose tables below that contains it; IPv6 forms that carry an IPv4 address
//! (mapped, compatible, NAT64, 6to4) are judged by the address they carry.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// Why an address is not public.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Unspecified,
    Loopback,
    Private,
    /// 100.64.0.0/10, carrier-grade NAT.
    SharedAddressSpace,
    LinkLocal,
    /// A cloud provider's instance metadata service.
    Metadata,
    Multicast,
    Broadcast,
    Documentation,
    Benchmarking,
    UniqueLocal,
    Reserved,
}

impl Rule {
    fn described(self) -> &'static str {
        match self {
            Self::Unspecified => "an unspecified (this-network) address",
            Self::Loopback => "a loopback address",
            Self::Private => "a private address",
            Self::SharedAddressSpace => "a carrier-grade NAT address",
            Self::LinkLocal => "a link-local address",
            Self::Metadata => "a cloud metadata address",
            Self::Multicast => "a multicast address",
            Self::Broadcast => "the broadcast address",
            Self::Documentation => "a documentation address",
            Self::Benchmarking => "a benchmarking address",
            Self::UniqueLocal => "a unique-local address",
            Self::Reserved => "a reserved address",
        }
    }
}

/// The rule that refuses an address, the range it refuses, and the IPv4 address an IPv6 form
/// carried when that is what was judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    pub rule: Rule,
    pub range: IpNet,
    pub embedded: Option<Ipv4Addr>,
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(embedded) = self.embedded {
            write!(formatter, "carries {embedded}, ")?;
        }
        write!(formatter, "{} ({})", self.rule.described(), self.range)
    }
}

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8, rule: Rule) -> (Ipv4Net, Rule) {
    (Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix), rule)
}

const fn v6(segments: [u16; 8], prefix: u8, rule: Rule) -> (Ipv6Net, Rule) {
    let [a, b, c, d, e, f, g, h] = segments;
    (Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), prefix), rule)
}

/// IPv4 ranges that are not public, most specific first (IANA's special-purpose registry).
const IPV4_REFUSED: &[(Ipv4Net, Rule)] = &[
    v4(169, 254, 169, 254, 32, Rule::Metadata),
    v4(169, 254, 170, 2, 32, Rule::Metadata),
    v4(169, 254, 170, 23, 32, Rule::Metadata),
    v4(100, 100, 100, 200, 32, Rule::Metadata),
    v4(192, 0, 0, 192, 32, Rule::Metadata),
    v4(255, 255, 255, 255, 32, Rule::Broadcast),
    v4(0, 0, 0, 0, 8, Rule::Unspecified),
    v4(10, 0, 0, 0, 8, Rule::Private),
    v4(100, 64, 0, 0, 10, Rule::SharedAddressSpace),
    v4(127, 0, 0, 0, 8, Rule::Loopback),
    v4(169, 254, 0, 0, 16, Rule::LinkLocal),
    v4(172, 16, 0, 0, 12, Rule::Private),
    v4(192, 0, 0, 0, 24, Rule::Reserved),
    v4(192, 0, 2, 0, 24, Rule::Documentation),
    v4(192, 88, 99, 0, 24, Rule::Reserved),
    v4(192, 168, 0, 0, 16, Rule::Private),
    v4(198, 18, 0, 0, 15, Rule::Benchmarking),
    v4(198, 51, 100, 0, 24, Rule::Documentation),
    v4(203, 0, 113, 0, 24, Rule::Documentation),
    v4(224, 0, 0, 0, 4, Rule::Multicast),
    v4(240, 0, 0, 0, 4, Rule::Reserved),
];

/// IPv6 ranges that are not public, most specific first. Forms carrying an IPv4 address are
/// handled before this table; anything outside 2000::/3 is refused after it.
const IPV6_REFUSED: &[(Ipv6Net, Rule)] = &[
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, Rule::Unspecified),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, Rule::Loopback),
    v6([0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254], 128, Rule::Metadata),
    v6([0xfd20, 0xce, 0, 0, 0, 0, 0, 0x254], 128, Rule::Metadata),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, Rule::Private),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, Rule::Reserved),
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, Rule::Reserved),
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32, Rule::Documentation),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, Rule::Documentation),
    v6([0x5f00, 0, 0, 0, 0, 0, 0, 0], 16, Rule::Reserved),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, Rule::UniqueLocal),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, Rule::LinkLocal),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, Rule::Reserved),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Rule::Multicast),
];

const GLOBAL_UNICAST: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0x2000, 0, 0, 0, 0, 0, 0, 0), 3);
const MAPPED: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0), 96);
const COMPATIBLE: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 0), 96);
const NAT64: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0), 96);
const SIX_TO_FOUR: Ipv6Net = Ipv6Net::new_assert(Ipv6Addr::new(0x2002, 0, 0, 0, 0, 0, 0, 0), 16);

/// Why `address` may not be reached without the allowlist; `None` for a public address.
pub fn classify(address: IpAddr) -> Option<Verdict> {
    match address {
        IpAddr::V4(address) => classify_v4(address),
        IpAddr::V6(address) => classify_v6(address),
    }
}

fn classify_v4(address: Ipv4Addr) -> Option<Verdict> {
    IPV4_REFUSED.iter().find(|(range, _)| range.contains(&address)).map(|(range, rule)| Verdict {
        rule: *rule,
        range: IpNet::V4(*range),
        embedded: None,
    })
}

fn classify_v6(address: Ipv6Addr) -> Option<Verdict> {
    let bits = u128::from(address);
    // The IPv4 address in the low 32 bits, or in bits 16..48 for 6to4; truncation is the point.
    let low = Ipv4Addr::from(bits as u32);
    let carried =
        |embedded: Ipv4Addr| classify_v4(embedded).map(|verdict| Verdict { embedded: Some(embedded), ..verdict });
    let listed = IPV6_REFUSED.iter().find(|(range, _)| range.contains(&address));
    if let Some((range, rule @ (Rule::Unspecified | Rule::Loopback))) = listed {
        return Some(Verdict { rule: *rule, range: IpNet::V6(*range), embedded: None });
    }
    if MAPPED.contains(&address) || NAT64.contains(&address) {
        return carried(low);
    }
    if COMPATIBLE.contains(&address) {
        // Deprecated; not routed to the IPv4 address it names, so refused even when that is public.
        return carried(low).or(Some(Verdict { rule: Rule::Reserved, range: IpNet::V6(COMPATIBLE), embedded: None }));
    }
    if SIX_TO_FOUR.contains(&address) {
        return carried(Ipv4Addr::from((bits >> 80) as u32));
    }
    if let Some((range, rule)) = listed {
        return Some(Verdict { rule: *rule, range: IpNet::V6(*range), embedded: None });
    }
    if !GLOBAL_UNICAST.contains(&address) {
        return Some(Verdict { rule: Rule::Reserved, range: IpNet::V6(GLOBAL_UNICAST), embedded: None });
    }
    None
}

/// A host the operator allows although it is not public: by name or address, on one port or all.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Allowed {
    host: AllowedHost,
    port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum AllowedHost {
    /// Lowercase, without a trailing dot.
    Name(String),
    Address(IpAddr),
}

impl Allowed {
    /// `host`, `host:port`, an IP address, `[v6]` or `[v6]:port`.
    fn parse(entry: &str) -> Option<Self> {
        let entry = entry.trim();
        if let Ok(address) = entry.parse::<IpAddr>() {
            return Some(Self { host: AllowedHost::Address(address), port: None });
        }
        let (host, port) = match entry.strip_prefix('[') {
            Some(rest) => {
                let (inside, after) = rest.split_once(']')?;
                let port = match after {
                    "" => None,
                    after => Some(after.strip_prefix(':')?.parse().ok()?),
                };
                (inside, port)
            }
            None => match entry.rsplit_once(':') {
                Some((host, port)) => (host, Some(port.parse().ok()?)),
                None => (entry, None),
            },
        };
        let host = match host.parse::<IpAddr>() {
            Ok(address) => AllowedHost::Address(address),
            Err(_) => {
                let name = normal_name(host);
                let valid = !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_');
                if !valid {
                    return None;
                }
                AllowedHost::Name(name)
            }
        };
        Some(Self { host, port })
    }

    fn admits(&self, host: &str, port: u16, address: IpAddr) -> bool {
        if self.port.is_some_and(|allowed| allowed != port) {
            return false;
        }
        match &self.host {
            AllowedHost::Name(name) => *name == normal_name(host),
            AllowedHost::Address(allowed) => *allowed == address,
        }
    }
}

fn normal_name(host: &str) -> String {
    host.trim_end_matches('.').to_ascii_lowercase()
}

/// An address the guard refused for a host, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Refused {
    /// As the URL wrote it: a name, a dotted IPv4 address or a bracketed IPv6 one.
    pub host: String,
    pub address: IpAddr,
    pub verdict: Verdict,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self { host, address, verdict } = self;
        let literal = host.trim_start_matches('[').trim_end_matches(']').parse() == Ok(*address);
        match (literal, verdict.embedded.is_some()) {
            (true, true) => write!(formatter, "`{host}` {verdict}"),
            (true, false) => write!(formatter, "`{host}` is {verdict}"),
            (false, true) => write!(formatter, "`{host}` resolves to {address}, which {verdict}"),
            (false, false) => write!(formatter, "`{host}` resolves to {address}, {verdict}"),
        }
    }
}

/// Decides whether a connection to an address may be made for a host the gateway was asked to
/// reach. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct AddressGuard {
    allowed: Arc<[Allowed]>,
}

impl AddressGuard {
    /// The guard with the operator's allowlist (`host[:port]` entries); an entry that cannot be
    /// read is logged and ignored, so it allows nothing.
    pub fn new(allowlist: &[String]) -> Self {
        let allowed = allowlist
            .iter()
            .filter_map(|entry| {
                let parsed = Allowed::parse(entry);
                if parsed.is_none() {
                    tracing::warn!(%entry, "an entry of MOLT_WEB_FETCH_ALLOW is not `host[:port]`; it is ignored");
                }
                parsed
            })
            .collect();
        Self { allowed }
    }

    /// Whether `address`, reached for `host` on `port`, may be connected to.
    pub fn check(&self, host: &str, port: u16, address: IpAddr) -> Result<(), Refused> {
        let Some(verdict) = classify(address) else {
            return Ok(());
        };
        if self.allowed.iter().any(|allowed| allowed.admits(host, port, address)) {
            return Ok(());
        }
        Err(Refused { host: host.to_owned(), address, verdict })
    }
}

#[cfg(test)]
mod tests;
