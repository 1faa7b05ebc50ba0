//! The protocol's types against frames recorded between OpenClaw 2026.9.6's own clients and its
//! gateway (`tests/fixtures/openclaw-frames.json`, a copy of the shared fixture): every request
//! OpenClaw's clients sent parses, and what molt answers has OpenClaw's field names and types.

use serde_json::Value;

use super::chat::Usage;
use super::connect;
use super::events::{Challenge, Tick};
use super::hello::{
    Features, Health, HelloAuth, HelloOk, Policy, ProviderState, Readiness, ReplicationHealth, ReplicationPhase,
    ServerInfo, SessionDefaults, Snapshot,
};
use super::methods::{Call, Method};
use super::sessions::SessionsList;
use crate::core::frames::Request;

fn frames() -> Vec<(String, Value)> {
    let fixture: Value = serde_json::from_str(include_str!("../../../tests/fixtures/openclaw-frames.json")).unwrap();
    let mut frames = Vec::new();
    for session in fixture["sessions"].as_array().unwrap() {
        for frame in session["frames"].as_array().unwrap() {
            frames.push((frame["dir"].as_str().unwrap_or_default().to_owned(), frame["frame"].clone()));
        }
    }
    frames
}

fn sent(direction: &str) -> impl Iterator<Item = Value> {
    frames().into_iter().filter(move |(dir, _)| dir == direction).map(|(_, frame)| frame)
}

#[test]
fn every_request_openclaw_sent_parses_as_openclaw_answered_it() {
    let fixture: Value = serde_json::from_str(include_str!("../../../tests/fixtures/openclaw-frames.json")).unwrap();
    let (mut accepted, mut refused) = (0, 0);
    for session in fixture["sessions"].as_array().unwrap() {
        let frames: Vec<&Value> = session["frames"].as_array().unwrap().iter().map(|frame| &frame["frame"]).collect();
        for frame in frames.iter().filter(|frame| frame["type"] == "req") {
            let request = Request::parse(&frame.to_string()).unwrap();
            if request.method == "connect" {
                assert!(connect::parse(&request.params).unwrap().max_protocol >= 3, "{frame}");
                continue;
            }
            let Some(method) = Method::parse(&request.method) else { continue };
            let Some(answer) = frames.iter().find(|answer| answer["type"] == "res" && answer["id"] == frame["id"])
            else {
                continue;
            };
            match (Call::parse(method, &request.params), answer["ok"].as_bool()) {
                (Ok(_), Some(true)) => accepted += 1,
                (Err(error), Some(false)) if answer["error"]["code"] == "INVALID_REQUEST" => {
                    assert_eq!(error.message, answer["error"]["message"].as_str().unwrap_or_default(), "{frame}");
                    refused += 1;
                }
                // Refused for another reason (a missing scope): nothing about the params.
                (_, Some(false)) => {}
                (parsed, _) => panic!("{frame}: molt {parsed:?}, OpenClaw {answer}"),
            }
        }
    }
    assert!(accepted >= 4 && refused >= 1, "accepted {accepted}, refused {refused}");
}

#[test]
fn recorded_events_and_results_read_as_molts_types() {
    let events: Vec<Value> = sent("s2c").filter(|frame| frame["type"] == "event").collect();
    for event in &events {
        match event["event"].as_str() {
            Some("connect.challenge") => {
                serde_json::from_value::<Challenge>(event["payload"].clone()).unwrap();
            }
            Some("tick") => {
                serde_json::from_value::<Tick>(event["payload"].clone()).unwrap();
            }
            _ => {}
        }
    }
    assert!(events.iter().any(|event| event["event"] == "tick"));
    // molt chat reads a session list with these types, from molt or from OpenClaw's gateway.
    let lists: Vec<Value> = sent("s2c")
        .filter(|frame| frame["type"] == "res" && frame["payload"]["sessions"].is_array())
        .map(|frame| frame["payload"].clone())
        .collect();
    assert!(!lists.is_empty());
    for list in lists {
        serde_json::from_value::<SessionsList>(list).unwrap();
    }
}

/// Paths of `value` with the JSON type found there, objects descended.
fn paths(value: &Value, prefix: &str, out: &mut Vec<(String, &'static str)>) {
    let kind = match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    out.push((prefix.to_owned(), kind));
    if let Value::Object(object) = value {
        for (key, inner) in object {
            paths(inner, &format!("{prefix}/{key}"), out);
        }
    }
}

fn molt_hello() -> HelloOk {
    HelloOk {
        kind: "hello-ok".into(),
        protocol: 4,
        server: ServerInfo { version: "0.1.0".into(), conn_id: "c".into(), boot_id: "b".into() },
        features: Features { methods: vec!["health".into()], events: vec!["tick".into()] },
        snapshot: Snapshot {
            health: Health {
                ok: true,
                ts: 1,
                store: Readiness::Ready,
                provider: ProviderState { configured: false, name: None, model: None, fallbacks: None, hint: None },
                channels: serde_json::Map::new(),
                uptime_ms: 1,
                replication: ReplicationHealth { phase: ReplicationPhase::Off, degraded: None },
            },
            uptime_ms: 1,
            session_defaults: SessionDefaults {
                default_agent_id: "main".into(),
                main_key: "main".into(),
                main_session_key: "agent:main:main".into(),
            },
        },
        auth: HelloAuth {
            method: "token".into(),
            role: "operator".into(),
            scopes: vec!["operator.read".into()],
            device_token: None,
            device_token_expires_at_ms: None,
        },
        policy: Policy { max_payload: 1, max_buffered_bytes: 1, tick_interval_ms: 30_000 },
        protocol_version: 4,
    }
}

#[test]
fn hello_ok_has_openclaws_field_names_and_types() {
    let recorded = sent("s2c")
        .find(|frame| frame["type"] == "res" && frame["payload"]["type"] == "hello-ok")
        .map(|frame| frame["payload"].clone())
        .unwrap();
    let mut theirs = Vec::new();
    paths(&recorded, "", &mut theirs);
    let mut ours = Vec::new();
    paths(&serde_json::to_value(molt_hello()).unwrap(), "", &mut ours);
    for needed in [
        "/type",
        "/protocol",
        "/server/version",
        "/server/connId",
        "/features/methods",
        "/features/events",
        "/snapshot/health/ok",
        "/snapshot/uptimeMs",
        "/snapshot/sessionDefaults/mainSessionKey",
        "/auth/method",
        "/auth/role",
        "/auth/scopes",
        "/policy/maxPayload",
        "/policy/maxBufferedBytes",
        "/policy/tickIntervalMs",
    ] {
        let find = |all: &[(String, &'static str)]| all.iter().find(|(path, _)| path == needed).map(|(_, kind)| *kind);
        assert!(find(&theirs).is_some(), "OpenClaw sends {needed}");
        assert_eq!(find(&ours), find(&theirs), "molt sends {needed} with OpenClaw's type");
    }
    // Every field both send has the same JSON type.
    for (path, kind) in &ours {
        if let Some((_, recorded)) = theirs.iter().find(|(known, _)| known == path) {
            assert!(
                kind == recorded || *recorded == "null" || *kind == "null",
                "{path}: molt {kind}, OpenClaw {recorded}"
            );
        }
    }
    assert_eq!(Usage::default().total(), 0);
}
