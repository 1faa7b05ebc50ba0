//! The state machine driven by events alone: no terminal, no socket. This file holds the
//! helpers and the conversation; `approvals.rs` the pairing requests and the link; `exec.rs`
//! the commands waiting for approval.

mod approvals;
mod exec;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::{Value, json};

use super::*;

pub fn config() -> AppConfig {
    AppConfig { url: "http://127.0.0.1:18789".into(), device_id: "ab".repeat(32), id_prefix: "t".into() }
}

pub fn key(code: KeyCode) -> Event {
    Event::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

pub fn with(code: KeyCode, modifiers: KeyModifiers) -> Event {
    Event::Key(KeyEvent::new(code, modifiers))
}

fn type_text(app: &mut App, text: &str) {
    for character in text.chars() {
        assert_eq!(app.update(key(KeyCode::Char(character))), vec![]);
    }
}

pub fn calls(effects: &[Effect]) -> Vec<(&'static str, Value)> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Call { method, params, .. } => Some((*method, params.clone())),
            Effect::Quit => None,
        })
        .collect()
}

pub fn call_id(effects: &[Effect], wanted: &str) -> u64 {
    effects
        .iter()
        .find_map(|effect| match effect {
            Effect::Call { id, method, .. } if *method == wanted => Some(*id),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no `{wanted}` call in {effects:?}"))
}

fn hello(scopes: &[&str]) -> Event {
    Event::Connected(Hello { server_version: "0.1.0".into(), scopes: scopes.iter().map(|s| (*s).to_owned()).collect() })
}

/// A connected app with the history of the main session loaded empty.
pub fn connected() -> App {
    let mut app = App::new(config());
    let effects = app.update(hello(SCOPES));
    let sessions = call_id(&effects, "sessions.list");
    app.update(Event::Response {
        call: sessions,
        result: Ok(json!({"sessions": [{"key": MAIN_SESSION, "displayName": "Main"}], "defaults": {"model": "claude-sonnet-4-5"}})),
    });
    app
}

fn chat(run: &str, state: &str, extra: Value) -> Event {
    let mut payload = json!({"runId": run, "sessionKey": MAIN_SESSION, "state": state});
    if let (Some(payload), Some(extra)) = (payload.as_object_mut(), extra.as_object()) {
        payload.extend(extra.clone());
    }
    Event::Server { name: "chat".into(), payload }
}

fn text_message(text: &str) -> Value {
    json!({"role": "assistant", "content": [{"type": "text", "text": text}]})
}

#[test]
fn on_connect_it_loads_sessions_history_and_approvals() {
    let mut app = App::new(config());
    let methods: Vec<_> = calls(&app.update(hello(SCOPES))).into_iter().map(|(method, _)| method).collect();
    assert_eq!(
        methods,
        [
            "sessions.list",
            "chat.history",
            "health",
            "device.pair.list",
            "pairing.code.list",
            "exec.approval.list",
            "sessions.subscribe"
        ]
    );
    assert_eq!(app.link, Link::Connected);

    let mut reader = App::new(config());
    let methods: Vec<_> = calls(&reader.update(hello(&["operator.read"]))).into_iter().map(|(m, _)| m).collect();
    assert_eq!(
        methods,
        ["sessions.list", "chat.history", "health", "sessions.subscribe"],
        "no pairing calls without the pairing scope"
    );
}

#[test]
fn enter_sends_and_the_reply_streams_then_counts_its_cost() {
    let mut app = connected();
    type_text(&mut app, "hello");
    let effects = app.update(key(KeyCode::Enter));
    assert_eq!(
        calls(&effects),
        [("chat.send", json!({"sessionKey": MAIN_SESSION, "message": "hello", "idempotencyKey": "t-1"}))]
    );
    assert!(app.input.is_empty());
    assert_eq!(app.transcript, [Entry { role: Role::User, text: "hello".into(), note: None }]);
    app.update(Event::Response { call: call_id(&effects, "chat.send"), result: Ok(json!({"runId": "r1"})) });
    app.update(chat("r1", "delta", json!({"message": text_message("You said")})));
    assert_eq!(app.streaming, Some(Streaming { run_id: Some("r1".into()), text: "You said".into() }));
    app.update(chat("r2", "delta", json!({"message": text_message("another run")})));
    assert_eq!(app.streaming.as_ref().map(|s| s.text.as_str()), Some("You said"), "another run is not this reply");
    app.update(chat(
        "r1",
        "final",
        json!({"message": text_message("You said: hello"), "model": "claude-sonnet-4-5",
               "usage": {"inputTokens": 1000, "outputTokens": 100}}),
    ));
    assert_eq!(app.streaming, None);
    let reply = app.transcript.last().unwrap();
    assert_eq!(
        (reply.text.as_str(), reply.note.as_deref()),
        ("You said: hello", Some("claude-sonnet-4-5 · 1100 tokens"))
    );
    assert_eq!(app.usage.total(), 1100);
    assert!((app.cost_usd - (0.003 + 0.0015)).abs() < 1e-12);
}

#[test]
fn esc_aborts_the_streaming_reply() {
    let mut app = connected();
    type_text(&mut app, "long story");
    let effects = app.update(key(KeyCode::Enter));
    app.update(Event::Response { call: call_id(&effects, "chat.send"), result: Ok(json!({"runId": "r9"})) });
    let abort = app.update(key(KeyCode::Esc));
    assert_eq!(calls(&abort), [("chat.abort", json!({"sessionKey": MAIN_SESSION, "runId": "r9"}))]);
    app.update(chat("r9", "aborted", json!({"message": text_message("Once upon")})));
    assert_eq!(app.transcript.last().unwrap().note.as_deref(), Some("aborted"));
    assert_eq!(app.update(key(KeyCode::Esc)), vec![], "nothing left to abort");
}

#[test]
fn a_second_message_waits_for_the_reply() {
    let mut app = connected();
    type_text(&mut app, "one");
    app.update(key(KeyCode::Enter));
    type_text(&mut app, "two");
    assert_eq!(app.update(key(KeyCode::Enter)), vec![]);
    assert_eq!(app.input.text(), "two");
    assert!(app.flash.as_deref().unwrap_or_default().contains("Esc"));
}

#[test]
fn offline_the_message_stays_in_the_editor() {
    let mut app = App::new(config());
    type_text(&mut app, "hi");
    assert_eq!(app.update(key(KeyCode::Enter)), vec![]);
    assert_eq!(app.input.text(), "hi");
    assert!(app.flash.as_deref().unwrap_or_default().starts_with("not connected"));
}

#[test]
fn alt_enter_writes_a_new_line_and_up_recalls_history() {
    let mut app = connected();
    type_text(&mut app, "a");
    app.update(with(KeyCode::Enter, KeyModifiers::ALT));
    type_text(&mut app, "b");
    assert_eq!(app.input.text(), "a\nb");
    let effects = app.update(key(KeyCode::Enter));
    assert_eq!(calls(&effects)[0].1["message"], "a\nb");
    app.update(chat("r1", "final", json!({"message": text_message("ok")})));
    app.update(key(KeyCode::Up));
    assert_eq!(app.input.text(), "a\nb");
}

#[test]
fn question_mark_opens_help_only_when_it_is_not_text() {
    let mut app = connected();
    app.update(key(KeyCode::Char('?')));
    assert!(app.help);
    app.update(key(KeyCode::Char('x')));
    assert!(!app.help, "any key closes the help");
    assert!(app.input.is_empty(), "the closing key is not typed");
    type_text(&mut app, "why?");
    assert_eq!(app.input.text(), "why?");
    assert_eq!(app.update(with(KeyCode::Char('c'), KeyModifiers::CONTROL)), vec![Effect::Quit]);
    assert_eq!(app.update(Event::Terminate), vec![Effect::Quit], "SIGTERM and SIGHUP leave the same way");
}

#[test]
fn new_switch_and_reset_sessions() {
    let mut app = connected();
    let effects = app.update(with(KeyCode::Char('n'), KeyModifiers::CONTROL));
    assert_eq!(app.current, "agent:main:tui-t-1");
    assert_eq!(calls(&effects), [("chat.history", json!({"sessionKey": "agent:main:tui-t-1", "limit": 200}))]);
    assert_eq!(app.visible_sessions()[0].display_name, "tui-t-1", "the new session is listed at once");
    let effects = app.update(with(KeyCode::Down, KeyModifiers::ALT));
    assert_eq!(app.current, MAIN_SESSION);
    assert_eq!(calls(&effects)[0].0, "chat.history");

    app.update(chat("r1", "final", json!({"message": text_message("kept")})));
    app.update(with(KeyCode::Char('r'), KeyModifiers::CONTROL));
    let effects = app.update(key(KeyCode::Char('y')));
    assert_eq!(calls(&effects), [("sessions.reset", json!({"key": MAIN_SESSION}))]);
    app.update(Event::Response { call: call_id(&effects, "sessions.reset"), result: Ok(json!({"ok": true})) });
    assert!(app.transcript.is_empty());
}

#[test]
fn history_fills_the_transcript_and_the_session_cost() {
    let mut app = App::new(config());
    let effects = app.update(hello(SCOPES));
    let history = call_id(&effects, "chat.history");
    app.update(Event::Response {
        call: history,
        result: Ok(json!({"messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "hello"}], "model": "gpt-4o-mini",
             "stopReason": "end_turn", "usage": {"inputTokens": 1000000, "outputTokens": 0}},
            {"role": "assistant", "content": [{"type": "text", "text": "local"}], "model": "llama3.2",
             "stopReason": "end_turn", "usage": {"inputTokens": 5, "outputTokens": 5}},
        ]})),
    });
    assert_eq!(app.transcript.len(), 3);
    assert_eq!(app.usage.total(), 1_000_010);
    assert!((app.cost_usd - 0.15).abs() < 1e-9);
    assert!(app.unpriced);
}

#[test]
fn a_lost_connection_keeps_the_partial_reply_and_drops_answers_in_flight() {
    let mut app = connected();
    type_text(&mut app, "hi");
    let effects = app.update(key(KeyCode::Enter));
    app.update(chat("r1", "delta", json!({"message": text_message("par")})));
    app.update(Event::Disconnected(Disconnect { reason: Reason::Closed("gone".into()), retry_in_ms: Some(500) }));
    assert_eq!(app.transcript.last().unwrap().note.as_deref(), Some("interrupted: connection lost"));
    app.update(Event::Response { call: call_id(&effects, "chat.send"), result: Err(ServerError::local("late")) });
    assert_eq!(app.transcript.last().unwrap().role, Role::Assistant, "a late answer changes nothing");
}

#[test]
fn a_refused_send_shows_the_error() {
    let mut app = connected();
    type_text(&mut app, "hi");
    let effects = app.update(key(KeyCode::Enter));
    let error = ServerError { message: "missing scope: operator.write".into(), ..ServerError::local("") };
    app.update(Event::Response { call: call_id(&effects, "chat.send"), result: Err(error) });
    assert_eq!(app.streaming, None);
    assert_eq!(app.transcript.last().unwrap().role, Role::Error);
}

#[test]
fn scrolling_stays_inside_the_transcript() {
    let mut app = connected();
    app.update(Event::Measured { height: 10, lines: 25 });
    app.update(key(KeyCode::PageUp));
    assert_eq!(app.scroll, 9);
    app.update(key(KeyCode::PageUp));
    assert_eq!(app.scroll, 15, "at most the lines above the window");
    app.update(Event::Wheel { up: false });
    assert_eq!(app.scroll, 12);
    app.update(key(KeyCode::PageDown));
    app.update(key(KeyCode::PageDown));
    assert_eq!(app.scroll, 0);
}

#[test]
fn nonsense_from_the_server_changes_nothing() {
    let mut app = connected();
    let before = format!("{app:?}");
    for (name, payload) in [
        ("chat", json!(null)),
        ("chat", json!({"runId": 1, "state": "delta"})),
        ("device.pair.requested", json!([1, 2])),
        ("pairing.code.requested", json!({"channel": 5})),
        ("unknown.event", json!({})),
    ] {
        assert_eq!(app.update(Event::Server { name: name.into(), payload }), vec![]);
    }
    assert_eq!(format!("{app:?}"), before);
    assert_eq!(app.update(Event::Response { call: 999, result: Ok(json!(1)) }), vec![]);
}

#[test]
fn reconnecting_keeps_the_last_failure_on_screen() {
    let mut app = App::new(config());
    let down = Disconnect { reason: Reason::Unreachable("connection refused".into()), retry_in_ms: Some(500) };
    app.update(Event::Disconnected(down.clone()));
    app.update(Event::Connecting { attempt: 2 });
    app.update(Event::Connecting { attempt: 3 });
    assert_eq!(app.link, Link::Connecting { attempt: 3, previous: Some(down) });
    app.update(hello(SCOPES));
    app.update(Event::Disconnected(Disconnect { reason: Reason::Closed("bye".into()), retry_in_ms: Some(1) }));
    app.update(Event::Connecting { attempt: 1 });
    assert!(matches!(&app.link, Link::Connecting { previous: Some(Disconnect { reason: Reason::Closed(_), .. }), .. }));
}

#[test]
fn scrolled_back_the_view_stays_put_as_the_reply_grows() {
    let mut app = connected();
    app.update(Event::Measured { height: 10, lines: 25 });
    app.update(key(KeyCode::PageUp));
    app.update(Event::Measured { height: 10, lines: 28 });
    assert_eq!(app.scroll, 12);
    app.update(key(KeyCode::PageDown));
    app.update(key(KeyCode::PageDown));
    app.update(Event::Measured { height: 10, lines: 30 });
    assert_eq!(app.scroll, 0, "at the bottom it follows the reply");
}

#[test]
fn deltas_with_new_text_are_appended_and_a_replace_starts_over() {
    let mut app = connected();
    type_text(&mut app, "hi");
    app.update(key(KeyCode::Enter));
    app.update(chat("r1", "delta", json!({"deltaText": "Hel"})));
    app.update(chat("r1", "delta", json!({"deltaText": "lo"})));
    assert_eq!(app.streaming.as_ref().map(|s| s.text.as_str()), Some("Hello"));
    app.update(chat("r1", "delta", json!({"deltaText": "Hi", "replace": true})));
    assert_eq!(app.streaming.as_ref().map(|s| s.text.as_str()), Some("Hi"));
    app.update(chat("r1", "final", json!({"message": text_message("Hi there")})));
    assert_eq!(app.transcript.last().map(|entry| entry.text.as_str()), Some("Hi there"));
}

#[test]
fn the_status_bar_learns_of_a_degraded_bucket_from_health_on_connect_and_every_tick() {
    let mut app = App::new(config());
    let effects = app.update(hello(SCOPES));
    let health = call_id(&effects, "health");
    let degraded = json!({"ok": true, "replication": {"phase": "active", "degraded": "replication is 45 s behind: changes wait in the local store"}});
    app.update(Event::Response { call: health, result: Ok(degraded) });
    assert_eq!(app.degraded.as_deref(), Some("replication is 45 s behind: changes wait in the local store"));
    let effects = app.update(Event::Server { name: "tick".into(), payload: json!({"ts": 1}) });
    let again = call_id(&effects, "health");
    app.update(Event::Response {
        call: again,
        result: Ok(json!({"replication": {"phase": "active", "degraded": null}})),
    });
    assert_eq!(app.degraded, None, "caught up");
}

#[test]
fn a_shutdown_with_a_reason_says_it() {
    let mut app = connected();
    app.update(Event::Server {
        name: "shutdown".into(),
        payload: json!({"reason": "this gateway no longer owns its bucket"}),
    });
    assert_eq!(app.flash.as_deref(), Some("the gateway stopped: this gateway no longer owns its bucket"));
}
