//! The operator's three decisions over the protocol: `allow-once` runs the command and its
//! output reaches the model, `deny` runs nothing, `allow-always` lets the same command run
//! again without asking; and with `MOLT_EXEC` unset the model is never offered the tool.

use serde_json::json;

use super::{approver, exec_reply, offered, send, tool_result, with_exec, workspace};
use crate::support::client::{Client, ConnectOptions};
use crate::support::fake_anthropic::{FakeAnthropic, Reply};
use crate::support::gateway::{TOKEN, TestGateway};

#[tokio::test]
async fn off_by_default_the_model_is_not_offered_exec() {
    let fake = FakeAnthropic::start().await;
    let gateway = TestGateway::builder().model(&fake).start().await;
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    let run = send(&mut client, "hello").await;
    client.chat_run(&run).await;
    let tools = offered(&fake.requests()[0].body);
    assert!(tools.contains(&"read_file".to_owned()) && !tools.contains(&"exec".to_owned()), "{tools:?}");
    gateway.stop().await.unwrap();

    let fake = FakeAnthropic::start().await;
    let gateway = with_exec(&fake, "approve", &[]).await;
    let mut client = approver(&gateway).await;
    let run = send(&mut client, "hello").await;
    client.chat_run(&run).await;
    assert!(offered(&fake.requests()[0].body).contains(&"exec".to_owned()), "offered with MOLT_EXEC=approve");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn allow_once_runs_the_command_and_its_output_reaches_the_model() {
    let fake = FakeAnthropic::start().await;
    let gateway = with_exec(&fake, "approve", &[]).await;
    std::fs::create_dir_all(gateway.data_dir.join("workspace/notes")).unwrap();
    fake.push(exec_reply(json!({"command": "echo hello; pwd; echo \"home=$HOME\"", "cwd": "notes"})));
    fake.push(Reply::text("It said hello."));
    let mut client = approver(&gateway).await;
    let run = send(&mut client, "say hello from the shell").await;

    let requested = client.event("exec.approval.requested").await["payload"].clone();
    assert_eq!(requested["request"]["command"], "echo hello; pwd; echo \"home=$HOME\"");
    assert_eq!(requested["request"]["cwd"], "notes");
    assert_eq!(requested["request"]["host"], "gateway");
    assert_eq!(requested["request"]["sessionKey"], "agent:main:main");
    assert_eq!(requested["request"]["askedBy"], "operator");
    let listed = client.call("exec.approval.list", json!({})).await;
    assert_eq!(listed["pending"][0]["id"], requested["id"]);
    let answer = client.call("exec.approval.resolve", json!({"id": requested["id"], "decision": "allow-once"})).await;
    assert_eq!(answer["ok"], true);
    let resolved = client.event("exec.approval.resolved").await["payload"].clone();
    assert_eq!((&resolved["id"], &resolved["decision"]), (&requested["id"], &json!("allow-once")));
    assert_eq!(resolved["resolvedBy"].as_str().unwrap().split(' ').next(), Some("device"));
    let chats = client.chat_run(&run).await;
    assert_eq!(chats.last().unwrap()["state"], "final");

    let requests = fake.requests();
    assert_eq!(requests.len(), 2);
    let home = workspace(&gateway);
    let expected =
        format!("exit code: 0\n--- stdout ---\nhello\n{}\nhome={}\n", home.join("notes").display(), home.display());
    assert_eq!(tool_result(&requests[1].body), (expected, false));
    // Answered once, it is gone: a second answer is OpenClaw's refusal.
    let again = client.request("exec.approval.resolve", json!({"id": requested["id"], "decision": "deny"})).await;
    assert_eq!(again["error"]["message"], "unknown or expired approval id");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn deny_refuses_the_command_and_nothing_runs() {
    let fake = FakeAnthropic::start().await;
    let gateway = with_exec(&fake, "approve", &[]).await;
    fake.push(exec_reply(json!({"command": "touch marker"})));
    fake.push(Reply::text("Understood."));
    let mut client = approver(&gateway).await;
    let run = send(&mut client, "make a marker").await;
    let requested = client.event("exec.approval.requested").await["payload"].clone();
    client.call("exec.approval.resolve", json!({"id": requested["id"], "decision": "deny"})).await;
    client.chat_run(&run).await;
    let (text, is_error) = tool_result(&fake.requests()[1].body);
    assert!(is_error);
    assert!(
        text.starts_with("refused: the operator (device ") && text.ends_with(") denied `touch marker`; it did not run"),
        "{text}"
    );
    assert!(!gateway.data_dir.join("workspace/marker").exists(), "the command never ran");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn allow_always_lets_the_same_command_run_again_without_asking() {
    let fake = FakeAnthropic::start().await;
    let gateway = with_exec(&fake, "approve", &[]).await;
    let command = json!({"command": "echo again >> count; wc -l < count"});
    fake.push(exec_reply(command.clone()));
    fake.push(Reply::text("First."));
    let mut client = approver(&gateway).await;
    let run = send(&mut client, "count once").await;
    let requested = client.event("exec.approval.requested").await["payload"].clone();
    let answer = client.call("exec.approval.resolve", json!({"id": requested["id"], "decision": "allow-always"})).await;
    assert_eq!(answer["pattern"], "echo again >> count; wc -l < count");
    client.chat_run(&run).await;
    assert_eq!(tool_result(&fake.requests()[1].body).0, "exit code: 0\n--- stdout ---\n1\n");

    fake.push(exec_reply(command));
    fake.push(Reply::text("Second."));
    let run = send(&mut client, "count again").await;
    let chats = client.chat_run(&run).await;
    assert_eq!(chats.last().unwrap()["state"], "final");
    assert_eq!(tool_result(&fake.requests()[3].body).0, "exit code: 0\n--- stdout ---\n2\n");
    let asked = client.take_held("exec.approval.requested");
    assert!(asked.is_empty(), "the second run was not asked about: {asked:?}");
    assert_eq!(client.call("exec.approval.list", json!({})).await["pending"], json!([]));
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn without_operator_approvals_a_client_neither_hears_nor_answers() {
    let fake = FakeAnthropic::start().await;
    let gateway = with_exec(&fake, "approve", &[("MOLT_EXEC_APPROVAL_SECS", "2")]).await;
    fake.push(exec_reply(json!({"command": "true"})));
    let options = ConnectOptions::new(TOKEN).scopes(&["operator.read", "operator.write"]);
    let (mut writer, _) = Client::connect(&gateway.ws_url(), &options).await.unwrap();
    let run = send(&mut writer, "run true").await;
    let refused = writer.request("exec.approval.list", json!({})).await;
    assert_eq!(refused["error"]["details"]["missingScope"], "operator.approvals");
    let refused = writer.request("exec.approval.resolve", json!({"id": "x", "decision": "allow-once"})).await;
    assert_eq!(refused["error"]["details"]["missingScope"], "operator.approvals");
    writer.chat_run(&run).await;
    assert!(writer.take_held("exec.approval.requested").is_empty(), "the event needs operator.approvals");
    let (text, is_error) = tool_result(&fake.requests()[1].body);
    assert_eq!((text.as_str(), is_error), ("refused: nobody approved `true` within 2 s; it did not run", true));
    gateway.stop().await.unwrap();
}
