//! The registry's policy and a round's concurrency, order, timeout, size cut and refusals.

use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::core::asker::OperatorIds;
use crate::daemon::providers::ToolUse;

/// A tool that sleeps, then echoes its input, or fails on `{"fail": true}`.
struct Echo {
    name: &'static str,
    access: Access,
    delay: Duration,
}

impl Tool for Echo {
    fn spec(&self) -> ToolSpec {
        ToolSpec { name: self.name.into(), description: "echo".into(), input_schema: json!({"type": "object"}) }
    }
    fn access(&self) -> Access {
        self.access
    }
    fn call<'a>(&'a self, input: Value, _: &'a ToolContext) -> ToolFuture<'a> {
        Box::pin(async move {
            tokio::time::sleep(self.delay).await;
            if input["fail"] == true {
                return Err(ToolError::new("it failed"));
            }
            Ok(input["text"].as_str().unwrap_or_default().to_owned())
        })
    }
}

fn registry(granted: &[&str]) -> Registry {
    let mut registry = Registry::empty();
    registry.grant(granted.iter().map(|name| (*name).to_owned()));
    let tool = |name, access, millis| Arc::new(Echo { name, access, delay: Duration::from_millis(millis) });
    registry.add(tool("read", Access::Read, 0));
    registry.add(tool("act", Access::Act, 0));
    registry.add(tool("slow", Access::Read, 300));
    registry.add(tool("fast", Access::Read, 10));
    registry
}

fn context(dir: &std::path::Path) -> ToolContext {
    ToolContext {
        workspace: dir.to_owned(),
        store: Store::open(dir).unwrap(),
        session_key: SessionKey::main(),
        asker: Asker::Operator,
        scope: MemoryScope::Shared,
    }
}

fn call(id: &str, name: &str, input: Value) -> ToolUse {
    ToolUse { id: id.into(), name: name.into(), input }
}

fn names(specs: &[ToolSpec]) -> Vec<&str> {
    specs.iter().map(|spec| spec.name.as_str()).collect()
}

#[test]
fn guests_are_offered_and_may_run_only_read_tools_and_those_granted() {
    let registry = registry(&[]);
    assert_eq!(names(&registry.offered(Rights::Operator)), ["read", "act", "slow", "fast"]);
    assert_eq!(names(&registry.offered(Rights::Guest)), ["read", "slow", "fast"]);
    assert_eq!(registry.permitted("act", Rights::Guest).err(), Some(Refusal::NotAllowed("act".into())));
    assert!(registry.permitted("act", Rights::Operator).is_ok());
    assert_eq!(registry.permitted("shell", Rights::Operator).err(), Some(Refusal::Unknown("shell".into())));
    let granted = self::registry(&["act"]);
    assert!(granted.permitted("act", Rights::Guest).is_ok());
    assert_eq!(names(&granted.offered(Rights::Guest)), ["read", "act", "slow", "fast"]);
}

#[test]
fn the_built_in_registry_follows_the_settings_and_answers_the_old_memory_name() {
    let registry = Registry::built_in(&ToolSettings::default());
    assert!(names(&registry.offered(Rights::Guest)).contains(&"memory_write"), "guests write their own notes");
    assert!(registry.permitted("remember", Rights::Guest).is_ok(), "`remember` is still answered");
    let off = Registry::built_in(&ToolSettings { enabled: false, ..ToolSettings::default() });
    assert!(off.offered(Rights::Operator).is_empty());
    let _ = OperatorIds::default();
}

#[tokio::test]
async fn a_round_runs_calls_at_once_and_answers_in_the_order_asked() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(&[]);
    let calls = [
        call("1", "slow", json!({"text": "first"})),
        call("2", "fast", json!({"text": "second"})),
        call("3", "act", json!({"text": "refused"})),
        call("4", "read", json!({"fail": true})),
    ];
    let finished = Mutex::new(Vec::new());
    let started = Mutex::new(Vec::new());
    let limits = RoundLimits { call_timeout: Duration::from_secs(5), max_result_bytes: 1000 };
    let begun = std::time::Instant::now();
    let outcomes = run_round(
        &registry,
        &calls,
        Rights::Guest,
        &context(dir.path()),
        limits,
        &|call| started.lock().unwrap().push(call.id.clone()),
        &|outcome| finished.lock().unwrap().push(outcome.call.id.clone()),
    )
    .await;
    let answered: Vec<(&str, &str, bool)> =
        outcomes.iter().map(|o| (o.call.id.as_str(), o.result.as_str(), o.is_error)).collect();
    assert_eq!(answered[0], ("1", "first", false));
    assert_eq!(answered[1], ("2", "second", false));
    assert_eq!((answered[2].0, answered[2].2), ("3", true));
    assert!(answered[2].1.starts_with("refused"), "{}", answered[2].1);
    assert_eq!(answered[3], ("4", "it failed", true));
    assert_eq!(started.lock().unwrap().len(), 4);
    assert_eq!(finished.lock().unwrap().last().map(String::as_str), Some("1"), "the slow call ends last");
    assert!(begun.elapsed() < Duration::from_millis(300 + 10 + 250), "the calls ran at once, not one after another");
}

#[tokio::test]
async fn a_call_past_its_timeout_fails_and_a_long_result_is_cut_on_a_character() {
    let dir = tempfile::tempdir().unwrap();
    let registry = registry(&[]);
    let limits = RoundLimits { call_timeout: Duration::from_millis(50), max_result_bytes: 1024 };
    let long = "é".repeat(1000);
    let calls = [call("1", "slow", json!({})), call("2", "read", json!({"text": long}))];
    let outcomes = run_round(&registry, &calls, Rights::Operator, &context(dir.path()), limits, &|_| {}, &|_| {}).await;
    assert!(outcomes[0].is_error);
    assert_eq!(outcomes[0].result, "`slow` did not finish within 50 ms");
    let cut = &outcomes[1].result;
    assert!(cut.starts_with(&"é".repeat(512)));
    assert!(cut.ends_with("[cut: the result was 2000 bytes; only the first 1024 are shown]"), "{cut}");
}

#[test]
fn images_past_the_bounds_are_left_out_and_named() {
    let image = |bytes: usize| ToolImage { media_type: "image/png".into(), data: "x".repeat(bytes) };
    let output = ToolOutput { text: "shot".into(), images: (0..6).map(|_| image(10)).collect() };
    let (text, kept) = round::bounded_images(output);
    assert_eq!(kept.len(), 4);
    assert_eq!(text, "shot\n[2 more image(s) left out: too many or too large]");
    let (_, kept) = round::bounded_images(ToolOutput { text: String::new(), images: vec![image(6 * 1024 * 1024)] });
    assert!(kept.is_empty(), "one image over the byte bound");
}
