//! The guard's classification of literal addresses and its allowlist. No test here sends a
//! request: the private, link-local and metadata ranges are only ever classified.

use super::*;

fn rule(address: &str) -> Option<Rule> {
    classify(address.parse().unwrap()).map(|verdict| verdict.rule)
}

#[test]
fn refuses_every_special_purpose_ipv4_range() {
    let cases = [
        ("0.0.0.0", Rule::Unspecified),
        ("0.1.2.3", Rule::Unspecified),
        ("10.0.0.1", Rule::Private),
        ("10.255.255.255", Rule::Private),
        ("100.64.0.1", Rule::SharedAddressSpace),
        ("100.127.255.254", Rule::SharedAddressSpace),
        ("127.0.0.1", Rule::Loopback),
        ("127.0.0.2", Rule::Loopback),
        ("127.255.255.255", Rule::Loopback),
        ("169.254.0.1", Rule::LinkLocal),
        ("169.254.169.254", Rule::Metadata),
        ("169.254.170.2", Rule::Metadata),
        ("100.100.100.200", Rule::Metadata),
        ("172.16.0.1", Rule::Private),
        ("172.31.255.255", Rule::Private),
        ("192.0.0.1", Rule::Reserved),
        ("192.0.2.1", Rule::Documentation),
        ("192.88.99.1", Rule::Reserved),
        ("192.168.1.1", Rule::Private),
        ("198.18.0.1", Rule::Benchmarking),
        ("198.19.255.255", Rule::Benchmarking),
        ("198.51.100.7", Rule::Documentation),
        ("203.0.113.9", Rule::Documentation),
        ("224.0.0.1", Rule::Multicast),
        ("239.255.255.250", Rule::Multicast),
        ("240.0.0.1", Rule::Reserved),
        ("255.255.255.255", Rule::Broadcast),
    ];
    for (address, expected) in cases {
        assert_eq!(rule(address), Some(expected), "{address}");
    }
}

#[test]
fn refuses_every_special_purpose_ipv6_range() {
    let cases = [
        ("::", Rule::Unspecified),
        ("::1", Rule::Loopback),
        ("fe80::1", Rule::LinkLocal),
        ("febf::1", Rule::LinkLocal),
        ("fec0::1", Rule::Reserved),
        ("fc00::1", Rule::UniqueLocal),
        ("fd12:3456::1", Rule::UniqueLocal),
        ("fd00:ec2::254", Rule::Metadata),
        ("fd20:ce::254", Rule::Metadata),
        ("ff02::1", Rule::Multicast),
        ("ff0e::1", Rule::Multicast),
        ("2001:db8::1", Rule::Documentation),
        ("3fff::1", Rule::Documentation),
        ("2001::1", Rule::Reserved),
        ("2001:2::1", Rule::Reserved),
        ("100::1", Rule::Reserved),
        ("64:ff9b:1::1", Rule::Private),
        ("5f00::1", Rule::Reserved),
        ("4000::1", Rule::Reserved),
        ("::8.8.8.8", Rule::Reserved),
    ];
    for (address, expected) in cases {
        assert_eq!(rule(address), Some(expected), "{address}");
    }
}

#[test]
fn judges_ipv6_forms_by_the_ipv4_address_they_carry() {
    let cases = [
        ("::ffff:127.0.0.1", Rule::Loopback, "127.0.0.1"),
        ("::ffff:10.0.0.1", Rule::Private, "10.0.0.1"),
        ("::ffff:169.254.169.254", Rule::Metadata, "169.254.169.254"),
        ("::ffff:0.0.0.0", Rule::Unspecified, "0.0.0.0"),
        ("::127.0.0.1", Rule::Loopback, "127.0.0.1"),
        ("::10.0.0.1", Rule::Private, "10.0.0.1"),
        ("64:ff9b::127.0.0.1", Rule::Loopback, "127.0.0.1"),
        ("64:ff9b::a9fe:a9fe", Rule::Metadata, "169.254.169.254"),
        ("64:ff9b::192.168.0.1", Rule::Private, "192.168.0.1"),
        ("2002:7f00:1::", Rule::Loopback, "127.0.0.1"),
        ("2002:a00:1::1", Rule::Private, "10.0.0.1"),
        ("2002:a9fe:a9fe::", Rule::Metadata, "169.254.169.254"),
    ];
    for (address, expected, carried) in cases {
        let verdict = classify(address.parse().unwrap()).unwrap_or_else(|| panic!("{address} was allowed"));
        assert_eq!(verdict.rule, expected, "{address}");
        assert_eq!(verdict.embedded, Some(carried.parse().unwrap()), "{address}");
    }
    // The same forms carrying a public address route to that public address.
    for address in ["::ffff:93.184.215.14", "64:ff9b::93.184.215.14", "2002:5db8:d70e::1"] {
        assert_eq!(rule(address), None, "{address}");
    }
}

#[test]
fn allows_public_addresses() {
    for address in [
        "93.184.215.14",
        "8.8.8.8",
        "1.1.1.1",
        "100.63.255.255",
        "100.128.0.0",
        "172.15.255.255",
        "172.32.0.0",
        "192.167.255.255",
        "198.20.0.0",
        "223.255.255.255",
        "2606:2800:220:1::248",
        "2a00:1450:4001:80b::200e",
    ] {
        assert_eq!(rule(address), None, "{address}");
    }
}

#[test]
fn the_refusal_names_the_host_the_address_and_the_rule() {
    let guard = AddressGuard::default();
    let refused = guard.check("metadata.internal", 80, "169.254.169.254".parse().unwrap()).unwrap_err();
    assert_eq!(
        refused.to_string(),
        "`metadata.internal` resolves to 169.254.169.254, a cloud metadata address (169.254.169.254/32)"
    );
    let literal = guard.check("100.64.0.1", 80, "100.64.0.1".parse().unwrap()).unwrap_err();
    assert_eq!(literal.to_string(), "`100.64.0.1` is a carrier-grade NAT address (100.64.0.0/10)");
    let mapped = guard.check("[::ffff:10.0.0.1]", 443, "::ffff:10.0.0.1".parse().unwrap()).unwrap_err();
    assert_eq!(mapped.to_string(), "`[::ffff:10.0.0.1]` carries 10.0.0.1, a private address (10.0.0.0/8)");
    let named = guard.check("sneaky.example", 443, "64:ff9b::7f00:1".parse().unwrap()).unwrap_err();
    assert_eq!(
        named.to_string(),
        "`sneaky.example` resolves to 64:ff9b::7f00:1, which carries 127.0.0.1, a loopback address (127.0.0.0/8)"
    );
}

#[test]
fn the_allowlist_lets_named_hosts_through_on_their_ports() {
    let guard = AddressGuard::new(&[
        "127.0.0.1:8080".into(),
        "Intranet.Example.".into(),
        "[::1]:9000".into(),
        "nas.local:5000".into(),
        "10.1.2.3".into(),
        "not a host".into(),
        "bad:port".into(),
    ]);
    let loopback = "127.0.0.1".parse().unwrap();
    let private = "10.0.0.5".parse().unwrap();
    assert!(guard.check("127.0.0.1", 8080, loopback).is_ok());
    assert!(guard.check("localhost", 8080, loopback).is_ok(), "an allowed address is allowed by any name");
    assert!(guard.check("127.0.0.1", 8081, loopback).is_err(), "only on the port named");
    assert!(guard.check("127.0.0.2", 8080, "127.0.0.2".parse().unwrap()).is_err());
    assert!(guard.check("intranet.example", 1, private).is_ok(), "a host without a port, on every port");
    assert!(guard.check("INTRANET.example.", 443, private).is_ok());
    assert!(guard.check("other.example", 443, private).is_err());
    assert!(guard.check("[::1]", 9000, "::1".parse().unwrap()).is_ok());
    assert!(guard.check("[::1]", 9001, "::1".parse().unwrap()).is_err());
    assert!(guard.check("nas.local", 5000, private).is_ok());
    assert!(guard.check("nas.local", 5001, private).is_err());
    assert!(guard.check("10.1.2.3", 22, "10.1.2.3".parse().unwrap()).is_ok());
    assert_eq!(guard.allowed.len(), 5, "the unreadable entries allow nothing");
}

#[test]
fn reads_allowlist_entries() {
    let parsed = |entry: &str| Allowed::parse(entry);
    let name = |host: &str, port| Some(Allowed { host: AllowedHost::Name(host.into()), port });
    let address = |host: &str, port| Some(Allowed { host: AllowedHost::Address(host.parse().unwrap()), port });
    assert_eq!(parsed("example.com"), name("example.com", None));
    assert_eq!(parsed(" example.com:8443 "), name("example.com", Some(8443)));
    assert_eq!(parsed("::1"), address("::1", None));
    assert_eq!(parsed("[fd00::1]"), address("fd00::1", None));
    assert_eq!(parsed("[fd00::1]:80"), address("fd00::1", Some(80)));
    assert_eq!(parsed("192.168.1.2:80"), address("192.168.1.2", Some(80)));
    for bad in ["", "host:", "host:99999", "[::1]80", "[::1", "a/b", "http://example.com"] {
        assert_eq!(parsed(bad), None, "{bad:?}");
    }
}
