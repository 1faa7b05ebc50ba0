//! `exec` without a gateway: who it is offered to, how a wait for the operator ends (answered,
//! expired, withdrawn), what `allow-always` adds, and the allowlist mode that never asks.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::*;
use crate::core::asker::{Asker, MemoryScope, OperatorIds};
use crate::core::ids::SessionKey;
use crate::core::protocol::exec::ExecApprovalResolved;
use crate::core::scopes::Scope;
use crate::core::settings::ToolSettings;
use crate::daemon::events::EventBus;
use crate::daemon::store::Store;

struct Setup {
    _dir: tempfile::TempDir,
    context: ToolContext,
    events: EventBus,
    approvals: Arc<ExecApprovals>,
}

fn setup(mode: ExecMode) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let workspace = dir.path().join("workspace");
    std::fs::create_dir_all(workspace.join("sub")).unwrap();
    let store = Store::open(dir.path()).unwrap();
    let events = EventBus::default();
    let settings =
        ToolSettings { exec: mode, exec_approval_timeout: Duration::from_secs(300), ..ToolSettings::default() };
    let approvals = ExecApprovals::new(store.clone(), events.clone(), &settings, OperatorIds::default());
    let context = ToolContext {
        workspace,
        store,
        session_key: SessionKey::main(),
        asker: Asker::Operator,
        scope: MemoryScope::Shared,
    };
    Setup { _dir: dir, context, events, approvals }
}

fn operator() -> Resolver {
    Resolver { name: "local token".into(), address: None }
}

async fn call(setup: &Setup, input: Value) -> Result<String, ToolError> {
    Exec { approvals: Arc::clone(&setup.approvals) }.call(input, &setup.context).await
}

/// The id of the next command to wait, once it waits.
async fn next_waiting(approvals: &ExecApprovals) -> String {
    for _ in 0..500 {
        if let Some(first) = approvals.pending().first() {
            return first.id.clone();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no command started waiting");
}

#[test]
fn it_is_offered_only_when_turned_on_and_never_to_guests() {
    for (mode, offered) in [(ExecMode::Off, false), (ExecMode::Approve, true), (ExecMode::Allowlist, true)] {
        let setup = setup(mode);
        let mut registry = Registry::empty();
        // Even a grant (`MOLT_GUEST_TOOLS=exec`) gives it to no guest.
        registry.grant(["exec".to_owned()]);
        offer(&mut registry, Arc::clone(&setup.approvals));
        let names = |rights| registry.offered(rights).into_iter().map(|spec| spec.name).collect::<Vec<_>>();
        assert_eq!(names(Rights::Operator) == ["exec"], offered, "{mode}");
        assert!(names(Rights::Guest).is_empty(), "{mode}");
        assert!(registry.permitted("exec", Rights::Guest).is_err());
    }
    assert!(!super::super::grantable("exec") && super::super::grantable("write_file"));
}

#[tokio::test]
async fn a_guest_asking_directly_is_refused_before_anything_waits() {
    let mut setup = setup(ExecMode::Approve);
    setup.context.scope = MemoryScope::Sender { channel: "telegram".into(), sender_id: "77".into() };
    let refused = call(&setup, json!({"command": "id"})).await.unwrap_err();
    assert_eq!(refused.to_string(), "refused: `exec` is the operator's alone");
    assert!(setup.approvals.pending().is_empty());
}

#[tokio::test]
async fn an_allowed_command_runs_in_its_folder_and_reports_its_output() {
    let setup = setup(ExecMode::Approve);
    let mut feed = setup.events.subscribe(Scope::Approvals);
    let approvals = Arc::clone(&setup.approvals);
    let answer = async {
        let id = next_waiting(&approvals).await;
        approvals.resolve(&id, ExecDecision::AllowOnce, None, &operator()).await.unwrap()
    };
    let (result, resolved) =
        tokio::join!(call(&setup, json!({"command": "pwd; echo oops >&2; exit 2", "cwd": "sub"})), answer);
    let text = result.unwrap();
    let cwd = setup.context.workspace.canonicalize().unwrap().join("sub");
    assert_eq!(text, format!("exit code: 2\n--- stdout ---\n{}\n--- stderr ---\noops\n", cwd.display()));
    assert_eq!(resolved.decision, ExecDecision::AllowOnce);
    let requested = feed.try_recv().unwrap();
    assert_eq!(requested.event, "exec.approval.requested");
    let payload: Value = serde_json::from_str(&requested.payload).unwrap();
    assert_eq!(payload["request"]["cwd"], "sub");
    assert_eq!(payload["request"]["sessionKey"], "agent:main:main");
    assert_eq!(feed.try_recv().unwrap().event, "exec.approval.resolved");
    assert!(setup.approvals.pending().is_empty());
}

#[tokio::test]
async fn a_denied_command_does_not_run_and_a_second_answer_finds_nothing() {
    let setup = setup(ExecMode::Approve);
    let marker = setup.context.workspace.join("marker");
    let approvals = Arc::clone(&setup.approvals);
    let answer = async {
        let id = next_waiting(&approvals).await;
        approvals.resolve(&id, ExecDecision::Deny, None, &operator()).await.unwrap();
        approvals.resolve(&id, ExecDecision::AllowOnce, None, &operator()).await.unwrap_err()
    };
    let (result, again) = tokio::join!(call(&setup, json!({"command": "touch marker"})), answer);
    assert_eq!(
        result.unwrap_err().to_string(),
        "refused: the operator (local token) denied `touch marker`; it did not run"
    );
    assert!(matches!(again, ResolveError::Unknown));
    assert!(!marker.exists());
}

#[tokio::test]
async fn allow_always_adds_the_pattern_only_when_it_covers_the_command() {
    let setup = setup(ExecMode::Approve);
    let approvals = Arc::clone(&setup.approvals);
    let answer = async {
        let id = next_waiting(&approvals).await;
        let wrong = approvals.resolve(&id, ExecDecision::AllowAlways, Some("git log *"), &operator()).await;
        assert!(matches!(wrong, Err(ResolveError::Pattern(PatternError::NotCovering { .. }))), "{wrong:?}");
        assert_eq!(approvals.pending().len(), 1, "a refused pattern leaves the command waiting");
        approvals.resolve(&id, ExecDecision::AllowAlways, Some("echo *"), &operator()).await.unwrap()
    };
    let (result, resolved) = tokio::join!(call(&setup, json!({"command": "echo one"})), answer);
    assert_eq!(result.unwrap(), "exit code: 0\n--- stdout ---\none\n");
    assert_eq!(resolved.pattern.as_deref(), Some("echo *"));
    // Covered now: it runs without asking.
    assert_eq!(call(&setup, json!({"command": "echo two"})).await.unwrap(), "exit code: 0\n--- stdout ---\ntwo\n");
    assert!(setup.approvals.pending().is_empty());
    let entries = setup.approvals.allowlist().entries().await.unwrap();
    assert_eq!((entries.len(), entries[0].added_by.as_str()), (1, "local token"));
}

#[tokio::test(start_paused = true)]
async fn an_unanswered_command_expires_and_a_dropped_one_is_withdrawn() {
    let setup = setup(ExecMode::Approve);
    let mut feed = setup.events.subscribe(Scope::Approvals);
    let refused = call(&setup, json!({"command": "touch marker"})).await.unwrap_err();
    assert_eq!(refused.to_string(), "refused: nobody approved `touch marker` within 300 s; it did not run");
    let resolved = |feed: &mut tokio::sync::broadcast::Receiver<_>| -> ExecApprovalResolved {
        let event: Arc<crate::daemon::events::Broadcast> = feed.try_recv().unwrap();
        serde_json::from_str(&event.payload).unwrap()
    };
    assert_eq!(feed.try_recv().unwrap().event, "exec.approval.requested");
    let expired = resolved(&mut feed);
    assert_eq!((expired.decision, expired.reason), (ExecDecision::Deny, Some(Unanswered::Expired)));

    let waiting = call(&setup, json!({"command": "touch marker"}));
    let _ = tokio::time::timeout(Duration::from_secs(1), waiting).await.unwrap_err();
    assert!(setup.approvals.pending().is_empty(), "dropping the call withdraws it");
    assert_eq!(feed.try_recv().unwrap().event, "exec.approval.requested");
    assert_eq!(resolved(&mut feed).reason, Some(Unanswered::Cancelled));
    assert!(!setup.context.workspace.join("marker").exists());
}

#[tokio::test]
async fn in_allowlist_mode_nothing_waits() {
    let setup = setup(ExecMode::Allowlist);
    let mut feed = setup.events.subscribe(Scope::Approvals);
    let refused = call(&setup, json!({"command": "echo hi"})).await.unwrap_err();
    assert!(refused.to_string().starts_with("refused: `echo hi` is not on the operator's allowlist"), "{refused}");
    assert!(feed.try_recv().is_err(), "nobody was asked");
    setup.approvals.allowlist().add("echo hi", "local token").await.unwrap();
    assert_eq!(call(&setup, json!({"command": "echo hi"})).await.unwrap(), "exit code: 0\n--- stdout ---\nhi\n");
}

#[tokio::test]
async fn bad_input_and_folders_outside_the_workspace_are_refused() {
    let setup = setup(ExecMode::Allowlist);
    let error = |input| async { call(&setup, input).await.unwrap_err().to_string() };
    assert_eq!(error(json!({"command": "  "})).await, "the command is empty");
    assert_eq!(error(json!({"command": "ls", "cwd": ".."})).await, "`..` leaves the workspace through `..`");
    assert_eq!(error(json!({"command": "ls", "cwd": "/etc"})).await.split(';').next().unwrap(), "`/etc` is absolute");
    assert_eq!(error(json!({"command": "ls", "cwd": "nope"})).await, "`nope` is not a folder of the workspace");
    assert!(error(json!({"command": "ls", "shell": "bash"})).await.starts_with("invalid arguments"));
}
