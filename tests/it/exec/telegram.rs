//! Exec approvals in the operator's Telegram chat (the first ID of `TELEGRAM_DM_ALLOW_FROM`):
//! the message carries three buttons, the operator's press resolves the command and the message
//! shows the decision without its buttons; a stranger's press is refused; a command answered
//! elsewhere loses its buttons; and a guest in a Telegram chat is never offered `exec`.

use serde_json::{Value, json};

use super::{exec_reply, offered, tool_result};
use crate::support::fake_anthropic::{FakeAnthropic, Reply};
use crate::support::fake_telegram::FakeTelegram;
use crate::support::gateway::{TOKEN, TestGateway};

const OPERATOR: i64 = 4242;
const STRANGER: i64 = 5555;

async fn start(telegram: &FakeTelegram, model: &FakeAnthropic, extra: &[(&str, &str)]) -> TestGateway {
    TestGateway::builder()
        .telegram(telegram)
        .model(model)
        .envs(&[("MOLT_EXEC", "approve"), ("TELEGRAM_DM_ALLOW_FROM", "4242,777")])
        .envs(extra)
        .start()
        .await
}

/// The approval message in the operator's chat, once it is there: `(message_id, text, markup)`.
async fn approval_message(telegram: &FakeTelegram) -> (i64, String, Value) {
    telegram.wait_until("the approval message", |_| !telegram.keyboards(OPERATOR).is_empty()).await;
    telegram.keyboards(OPERATOR).remove(0)
}

fn button(markup: &Value, index: usize) -> (String, String) {
    let button = &markup["inline_keyboard"][0][index];
    (button["text"].as_str().unwrap().to_owned(), button["callback_data"].as_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_operator_allows_a_command_with_a_button_and_a_stranger_cannot() {
    let (telegram, model) = (FakeTelegram::start().await, FakeAnthropic::start().await);
    let gateway = start(&telegram, &model, &[]).await;
    model.push(exec_reply(json!({"command": "echo from telegram"})));
    model.push(Reply::text("It printed from telegram."));
    telegram.message(OPERATOR, OPERATOR, "run the echo");

    let (message, text, markup) = approval_message(&telegram).await;
    assert!(text.contains("Run this command?") && text.contains("<pre>echo from telegram</pre>"), "{text}");
    assert!(text.contains("asked by telegram:4242"), "{text}");
    let labels: Vec<String> = (0..3).map(|index| button(&markup, index).0).collect();
    assert_eq!(labels, ["Allow once", "Allow always", "Deny"]);
    let (_, once) = button(&markup, 0);
    assert!(once.starts_with("exec:") && once.ends_with(":once") && once.len() <= 64, "{once}");

    let stranger = telegram.press(OPERATOR, STRANGER, message, &once);
    telegram.wait_until("the stranger's answer", |_| telegram.answer_of(&stranger).is_some()).await;
    let refused = telegram.answer_of(&stranger).unwrap();
    assert_eq!(
        (refused["text"].as_str(), refused["show_alert"].as_bool()),
        (Some("Only the operator can answer this."), Some(true))
    );
    assert!(telegram.markup(OPERATOR, message).is_some(), "the buttons stay for the operator");
    assert_eq!(model.requests().len(), 1, "nothing ran");

    let pressed = telegram.press(OPERATOR, OPERATOR, message, &once);
    telegram
        .wait_until("the decision shown", |_| {
            telegram.markup(OPERATOR, message).is_none() && telegram.answer_of(&pressed).is_some()
        })
        .await;
    assert_eq!(telegram.answer_of(&pressed).unwrap()["text"], "Allowed once.");
    let shown = telegram.shown(OPERATOR).into_iter().find(|text| text.contains("Allowed once by")).unwrap();
    assert!(shown.starts_with("Allowed once by telegram:4242") && shown.contains("echo from telegram"), "{shown}");
    telegram.wait_until("the reply", |_| telegram.shown(OPERATOR).iter().any(|text| text.contains("It printed"))).await;
    assert_eq!(tool_result(&model.requests()[1].body), ("exit code: 0\n--- stdout ---\nfrom telegram\n".into(), false));
    gateway.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_command_answered_elsewhere_loses_its_buttons_and_a_late_press_is_told_so() {
    let (telegram, model) = (FakeTelegram::start().await, FakeAnthropic::start().await);
    let gateway = start(&telegram, &model, &[]).await;
    model.push(exec_reply(json!({"command": "touch marker"})));
    model.push(Reply::text("Not done."));
    telegram.message(OPERATOR, OPERATOR, "make a marker");
    let (message, _, markup) = approval_message(&telegram).await;

    let pending: Value = reqwest::Client::new()
        .get(gateway.http_url("/api/admin/exec"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = pending["pending"][0]["id"].as_str().unwrap().to_owned();
    let denied = reqwest::Client::new()
        .post(gateway.http_url(&format!("/api/admin/exec/{id}/resolve")))
        .bearer_auth(TOKEN)
        .json(&json!({"decision": "deny"}))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 200);
    telegram.wait_until("the buttons gone", |_| telegram.markup(OPERATOR, message).is_none()).await;
    assert!(telegram.shown(OPERATOR).iter().any(|text| text.starts_with("Denied by local token")));

    let late = telegram.press(OPERATOR, OPERATOR, message, &button(&markup, 2).1);
    telegram.wait_until("the late answer", |_| telegram.answer_of(&late).is_some()).await;
    assert_eq!(telegram.answer_of(&late).unwrap()["text"], "This command no longer waits for an answer.");
    telegram.wait_until("the reply", |_| telegram.shown(OPERATOR).iter().any(|text| text.contains("Not done"))).await;
    assert!(!gateway.data_dir.join("workspace/marker").exists());
    gateway.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_guest_in_a_telegram_chat_is_never_offered_exec_even_when_granted() {
    let (telegram, model) = (FakeTelegram::start().await, FakeAnthropic::start().await);
    let extra = [("TELEGRAM_DM_POLICY", "open"), ("MOLT_GUEST_TOOLS", "exec,write_file")];
    let gateway = start(&telegram, &model, &extra).await;
    model.push(exec_reply(json!({"command": "touch marker"})));
    model.push(Reply::text("Cannot."));
    telegram.message(STRANGER, STRANGER, "run touch marker");
    telegram
        .wait_until("the guest's reply", |_| telegram.shown(STRANGER).iter().any(|text| text.contains("Cannot")))
        .await;
    let requests = model.requests();
    let tools = offered(&requests[0].body);
    assert!(tools.contains(&"write_file".to_owned()) && !tools.contains(&"exec".to_owned()), "{tools:?}");
    let (text, is_error) = tool_result(&requests[1].body);
    assert!(is_error && text.starts_with("refused: `exec` is not available to this user"), "{text}");
    assert!(telegram.keyboards(OPERATOR).is_empty(), "the operator was never asked");
    assert!(!gateway.data_dir.join("workspace/marker").exists());

    model.push(Reply::text("Hello, operator."));
    telegram.message(OPERATOR, OPERATOR, "hello");
    telegram
        .wait_until("the operator's reply", |_| telegram.shown(OPERATOR).iter().any(|text| text.contains("operator.")))
        .await;
    assert!(offered(&model.requests()[2].body).contains(&"exec".to_owned()), "the operator's own chat is offered it");
    gateway.stop().await.unwrap();
}
