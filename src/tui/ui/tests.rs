//! Whole screens at fixed sizes, drawn on ratatui's `TestBackend` and pinned with `insta`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use serde_json::json;

use super::{Theme, render};
use crate::tui::app::{App, AppConfig, Disconnect, Event, Hello, Reason, SCOPES};
use crate::tui::wire::{MAIN_SESSION, SessionSummary};

fn config() -> AppConfig {
    AppConfig { url: "http://127.0.0.1:18789".into(), device_id: "ab".repeat(32), id_prefix: "t".into() }
}

fn draw(app: &mut App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    // Two passes, as the runner does: the first measures the transcript for scrolling.
    for _ in 0..2 {
        let mut measure = super::Measure::default();
        terminal.draw(|frame| measure = render(frame, app, &Theme { color: true })).unwrap();
        app.update(Event::Measured { height: measure.height, lines: measure.lines });
    }
    terminal
}

fn connected() -> App {
    let mut app = App::new(config());
    app.update(Event::Connected(Hello {
        server_version: "0.1.0".into(),
        scopes: SCOPES.iter().map(|scope| (*scope).to_owned()).collect(),
    }));
    // Answer the sessions.list call (the first one) with two sessions and the default model.
    app.update(Event::Response {
        call: 1,
        result: Ok(json!({"sessions": [
            {"key": MAIN_SESSION, "displayName": "Main"},
            {"key": "agent:main:tui-1a2b", "displayName": "tui-1a2b"},
        ], "defaults": {"model": "claude-sonnet-4-5"}})),
    });
    app
}

fn typed(app: &mut App, text: &str) {
    for character in text.chars() {
        app.update(Event::Key(KeyEvent::new(KeyCode::Char(character), KeyModifiers::NONE)));
    }
}

fn key(app: &mut App, code: KeyCode) {
    app.update(Event::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

fn chat(app: &mut App, state: &str, text: &str, extra: serde_json::Value) {
    let mut payload = json!({"runId": "r1", "sessionKey": MAIN_SESSION, "state": state,
        "message": {"role": "assistant", "content": [{"type": "text", "text": text}]}});
    if let (Some(payload), Some(extra)) = (payload.as_object_mut(), extra.as_object()) {
        payload.extend(extra.clone());
    }
    app.update(Event::Server { name: "chat".into(), payload });
}

#[test]
fn empty() {
    let mut app = connected();
    insta::assert_snapshot!(draw(&mut app, 80, 24).backend());
}

#[test]
fn streaming() {
    let mut app = connected();
    typed(&mut app, "What is a molt?");
    key(&mut app, KeyCode::Enter);
    chat(
        &mut app,
        "final",
        "Shedding an old shell to grow a new one.",
        json!({"model": "claude-sonnet-4-5",
        "usage": {"inputTokens": 1200, "outputTokens": 80}}),
    );
    typed(&mut app, "And for a lobster?");
    key(&mut app, KeyCode::Enter);
    chat(&mut app, "delta", "A lobster molts about twenty-five times in its first five years, and its new", json!({}));
    typed(&mut app, "thanks");
    insta::assert_snapshot!(draw(&mut app, 100, 30).backend());
}

fn with_requests() -> App {
    let mut app = connected();
    app.update(Event::Server {
        name: "device.pair.requested".into(),
        payload: json!({"requestId": "5f0c9a4e-1b2c", "deviceId": "cd".repeat(32), "displayName": "Pixel 8",
                        "platform": "android", "address": "198.51.100.7"}),
    });
    app.update(Event::Server {
        name: "pairing.code.requested".into(),
        payload: json!({"channel": "telegram", "code": "K7PQ2M", "senderId": "4242", "senderName": "Ada"}),
    });
    app
}

#[test]
fn approvals_pending() {
    let mut app = with_requests();
    insta::assert_snapshot!(draw(&mut app, 100, 30).backend());
}

#[test]
fn approval_confirmation() {
    let mut app = with_requests();
    key(&mut app, KeyCode::BackTab);
    key(&mut app, KeyCode::Char('a'));
    insta::assert_snapshot!(draw(&mut app, 100, 30).backend());
}

#[test]
fn disconnected() {
    let mut app = connected();
    app.update(Event::Disconnected(Disconnect {
        reason: Reason::Unreachable("connection refused".into()),
        retry_in_ms: Some(4_000),
    }));
    insta::assert_snapshot!(draw(&mut app, 80, 24).backend());
}

#[test]
fn error_wrong_token() {
    let mut app = App::new(config());
    app.update(Event::Disconnected(Disconnect {
        reason: Reason::TokenRefused("unauthorized: gateway token mismatch".into()),
        retry_in_ms: Some(30_000),
    }));
    insta::assert_snapshot!(draw(&mut app, 80, 24).backend());
}

#[test]
fn error_reply() {
    let mut app = connected();
    typed(&mut app, "hi");
    key(&mut app, KeyCode::Enter);
    app.update(Event::Server {
        name: "chat".into(),
        payload: json!({"runId": "r1", "sessionKey": MAIN_SESSION, "state": "error",
            "errorMessage": "the model provider rejected the API key (401): set ANTHROPIC_API_KEY", "errorKind": "unknown"}),
    });
    insta::assert_snapshot!(draw(&mut app, 80, 24).backend());
}

#[test]
fn waiting_for_approval() {
    let mut app = App::new(config());
    app.update(Event::WaitingApproval { request_id: "8c1f2d3e-4a5b-6c7d".into() });
    insta::assert_snapshot!(draw(&mut app, 80, 24).backend());
}

#[test]
fn help() {
    let mut app = connected();
    key(&mut app, KeyCode::Char('?'));
    insta::assert_snapshot!(draw(&mut app, 80, 24).backend());
}

#[test]
fn narrow_window_hides_the_sidebar() {
    let mut app = connected();
    typed(&mut app, "first line");
    app.update(Event::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::ALT)));
    typed(&mut app, "second line");
    insta::assert_snapshot!(draw(&mut app, 50, 14).backend());
}

#[test]
fn scrolled_back_shows_how_far() {
    let mut app = connected();
    for turn in 0..8 {
        typed(&mut app, &format!("question {turn}"));
        key(&mut app, KeyCode::Enter);
        chat(&mut app, "final", &format!("answer {turn}"), json!({}));
    }
    draw(&mut app, 80, 24);
    key(&mut app, KeyCode::PageUp);
    insta::assert_snapshot!(draw(&mut app, 80, 24).backend());
}

#[test]
fn no_color_draws_without_colours() {
    let mut app = with_requests();
    let coloured = |color: bool| {
        let mut terminal = Terminal::new(TestBackend::new(100, 30)).unwrap();
        terminal
            .draw(|frame| {
                render(frame, &app, &Theme { color });
            })
            .unwrap();
        terminal.backend().buffer().content().iter().any(|cell| cell.fg != Color::Reset || cell.bg != Color::Reset)
    };
    assert!(coloured(true));
    assert!(!coloured(false), "NO_COLOR: no foreground or background colour anywhere");
    app.update(Event::Resized);
}

#[test]
fn a_long_session_list_scrolls_to_the_current_one() {
    let mut app = connected();
    app.sessions = (0..40)
        .map(|n| SessionSummary { key: format!("agent:main:s{n}"), display_name: format!("s{n}"), total_tokens: 0 })
        .collect();
    for _ in 0..40 {
        app.update(Event::Key(KeyEvent::new(KeyCode::Down, KeyModifiers::ALT)));
    }
    assert_eq!(app.current, "agent:main:s39");
    let screen = draw(&mut app, 80, 24).backend().to_string();
    assert!(screen.contains("› s39"), "{screen}");
    assert!(!screen.contains(" s0 "), "{screen}");
}

#[test]
fn tool_calls() {
    let mut app = connected();
    typed(&mut app, "what is on my list?");
    key(&mut app, KeyCode::Enter);
    let tool = |phase: &str, id: &str, name: &str, extra: serde_json::Value| {
        let mut data = json!({"phase": phase, "toolCallId": id, "name": name});
        if let (Some(data), Some(extra)) = (data.as_object_mut(), extra.as_object()) {
            data.extend(extra.clone());
        }
        Event::Server {
            name: "agent".into(),
            payload: json!({"runId": "r1", "sessionKey": MAIN_SESSION, "seq": 0, "stream": "tool", "ts": 0, "data": data}),
        }
    };
    app.update(tool("start", "c1", "read_file", json!({"args": {"path": "lists/todo.md"}})));
    app.update(tool(
        "start",
        "c2",
        "web_fetch",
        json!({"args": {"url": "https://example.com/a-very-long-path/that-goes-on-and-on/and-on/index.html"}}),
    ));
    app.update(tool("result", "c1", "read_file", json!({"result": "- milk"})));
    app.update(tool("result", "c2", "web_fetch", json!({"result": "refused", "isError": true})));
    chat(&mut app, "delta", "Milk.", json!({}));
    insta::assert_snapshot!(draw(&mut app, 80, 24).backend());
}

fn with_command() -> App {
    let mut app = connected();
    app.update(Event::Server {
        name: "exec.approval.requested".into(),
        payload: json!({"id": "e1", "createdAtMs": 0, "expiresAtMs": 300_000,
            "request": {"command": "git log --oneline -5", "cwd": "projects/molt", "host": "gateway",
                        "sessionKey": MAIN_SESSION, "askedBy": "operator", "timeoutSecs": 30}}),
    });
    app.update(Event::Server {
        name: "device.pair.requested".into(),
        payload: json!({"requestId": "req-1", "displayName": "Pixel 8", "platform": "android", "address": "198.51.100.7"}),
    });
    app
}

#[test]
fn command_waiting() {
    let mut app = with_command();
    app.update(Event::Key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT)));
    insta::assert_snapshot!(draw(&mut app, 100, 30).backend());
}

#[test]
fn command_allow_always_confirmation() {
    let mut app = with_command();
    app.update(Event::Key(KeyEvent::new(KeyCode::BackTab, KeyModifiers::SHIFT)));
    key(&mut app, KeyCode::Char('A'));
    for _ in 0.."--oneline -5".len() {
        key(&mut app, KeyCode::Backspace);
    }
    key(&mut app, KeyCode::Char('*'));
    insta::assert_snapshot!(draw(&mut app, 100, 30).backend());
}
