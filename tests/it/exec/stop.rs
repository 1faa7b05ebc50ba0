//! How a command ends besides finishing: its time limit kills it and everything it started,
//! `chat.abort` withdraws one still waiting and kills one running; and the command's
//! environment holds none of the gateway's secrets (a real `molt` process, whose environment
//! has them).

use std::time::Duration;

use serde_json::json;

use super::{approver, exec_reply, group_members, read_line, send, tool_result, with_exec};
use crate::support::client::{Client, ConnectOptions};
use crate::support::fake_anthropic::{FakeAnthropic, Reply};
use crate::support::process::GatewayProcess;

#[tokio::test]
async fn a_timeout_kills_the_command_and_its_children() {
    let fake = FakeAnthropic::start().await;
    let gateway = with_exec(&fake, "approve", &[]).await;
    // `$$` is the shell's pid, which is also its process group's id.
    let command = "echo $$ > group; sh -c 'sleep 100 & sleep 100'";
    fake.push(exec_reply(json!({"command": command, "timeout_secs": 1})));
    fake.push(Reply::text("It hung."));
    let mut client = approver(&gateway).await;
    let run = send(&mut client, "hang").await;
    let requested = client.event("exec.approval.requested").await["payload"].clone();
    assert_eq!(requested["request"]["timeoutSecs"], 1);
    client.call("exec.approval.resolve", json!({"id": requested["id"], "decision": "allow-once"})).await;
    let group: i32 = read_line(&gateway.data_dir.join("workspace/group")).await.parse().unwrap();
    assert!(!group_members(group).is_empty(), "the group runs");
    client.chat_run(&run).await;
    let (text, is_error) = tool_result(&fake.requests()[1].body);
    assert!(is_error);
    assert_eq!(text, format!("timed out after 1 s: `{command}` and everything it started were stopped\n(no output)"));
    assert_eq!(group_members(group), Vec::<i32>::new(), "no process of the group survives");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn chat_abort_withdraws_a_command_that_waits() {
    let fake = FakeAnthropic::start().await;
    let gateway = with_exec(&fake, "approve", &[]).await;
    fake.push(exec_reply(json!({"command": "touch marker"})));
    let mut client = approver(&gateway).await;
    let run = send(&mut client, "make a marker").await;
    let requested = client.event("exec.approval.requested").await["payload"].clone();
    client.call("chat.abort", json!({"sessionKey": "main", "runId": run})).await;
    let chats = client.chat_run(&run).await;
    assert_eq!(chats.last().unwrap()["state"], "aborted");
    let resolved = client.event("exec.approval.resolved").await["payload"].clone();
    assert_eq!((&resolved["id"], &resolved["decision"]), (&requested["id"], &json!("deny")));
    assert_eq!(resolved["reason"], "cancelled");
    assert_eq!(client.call("exec.approval.list", json!({})).await["pending"], json!([]));
    let late = client.request("exec.approval.resolve", json!({"id": requested["id"], "decision": "allow-once"})).await;
    assert_eq!(late["error"]["details"]["code"], "NOT_FOUND");
    assert!(!gateway.data_dir.join("workspace/marker").exists());
    assert_eq!(fake.requests().len(), 1, "no model call after the abort");
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn chat_abort_kills_a_running_command_and_its_children() {
    let fake = FakeAnthropic::start().await;
    let gateway = with_exec(&fake, "approve", &[]).await;
    fake.push(exec_reply(json!({"command": "echo $$ > group; sleep 100 & sleep 100", "timeout_secs": 600})));
    let mut client = approver(&gateway).await;
    let run = send(&mut client, "wait a long time").await;
    let requested = client.event("exec.approval.requested").await["payload"].clone();
    client.call("exec.approval.resolve", json!({"id": requested["id"], "decision": "allow-once"})).await;
    let group: i32 = read_line(&gateway.data_dir.join("workspace/group")).await.parse().unwrap();
    for _ in 0..500 {
        if group_members(group).len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(group_members(group).len(), 3, "the shell and its two sleeps run");
    client.call("chat.abort", json!({"sessionKey": "main", "runId": run})).await;
    let chats = client.chat_run(&run).await;
    assert_eq!(chats.last().unwrap()["state"], "aborted");
    let mut left = group_members(group);
    for _ in 0..300 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        left = group_members(group);
    }
    assert_eq!(left, Vec::<i32>::new(), "the abort killed the whole group");
    gateway.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_command_environment_holds_none_of_the_gateways_secrets() {
    const SECRET_KEY: &str = "sk-ant-secret-do-not-leak";
    const SECRET_TOKEN: &str = "gateway-token-do-not-leak";
    let fake = FakeAnthropic::start_with_key(SECRET_KEY).await;
    fake.push(exec_reply(json!({"command": "env"})));
    fake.push(Reply::text("That is all."));
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("ANTHROPIC_API_KEY", SECRET_KEY),
        ("ANTHROPIC_BASE_URL", fake.base_url().leak()),
        ("MOLT_GATEWAY_TOKEN", SECRET_TOKEN),
        ("MOLT_EXEC", "approve"),
    ];
    let gateway = GatewayProcess::start(dir.path(), &env, &[]);
    let options = ConnectOptions::new(SECRET_TOKEN).scopes(super::APPROVER);
    let (mut client, _) = Client::connect(&gateway.ws_url(), &options).await.unwrap();
    let run = send(&mut client, "show the environment").await;
    let requested = client.event("exec.approval.requested").await["payload"].clone();
    client.call("exec.approval.resolve", json!({"id": requested["id"], "decision": "allow-once"})).await;
    client.chat_run(&run).await;
    let requests = fake.requests();
    assert_eq!(requests.len(), 2, "stderr: {}", gateway.stderr());
    let (text, is_error) = tool_result(&requests[1].body);
    assert!(!is_error, "{text}");
    let names: Vec<&str> = text.lines().skip(2).filter_map(|line| line.split_once('=').map(|(name, _)| name)).collect();
    assert!(names.contains(&"PATH") && names.contains(&"HOME") && names.contains(&"LANG"), "{text}");
    for secret in [SECRET_KEY, SECRET_TOKEN, "ANTHROPIC", "MOLT_"] {
        assert!(!text.contains(secret), "`{secret}` reached the command: {text}");
    }
    client.close().await;
}
