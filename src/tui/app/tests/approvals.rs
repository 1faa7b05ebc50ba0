//! Pairing requests (devices and codes) answered with a confirmation, their expiry, and the
//! states of the link to the gateway.

use crossterm::event::{KeyCode, KeyModifiers};
use serde_json::json;

use super::super::*;
use super::{call_id, calls, config, connected, key, with};

fn device_requested(app: &mut App) {
    app.update(Event::Server {
        name: "device.pair.requested".into(),
        payload: json!({"requestId": "req-1", "deviceId": "cd".repeat(32), "clientId": "molt-test",
                        "platform": "linux", "address": "198.51.100.7"}),
    });
}

#[test]
fn a_pairing_request_is_approved_after_confirmation() {
    let mut app = connected();
    device_requested(&mut app);
    assert_eq!(app.pending_count(), 1);
    app.update(key(KeyCode::Tab));
    app.update(key(KeyCode::Tab));
    assert_eq!(app.focus, Focus::Approvals);
    assert_eq!(app.update(key(KeyCode::Char('a'))), vec![]);
    assert!(matches!(&app.confirm, Some(Confirm::Device { approve: true, .. })));
    let effects = app.update(key(KeyCode::Char('y')));
    assert_eq!(calls(&effects), [("device.pair.approve", json!({"requestId": "req-1"}))]);
    app.update(Event::Response { call: call_id(&effects, "device.pair.approve"), result: Ok(json!({"ok": true})) });
    assert_eq!(app.flash.as_deref(), Some("approved molt-test"));
    app.update(Event::Server {
        name: "device.pair.resolved".into(),
        payload: json!({"requestId": "req-1", "decision": "approved"}),
    });
    assert_eq!(app.pending_count(), 0);
}

#[test]
fn no_at_the_confirmation_sends_nothing() {
    let mut app = connected();
    device_requested(&mut app);
    app.update(with(KeyCode::BackTab, KeyModifiers::SHIFT));
    app.update(key(KeyCode::Char('r')));
    assert!(matches!(&app.confirm, Some(Confirm::Device { approve: false, .. })));
    assert_eq!(app.update(key(KeyCode::Char('n'))), vec![]);
    assert_eq!(app.confirm, None);
    assert_eq!(app.pending_count(), 1);
}

#[test]
fn a_pairing_code_is_rejected_with_its_channel() {
    let mut app = connected();
    app.update(Event::Server {
        name: "pairing.code.requested".into(),
        payload: json!({"channel": "telegram", "code": "K7PQ2M", "senderId": "42", "senderName": "Ada"}),
    });
    app.update(with(KeyCode::BackTab, KeyModifiers::SHIFT));
    app.update(key(KeyCode::Char('r')));
    let effects = app.update(key(KeyCode::Enter));
    assert_eq!(calls(&effects), [("pairing.code.reject", json!({"channel": "telegram", "code": "K7PQ2M"}))]);
    app.update(Event::Server {
        name: "pairing.code.resolved".into(),
        payload: json!({"channel": "telegram", "code": "k7pq2m", "decision": "rejected"}),
    });
    assert_eq!(app.pending_count(), 0);
}

#[test]
fn waiting_and_refusals_are_link_states() {
    let mut app = App::new(config());
    app.update(Event::WaitingApproval { request_id: "8c1f2d3e-0000".into() });
    assert_eq!(app.link, Link::Waiting { request_id: "8c1f2d3e-0000".into() });
    app.update(Event::Disconnected(Disconnect { reason: Reason::PairingRejected, retry_in_ms: None }));
    assert!(!app.is_connected());
    device_requested(&mut app);
    app.update(with(KeyCode::BackTab, KeyModifiers::SHIFT));
    app.update(key(KeyCode::Char('a')));
    assert_eq!(app.confirm, None, "no pairing scope before a hello");
}

#[test]
fn the_clock_expires_requests_and_counts_down_to_the_retry() {
    let mut app = connected();
    app.update(Event::Server {
        name: "device.pair.requested".into(),
        payload: json!({"requestId": "q1", "clientId": "phone", "expiresAtMs": 5_000}),
    });
    app.update(Event::Server {
        name: "pairing.code.requested".into(),
        payload: json!({"channel": "slack", "code": "AB12CD34", "senderId": "U1", "expiresAtMs": 9_000}),
    });
    app.update(Event::Tick { now_ms: 4_999 });
    assert_eq!(app.pending_count(), 2);
    app.update(Event::Tick { now_ms: 5_000 });
    assert_eq!((app.devices.len(), app.codes.len()), (0, 1));

    let down = Disconnect { reason: Reason::Unreachable("refused".into()), retry_in_ms: Some(4_000) };
    app.update(Event::Disconnected(down.clone()));
    app.update(Event::Tick { now_ms: 6_500 });
    assert_eq!(app.retry_left_ms(&down), Some(2_500));
    app.update(Event::Tick { now_ms: 60_000 });
    assert_eq!(app.retry_left_ms(&down), Some(0));
}

#[test]
fn a_request_that_is_gone_leaves_the_list_when_answered() {
    let mut app = connected();
    device_requested(&mut app);
    app.update(with(KeyCode::BackTab, KeyModifiers::SHIFT));
    app.update(key(KeyCode::Char('a')));
    let effects = app.update(key(KeyCode::Char('y')));
    let gone = ServerError { detail: "NOT_FOUND".into(), ..ServerError::local("no pending request `req-1`") };
    app.update(Event::Response { call: call_id(&effects, "device.pair.approve"), result: Err(gone) });
    assert_eq!(app.pending_count(), 0);
    assert_eq!(app.flash.as_deref(), Some("molt-test: no pending request `req-1`"));
}
