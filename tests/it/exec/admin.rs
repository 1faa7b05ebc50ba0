//! The admin API and page for `exec`: the waiting commands with the three decisions (an
//! `allow-always` with a prefix the operator typed), the allowlist and its removal, audited;
//! the page shows a command live and answers it with its buttons.

use std::time::Duration;

use serde_json::{Value, json};

use super::{approver, exec_reply, send, tool_result, with_exec};
use crate::support::browser::Browser;
use crate::support::fake_anthropic::{FakeAnthropic, Reply};
use crate::support::gateway::{TOKEN, TestGateway};

const WAIT: Duration = Duration::from_secs(20);

async fn api(gateway: &TestGateway, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = reqwest::Client::new().request(method, gateway.http_url(path)).bearer_auth(TOKEN);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or_default())
}

#[tokio::test]
async fn the_api_answers_a_command_keeps_the_allowlist_and_audits_both() {
    use reqwest::Method;
    let fake = FakeAnthropic::start().await;
    let gateway = with_exec(&fake, "approve", &[]).await;
    fake.push(exec_reply(json!({"command": "echo one two"})));
    fake.push(Reply::text("Done."));
    let mut client = approver(&gateway).await;
    let run = send(&mut client, "echo").await;
    let id = client.event("exec.approval.requested").await["payload"]["id"].as_str().unwrap().to_owned();

    let (code, overview) = api(&gateway, Method::GET, "/api/admin/exec", None).await;
    assert_eq!(code, 200);
    assert_eq!((&overview["mode"], &overview["timeoutSecs"]), (&json!("approve"), &json!(300)));
    assert_eq!(overview["pending"][0]["request"]["command"], "echo one two");
    let resolve = format!("/api/admin/exec/{id}/resolve");
    let (code, body) = api(&gateway, Method::POST, &resolve, Some(json!({"decision": "maybe"}))).await;
    assert_eq!((code, body["error"]["message"].as_str()), (400, Some("invalid decision")));
    let (code, body) =
        api(&gateway, Method::POST, &resolve, Some(json!({"decision": "allow-always", "pattern": "ls *"}))).await;
    assert_eq!(code, 400, "a pattern that does not cover the command: {body}");
    let (code, body) =
        api(&gateway, Method::POST, &resolve, Some(json!({"decision": "allow-always", "pattern": "echo *"}))).await;
    assert_eq!((code, &body["pattern"]), (200, &json!("echo *")));
    client.chat_run(&run).await;
    assert_eq!(tool_result(&fake.requests()[1].body).0, "exit code: 0\n--- stdout ---\none two\n");
    let (code, _) = api(&gateway, Method::POST, &resolve, Some(json!({"decision": "deny"}))).await;
    assert_eq!(code, 404, "answered already");

    let (_, overview) = api(&gateway, Method::GET, "/api/admin/exec", None).await;
    assert_eq!(overview["pending"], json!([]));
    assert_eq!(overview["allowlist"][0]["pattern"], "echo *");
    assert_eq!(overview["allowlist"][0]["addedBy"], "local token");
    let entry = Some(json!({"pattern": "echo *"}));
    assert_eq!(api(&gateway, Method::DELETE, "/api/admin/exec/allowlist", entry.clone()).await.0, 200);
    assert_eq!(api(&gateway, Method::DELETE, "/api/admin/exec/allowlist", entry).await.0, 404);
    let (_, overview) = api(&gateway, Method::GET, "/api/admin/exec", None).await;
    assert_eq!(overview["allowlist"], json!([]));
    let (_, audit) = api(&gateway, Method::GET, "/api/admin/audit", None).await;
    let actions: Vec<&str> = audit["entries"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    assert!(actions.contains(&"exec.allow-always") && actions.contains(&"exec.allowlist.remove"), "{actions:?}");

    // No grant gives `exec` to guests.
    let (code, body) = api(&gateway, Method::PUT, "/api/admin/tools", Some(json!({"guestTools": ["exec"]}))).await;
    assert_eq!(
        (code, body["error"]["message"].as_str()),
        (400, Some("`exec` is the operator's alone; no grant gives it to guests"))
    );
    let (_, tools) = api(&gateway, Method::GET, "/api/admin/tools", None).await;
    let exec = tools["tools"].as_array().unwrap().iter().find(|tool| tool["name"] == "exec").unwrap().clone();
    assert_eq!((&exec["access"], &exec["operatorOnly"], &exec["guests"]), (&json!("act"), &json!(true), &json!(false)));
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn the_admin_page_shows_a_waiting_command_live_and_answers_it() {
    let fake = FakeAnthropic::start().await;
    let gateway = with_exec(&fake, "approve", &[]).await;
    let admin = Browser::launch().await.expect("launch chromium");
    admin.goto(&gateway.http_url(&format!("/?token={TOKEN}"))).await.unwrap();
    admin.goto(&gateway.http_url("/_admin/")).await.unwrap();
    admin.wait_for("document.querySelector('#exec-pending .empty') !== null", WAIT).await.unwrap();

    fake.push(exec_reply(json!({"command": "echo from the page"})));
    fake.push(Reply::text("Done."));
    let mut client = approver(&gateway).await;
    let run = send(&mut client, "echo").await;
    let shown = admin.wait_for("document.querySelector('#exec-pending .exec code.command')?.textContent", WAIT).await;
    assert_eq!(shown.unwrap(), json!("echo from the page"), "shown live, without a reload");
    let labels = admin
        .eval("[...document.querySelectorAll('#exec-pending .exec button')].map((b) => b.textContent).join('|')")
        .await;
    assert_eq!(labels.unwrap(), json!("Allow once|Allow always|Deny"));
    // A prefix typed as a person would, then Allow always.
    admin
        .eval(
            "(() => { const f = document.querySelector('#exec-pending input.pattern'); f.value = 'echo from *'; \
               f.dispatchEvent(new Event('input', {bubbles: true})); \
               document.querySelector('#exec-pending button.allow-always').click(); return true; })()",
        )
        .await
        .unwrap();
    client.chat_run(&run).await;
    assert_eq!(tool_result(&fake.requests()[1].body).0, "exit code: 0\n--- stdout ---\nfrom the page\n");
    let listed = admin.wait_for("document.querySelector('#exec-allowlist .allowed code')?.textContent", WAIT).await;
    assert_eq!(listed.unwrap(), json!("echo from *"));
    admin.wait_for("document.querySelector('#exec-pending .empty') !== null", WAIT).await.unwrap();

    // Remove asks for a second click.
    admin.eval("document.querySelector('#exec-allowlist button.remove').click(); true").await.unwrap();
    admin.wait_for("document.querySelector('#exec-allowlist button.remove.armed') !== null", WAIT).await.unwrap();
    admin.eval("document.querySelector('#exec-allowlist button.remove').click(); true").await.unwrap();
    admin.wait_for("document.querySelector('#exec-allowlist .empty') !== null", WAIT).await.unwrap();
    let problems: Vec<String> = admin
        .console()
        .into_iter()
        .filter(|line| line.contains("Content Security Policy") || line.contains("Uncaught"))
        .collect();
    assert!(problems.is_empty(), "console errors: {problems:?}");
    gateway.stop().await.unwrap();
}
