//! Commands waiting for approval: listed first, answered with `a` (once), `A` (always, with an
//! editable allowlist entry) or `r` (deny) after a confirmation, and gone once resolved.

use crossterm::event::{KeyCode, KeyModifiers};
use serde_json::{Value, json};

use super::super::*;
use super::{call_id, calls, connected, key, with};

fn requested(id: &str, command: &str) -> Event {
    Event::Server {
        name: "exec.approval.requested".into(),
        payload: json!({"id": id, "createdAtMs": 1_000, "expiresAtMs": 301_000,
            "request": {"command": command, "cwd": null, "host": "gateway", "agentId": "main",
                        "sessionKey": "agent:main:main", "askedBy": "operator", "timeoutSecs": 30}}),
    }
}

fn to_approvals(app: &mut App) {
    app.update(with(KeyCode::BackTab, KeyModifiers::SHIFT));
    assert_eq!(app.focus, Focus::Approvals);
}

fn resolve_params(effects: &[Effect]) -> Value {
    let calls = calls(effects);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0].0, "exec.approval.resolve");
    calls[0].1.clone()
}

#[test]
fn a_command_is_allowed_once_after_confirmation_and_leaves_when_resolved() {
    let mut app = connected();
    app.update(requested("e1", "git status"));
    app.update(Event::Server {
        name: "device.pair.requested".into(),
        payload: json!({"requestId": "req-1", "clientId": "phone"}),
    });
    assert_eq!(app.pending_count(), 2);
    to_approvals(&mut app);
    assert_eq!(app.update(key(KeyCode::Char('a'))), vec![]);
    assert!(matches!(&app.confirm, Some(Confirm::Exec { decision: ExecDecision::AllowOnce, .. })));
    let effects = app.update(key(KeyCode::Char('y')));
    assert_eq!(resolve_params(&effects), json!({"id": "e1", "decision": "allow-once"}));
    app.update(Event::Response { call: call_id(&effects, "exec.approval.resolve"), result: Ok(json!({"ok": true})) });
    assert_eq!(app.flash.as_deref(), Some("allowed once: git status"));
    assert_eq!(app.pending_count(), 1, "the device still waits");
    app.update(requested("e2", "make test"));
    app.update(Event::Server {
        name: "exec.approval.resolved".into(),
        payload: json!({"id": "e2", "decision": "deny", "reason": "expired", "ts": 2}),
    });
    assert!(app.execs.is_empty());
    // The device is selected now: `a` asks about it.
    app.update(key(KeyCode::Char('a')));
    assert!(matches!(&app.confirm, Some(Confirm::Device { approve: true, .. })));
}

#[test]
fn allow_always_sends_the_edited_prefix_and_deny_sends_deny() {
    let mut app = connected();
    app.update(requested("e1", "git log --oneline -5"));
    to_approvals(&mut app);
    app.update(key(KeyCode::Char('A')));
    // Shorten the entry to a prefix: `git log *`.
    for _ in 0.."--oneline -5".len() {
        app.update(key(KeyCode::Backspace));
    }
    app.update(key(KeyCode::Char('*')));
    // `y` and `n` are typed into the entry here; only Enter sends.
    assert!(matches!(&app.confirm, Some(Confirm::Exec { pattern, .. }) if pattern == "git log *"));
    let effects = app.update(key(KeyCode::Enter));
    assert_eq!(resolve_params(&effects), json!({"id": "e1", "decision": "allow-always", "pattern": "git log *"}));
    let answer = Ok(json!({"ok": true, "pattern": "git log *"}));
    app.update(Event::Response { call: call_id(&effects, "exec.approval.resolve"), result: answer });
    assert_eq!(app.flash.as_deref(), Some("allowed always: git log --oneline -5"));

    app.update(requested("e2", "rm -rf build"));
    app.update(key(KeyCode::Char('r')));
    let effects = app.update(key(KeyCode::Enter));
    assert_eq!(resolve_params(&effects), json!({"id": "e2", "decision": "deny"}));
}

#[test]
fn esc_at_the_confirmation_sends_nothing_and_an_expired_answer_leaves_the_list() {
    let mut app = connected();
    app.update(requested("e1", "ls"));
    to_approvals(&mut app);
    app.update(key(KeyCode::Char('A')));
    assert_eq!(app.update(key(KeyCode::Esc)), vec![]);
    assert_eq!(app.confirm, None);
    app.update(key(KeyCode::Char('a')));
    let effects = app.update(key(KeyCode::Char('y')));
    let gone = ServerError { detail: "NOT_FOUND".into(), ..ServerError::local("unknown or expired approval id") };
    app.update(Event::Response { call: call_id(&effects, "exec.approval.resolve"), result: Err(gone) });
    assert!(app.execs.is_empty());
    assert_eq!(app.flash.as_deref(), Some("ls: unknown or expired approval id"));
}

#[test]
fn the_list_on_connect_and_the_clock_keep_it_current() {
    let mut app = App::new(super::config());
    let effects = app.update(Event::Connected(Hello {
        server_version: "0.1.0".into(),
        scopes: SCOPES.iter().map(|scope| (*scope).to_owned()).collect(),
    }));
    let list = call_id(&effects, "exec.approval.list");
    let pending = json!({"pending": [{"id": "e1", "createdAtMs": 0, "expiresAtMs": 5_000,
        "request": {"command": "uptime", "host": "gateway"}}]});
    app.update(Event::Response { call: list, result: Ok(pending) });
    assert_eq!(app.execs.len(), 1);
    app.update(Event::Tick { now_ms: 5_000 });
    assert!(app.execs.is_empty(), "expired by the clock");

    let mut reader = App::new(super::config());
    let effects =
        reader.update(Event::Connected(Hello { server_version: "0.1.0".into(), scopes: vec!["operator.read".into()] }));
    assert!(calls(&effects).iter().all(|(method, _)| *method != "exec.approval.list"));
    reader.update(requested("e1", "uptime"));
    reader.update(with(KeyCode::BackTab, KeyModifiers::SHIFT));
    reader.update(key(KeyCode::Char('a')));
    assert_eq!(reader.confirm, None, "no approvals scope");
}
