//! Pairing tests on a real store: device requests, codes, policies, revocation.

use super::*;
use crate::core::pairing::{DmDecision, DmPolicy};
use crate::core::settings::ChannelSeed;

fn pairing(dir: &std::path::Path) -> (Pairing, EventBus) {
    let events = EventBus::default();
    (Pairing::new(Store::open(dir).unwrap(), events.clone(), Duration::from_secs(3600)), events)
}

fn actor() -> Actor {
    Actor { name: "local token".into(), address: Some("127.0.0.1".into()), grants: crate::core::scopes::Grants::all() }
}

fn request(device: &str, scopes: &[&str]) -> PendingDevice {
    PendingDevice {
        request_id: String::new(),
        device_id: device.into(),
        public_key: format!("key-{device}"),
        display_name: Some("laptop".into()),
        client_id: "molt-web".into(),
        client_mode: "webchat".into(),
        platform: "linux".into(),
        device_family: "browser".into(),
        role: "operator".into(),
        scopes: scopes.iter().map(|s| s.to_string()).collect(),
        address: "203.0.113.5".into(),
        created_at_ms: 0,
        last_attempt_at_ms: 0,
        expires_at_ms: 0,
    }
}

#[tokio::test]
async fn a_repeated_request_keeps_its_id_and_a_changed_one_supersedes_it() {
    let dir = tempfile::tempdir().unwrap();
    let (pairing, events) = pairing(dir.path());
    let mut bus = events.subscribe(crate::core::scopes::Scope::Pairing);
    let (first, mut first_waiter) = pairing.request(request("d1", &["operator.read"]));
    let (again, _) = pairing.request(request("d1", &["operator.read"]));
    assert_eq!(first.request_id, again.request_id);
    assert_eq!(bus.try_recv().unwrap().event, "device.pair.requested");
    assert!(bus.try_recv().is_err(), "a refresh is not a new request");
    let (changed, _) = pairing.request(request("d1", &["operator.read", "operator.write"]));
    assert_ne!(changed.request_id, first.request_id);
    first_waiter.changed().await.unwrap();
    assert_eq!(*first_waiter.borrow(), Some(Resolution::Gone));
    assert_eq!(pairing.pending().len(), 1);
    assert!(matches!(pairing.approve(&first.request_id, &actor()).await, Err(PairingError::UnknownRequest(_))));
}

#[tokio::test]
async fn approval_stores_the_device_and_hands_the_waiter_a_working_token() {
    let dir = tempfile::tempdir().unwrap();
    let (pairing, _) = pairing(dir.path());
    let (pending, mut waiter) = pairing.request(request("d2", &["operator.read"]));
    let device = pairing.approve(&pending.request_id, &actor()).await.unwrap();
    assert_eq!(device.approved_via, "operator");
    waiter.changed().await.unwrap();
    let Some(Resolution::Approved { token, .. }) = waiter.borrow().clone() else { panic!("approved") };
    let grant = pairing.store().check_device_token(token.expose()).await.unwrap().unwrap();
    assert_eq!(grant.device_id, "d2");
    assert!(pairing.pending().is_empty());
    let audit = pairing.store().audit_log(10).await.unwrap();
    assert_eq!(
        (audit[0].actor.as_str(), audit[0].action.as_str(), audit[0].target.as_str()),
        ("local token", "device.approve", "d2")
    );
}

#[tokio::test]
async fn revoking_closes_open_connections_and_kills_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let (pairing, _) = pairing(dir.path());
    let (pending, waiter) = pairing.request(request("d3", &["operator.read"]));
    pairing.approve(&pending.request_id, &actor()).await.unwrap();
    let Some(Resolution::Approved { token, .. }) = waiter.borrow().clone() else { panic!("approved") };
    let connection = pairing.register("d3");
    assert!(pairing.is_connected("d3"));
    assert_eq!(pairing.revoke("d3", &actor()).await.unwrap(), 1);
    assert!(connection.revoked.is_cancelled());
    assert_eq!(pairing.store().check_device_token(token.expose()).await.unwrap(), None);
    assert!(matches!(pairing.revoke("d3", &actor()).await, Err(PairingError::UnknownDevice(_))));
    assert!(matches!(pairing.reissue("d3").await, Err(PairingError::UnknownDevice(_))));
}

#[tokio::test]
async fn a_revocation_during_a_handshake_is_never_missed() {
    let dir = tempfile::tempdir().unwrap();
    let (pairing, _) = pairing(dir.path());
    let (pending, waiter) = pairing.request(request("d5", &["operator.read"]));
    pairing.approve(&pending.request_id, &actor()).await.unwrap();
    let Some(Resolution::Approved { token, .. }) = waiter.borrow().clone() else { panic!("approved") };
    // The handshake looked the token and the device up; then an operator revoked them, before
    // the connection registered. Registering sees it.
    pairing.revoke_tokens("d5", &actor()).await.unwrap();
    assert!(pairing.register_checked("d5", Some(token.expose())).await.is_none(), "its device token is gone");
    assert!(pairing.register_checked("d5", None).await.is_none(), "signed in with the gateway token: no token left");
    assert!(!pairing.is_connected("d5"), "a refused registration leaves nothing behind");
    // A revocation after the registration cancels it.
    let (fresh, _) = pairing.reissue("d5").await.unwrap();
    let connection = pairing.register_checked("d5", Some(fresh.expose())).await.expect("valid");
    pairing.revoke_tokens("d5", &actor()).await.unwrap();
    assert!(connection.revoked.is_cancelled());
}

#[tokio::test]
async fn rotation_replaces_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let (pairing, _) = pairing(dir.path());
    let (pending, waiter) = pairing.request(request("d4", &["operator.read"]));
    pairing.approve(&pending.request_id, &actor()).await.unwrap();
    let Some(Resolution::Approved { token: old, .. }) = waiter.borrow().clone() else { panic!("approved") };
    let connection = pairing.register("d4");
    let (new, expires) = pairing.rotate("d4", &actor()).await.unwrap();
    assert!(connection.revoked.is_cancelled(), "the old token's connections close");
    assert!(expires > now_ms());
    assert_eq!(pairing.store().check_device_token(old.expose()).await.unwrap(), None);
    assert!(pairing.store().check_device_token(new.expose()).await.unwrap().is_some());
}

#[tokio::test]
async fn codes_cap_at_three_per_channel_and_approval_allowlists() {
    let dir = tempfile::tempdir().unwrap();
    let (pairing, _) = pairing(dir.path());
    let mut codes = Vec::new();
    for sender in ["u1", "u2", "u3"] {
        let DmDecision::Code(code) = pairing.dm_decision("telegram", sender, Some("Ada")).await.unwrap() else {
            panic!("code")
        };
        codes.push(code);
    }
    assert_eq!(
        pairing.dm_decision("telegram", "u1", None).await.unwrap(),
        DmDecision::Code(codes[0].clone()),
        "same sender, same code"
    );
    assert_eq!(pairing.dm_decision("telegram", "u4", None).await.unwrap(), DmDecision::TooManyPending);
    // Past the hold time, the oldest pending code gives its place: three strangers cannot keep
    // a channel's pairing blocked for a code's whole hour.
    let eleven_minutes_ago = crate::core::time::now_ms() - 11 * 60 * 1000;
    pairing
        .store()
        .call(move |c| {
            Ok(c.execute("UPDATE pairing_codes SET created_ms = ?1 WHERE sender_id = 'u1'", [eleven_minutes_ago])?)
        })
        .await
        .unwrap();
    let DmDecision::Code(fourth) = pairing.dm_decision("telegram", "u4", None).await.unwrap() else {
        panic!("a code for the fourth sender once the oldest is past its hold")
    };
    assert!(!codes.contains(&fourth));
    let pending: Vec<String> =
        pairing.store().pairing_codes().await.unwrap().into_iter().map(|code| code.sender_id).collect();
    assert!(!pending.contains(&"u1".to_owned()) && pending.contains(&"u4".to_owned()), "{pending:?}");
    assert_eq!(pairing.dm_decision("telegram", "u5", None).await.unwrap(), DmDecision::TooManyPending);
    codes.remove(0);
    codes.insert(0, fourth);
    assert!(
        matches!(pairing.dm_decision("discord", "u4", None).await.unwrap(), DmDecision::Code(_)),
        "the cap is per channel"
    );
    let approved = pairing.resolve_code("telegram", &codes[1].to_lowercase(), true, &actor()).await.unwrap();
    assert_eq!(approved.sender_id, "u2");
    assert_eq!(pairing.dm_decision("telegram", "u2", None).await.unwrap(), DmDecision::Allow);
    assert!(matches!(
        pairing.resolve_code("telegram", &codes[1], true, &actor()).await,
        Err(PairingError::UnknownCode { .. })
    ));
    pairing.resolve_code("telegram", &codes[2], false, &actor()).await.unwrap();
    assert!(
        matches!(pairing.dm_decision("telegram", "u4", None).await.unwrap(), DmDecision::Code(_)),
        "room again after answers"
    );
    assert!(matches!(
        pairing.resolve_code("matrix", "ABCD2345", true, &actor()).await,
        Err(PairingError::UnknownChannel(_))
    ));
}

#[tokio::test]
async fn expired_codes_cannot_be_approved_and_free_their_place() {
    let dir = tempfile::tempdir().unwrap();
    let (pairing, _) = pairing(dir.path());
    let DmDecision::Code(code) = pairing.dm_decision("slack", "U1", None).await.unwrap() else { panic!("code") };
    pairing.store().call(|c| Ok(c.execute("UPDATE pairing_codes SET expires_ms = 1", [])?)).await.unwrap();
    assert!(pairing.codes().await.unwrap().is_empty());
    assert!(matches!(
        pairing.resolve_code("slack", &code, true, &actor()).await,
        Err(PairingError::UnknownCode { .. })
    ));
    let DmDecision::Code(fresh) = pairing.dm_decision("slack", "U1", None).await.unwrap() else { panic!("code") };
    assert_ne!(fresh, code);
}

#[tokio::test]
async fn policies_follow_their_rules_and_seeds_never_overwrite_the_operator() {
    let dir = tempfile::tempdir().unwrap();
    let (pairing, _) = pairing(dir.path());
    let seeds = vec![ChannelSeed {
        channel: "telegram",
        policy: Some(DmPolicy::Allowlist),
        allow_from: Some(vec!["42".into()]),
    }];
    pairing.seed(&seeds).await.unwrap();
    assert_eq!(pairing.dm_decision("telegram", "42", None).await.unwrap(), DmDecision::Allow);
    assert_eq!(pairing.dm_decision("telegram", "7", None).await.unwrap(), DmDecision::Ignore);
    pairing.set_policy("telegram", Some(DmPolicy::Open), Some(vec!["42".into(), "43".into()]), &actor()).await.unwrap();
    let other = vec![ChannelSeed {
        channel: "telegram",
        policy: Some(DmPolicy::Disabled),
        allow_from: Some(vec!["99".into()]),
    }];
    pairing.seed(&other).await.unwrap();
    let view = pairing.policy_view("telegram").await.unwrap();
    assert_eq!(view, PolicyView { dm_policy: "open".into(), allow_from: vec!["42".into(), "43".into()] });
    pairing.set_policy("telegram", Some(DmPolicy::Disabled), None, &actor()).await.unwrap();
    assert_eq!(pairing.dm_decision("telegram", "42", None).await.unwrap(), DmDecision::Ignore);
    assert_eq!(pairing.policy("discord").await.unwrap(), DmPolicy::Pairing, "the default");
}
