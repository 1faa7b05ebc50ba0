//! Telegram end to end against the fake Bot API and the fake model: pairing codes, approval
//! with `molt pair`, replies streamed by paced edits and split at 4096 characters, groups
//! that need a mention, 409 and 429 handling, markup fallback, and webhook mode.

use crate::support;

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use support::fake_anthropic::{FakeAnthropic, Reply, Usage};
use support::fake_telegram::{Call, FakeTelegram};
use support::gateway::{TOKEN, TestGateway};
use support::process::molt;

const USER: i64 = 4242;
const GROUP: i64 = -100_777;

async fn start(data_dir: &Path, telegram: &FakeTelegram, model: &FakeAnthropic, extra: &[(&str, &str)]) -> TestGateway {
    TestGateway::builder().telegram(telegram).model(model).envs(extra).data_dir(data_dir).start().await
}

fn sent_to(calls: &[Call], method: &str, chat: i64) -> Vec<Call> {
    calls
        .iter()
        .filter(|call| call.method == method && call.body["chat_id"].to_string().trim_matches('"') == chat.to_string())
        .cloned()
        .collect()
}

fn code_in(text: &str) -> String {
    let start = text.find("molt pair code approve telegram ").expect("approve command")
        + "molt pair code approve telegram ".len();
    text[start..start + 8].to_owned()
}

async fn approve(gateway: &TestGateway, code: &str) {
    let mut command = molt();
    command
        .args(["pair", "--url", &gateway.http_url(""), "code", "approve", "telegram", code])
        .env("MOLT_GATEWAY_TOKEN", TOKEN);
    let output = tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

async fn readyz(gateway: &TestGateway) -> Value {
    reqwest::get(gateway.http_url("/readyz")).await.unwrap().json().await.unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stranger_gets_a_code_and_once_approved_gets_a_streamed_split_reply() {
    let (telegram, model) = (FakeTelegram::start().await, FakeAnthropic::start().await);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("workspace")).unwrap();
    std::fs::write(dir.path().join("workspace/MEMORY.md"), "Ada drinks green tea.").unwrap();
    let gateway = start(dir.path(), &telegram, &model, &[]).await;

    telegram.message(USER, USER, "hello?");
    let calls = telegram.wait_until("the pairing code", |calls| !sent_to(calls, "sendMessage", USER).is_empty()).await;
    let text = sent_to(&calls, "sendMessage", USER)[0].body["text"].as_str().unwrap().to_owned();
    assert!(text.contains("pairing code"), "{text}");
    assert!(model.requests().is_empty(), "a stranger never reaches the model");
    approve(&gateway, &code_in(&text)).await;

    // 5000 characters in 50 chunks streamed slowly: several edits, then a second message.
    let paragraph = format!("{}\n\n", "word ".repeat(99).trim_end());
    let chunks: Vec<String> = (0..10).map(|_| paragraph.clone()).collect();
    model.push(Reply::Slow { chunks: chunks.clone(), delay_ms: 250 });
    telegram.message(USER, USER, "tell me a long story");
    let calls = telegram
        .wait_until("the whole reply", |calls| {
            let shown: String = sent_to(calls, "sendMessage", USER).len().to_string();
            shown == "3"
        })
        .await;
    let full: String = chunks.concat();
    let expected: Vec<String> = {
        let body = full.trim_end();
        let first_cut = body[..4096].rfind("\n\n").unwrap();
        vec![body[..first_cut].to_owned(), body[first_cut + 2..].to_owned()]
    };
    // Let the last edit land.
    telegram.wait_until("the final edit", |_| telegram.shown(USER)[1..] == expected[..]).await;
    let edits = sent_to(&calls, "editMessageText", USER);
    assert!(!edits.is_empty(), "the reply streams by editing");
    let all_edits = sent_to(&telegram.calls(), "editMessageText", USER);
    for pair in all_edits.windows(2) {
        assert!(pair[1].at - pair[0].at >= Duration::from_millis(950), "at most one edit per second per chat");
    }
    assert!(telegram.shown(USER).iter().all(|text| text.chars().count() <= 4096));
    assert!(!telegram.calls_of("sendChatAction").is_empty(), "typing while the turn runs");
    assert_eq!(telegram.calls_of("sendChatAction")[0].body, json!({"chat_id": USER.to_string(), "action": "typing"}));
    let request = &model.requests()[0];
    assert!(request.body.to_string().contains("Ada drinks green tea."), "the workspace memory is in the prefix");
    gateway.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_need_a_mention_or_a_reply_and_each_group_is_its_own_session() {
    let (telegram, model) = (FakeTelegram::start().await, FakeAnthropic::start().await);
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(dir.path(), &telegram, &model, &[("TELEGRAM_DM_ALLOW_FROM", "4242")]).await;
    telegram.message(GROUP, USER, "just chatting");
    telegram.message(GROUP, USER, "@molt_test_bot what is 2+2?");
    telegram.wait_until("the mention's reply", |calls| !sent_to(calls, "sendMessage", GROUP).is_empty()).await;
    telegram.message_with(GROUP, USER, "and 3+3?", Some(2));
    telegram.wait_until("the reply's reply", |calls| sent_to(calls, "sendMessage", GROUP).len() == 2).await;
    let requests = model.requests();
    assert_eq!(requests.len(), 2, "the unaddressed message never reached the model");
    assert!(!requests[0].body.to_string().contains("just chatting"));
    assert!(requests[1].body.to_string().contains("what is 2+2?"), "the group keeps its own history");
    let sessions = molt_sessions(&gateway).await;
    assert!(sessions.contains(&format!("agent:main:telegram:group:{GROUP}")), "{sessions:?}");
    gateway.stop().await.unwrap();
}

async fn molt_sessions(gateway: &TestGateway) -> Vec<String> {
    let mut client = support::client::Client::connect(&gateway.ws_url(), &support::client::ConnectOptions::new(TOKEN))
        .await
        .unwrap()
        .0;
    let list = client.call("sessions.list", json!({})).await;
    list["sessions"].as_array().unwrap().iter().map(|session| session["key"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn conflicts_and_rate_limits_are_waited_out_and_bad_markup_is_resent_plain() {
    let (telegram, model) = (FakeTelegram::start().await, FakeAnthropic::start().await);
    telegram.fail(
        "getUpdates",
        2,
        409,
        "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running",
        None,
    );
    telegram.fail("sendMessage", 1, 429, "Too Many Requests: retry after 1", Some(1));
    telegram.fail(
        "sendMessage",
        1,
        400,
        "Bad Request: can't parse entities: Unsupported start tag \"x\" at byte offset 0",
        None,
    );
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(dir.path(), &telegram, &model, &[("TELEGRAM_DM_POLICY", "open")]).await;
    model.push(Reply::Text { chunks: vec!["<x> & done".into()], usage: Usage::simple(1) });
    telegram.message(USER, USER, "hi");
    let calls = telegram.wait_until("the reply", |calls| sent_to(calls, "sendMessage", USER).len() == 3).await;
    let polls: Vec<&Call> = calls.iter().filter(|call| call.method == "getUpdates").collect();
    assert!(polls.len() >= 3, "polling goes on after 409s");
    let sends = sent_to(&calls, "sendMessage", USER);
    assert!(sends[1].at - sends[0].at >= Duration::from_millis(950), "429 retry_after honoured");
    assert_eq!(sends[1].body["parse_mode"], "HTML");
    assert_eq!(sends[1].body["text"], "&lt;x&gt; &amp; done");
    assert_eq!(sends[2].body, json!({"chat_id": USER.to_string(), "text": "<x> & done"}), "plain-text retry");
    let public = readyz(&gateway).await;
    assert_eq!(public["ready"], true);
    assert_eq!(
        public["channels"]["telegram"],
        json!({"connected": true, "mode": "polling"}),
        "no error texts: {public}"
    );
    let status = gateway.admin_status().await.unwrap();
    assert!(status["channels"]["telegram"]["lastError"].as_str().unwrap().contains("409 Conflict"), "{status}");
    assert_eq!(status["channels"]["telegram"]["connected"], true);
    gateway.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn webhook_mode_checks_the_secret_records_first_and_answers_a_redelivery_once() {
    let (telegram, model) = (FakeTelegram::start().await, FakeAnthropic::start().await);
    let dir = tempfile::tempdir().unwrap();
    let env =
        [("TELEGRAM_MODE", "webhook"), ("TELEGRAM_WEBHOOK_SECRET", "hook-secret"), ("TELEGRAM_DM_POLICY", "open")];
    let gateway = start(dir.path(), &telegram, &model, &env).await;
    let update = json!({"update_id": 77, "message": {"message_id": 5, "date": 1, "text": "via webhook",
        "from": {"id": USER, "is_bot": false, "first_name": "Ada"}, "chat": {"id": USER, "type": "private"}}});
    let url = gateway.http_url("/channels/telegram/webhook");
    let post = |secret: &str| {
        reqwest::Client::new()
            .post(&url)
            .header("x-telegram-bot-api-secret-token", secret.to_owned())
            .json(&update)
            .send()
    };
    assert_eq!(post("wrong").await.unwrap().status(), 401);
    assert_eq!(post("hook-secret").await.unwrap().status(), 200);
    telegram.wait_until("the reply", |calls| !sent_to(calls, "sendMessage", USER).is_empty()).await;
    assert_eq!(post("hook-secret").await.unwrap().status(), 200, "a redelivery is acknowledged");
    // A later message's reply proves the redelivery had every chance to start a second turn.
    post_sentinel(&gateway, 78).await;
    telegram.wait_until("the sentinel's reply", |calls| sent_to(calls, "sendMessage", USER).len() == 2).await;
    assert_eq!(model.user_texts(), ["via webhook", "sentinel 78"], "the redelivery was not answered twice");
    assert!(telegram.calls_of("getUpdates").is_empty(), "no polling in webhook mode");
    let status = gateway.admin_status().await.unwrap();
    assert_eq!(status["channels"]["telegram"]["mode"], "webhook");
    assert!(status["channels"]["telegram"]["lastInboundAtMs"].is_i64());
    gateway.stop().await.unwrap();

    // The record survives a restart: the same update is still recognised.
    let gateway = start(dir.path(), &telegram, &model, &env).await;
    let url = gateway.http_url("/channels/telegram/webhook");
    let again =
        reqwest::Client::new().post(&url).header("x-telegram-bot-api-secret-token", "hook-secret").json(&update).send();
    assert_eq!(again.await.unwrap().status(), 200);
    post_sentinel(&gateway, 79).await;
    telegram.wait_until("the second sentinel's reply", |calls| sent_to(calls, "sendMessage", USER).len() == 3).await;
    gateway.stop().await.unwrap();
    assert_eq!(model.user_texts(), ["via webhook", "sentinel 78", "sentinel 79"]);
}

async fn post_sentinel(gateway: &TestGateway, update_id: i64) {
    post_update(gateway, update_id, USER).await;
}

async fn post_update(gateway: &TestGateway, update_id: i64, from: i64) {
    let update = json!({"update_id": update_id, "message": {"message_id": update_id, "date": 1,
        "text": format!("sentinel {update_id}"),
        "from": {"id": from, "is_bot": false, "first_name": "Ada"}, "chat": {"id": from, "type": "private"}}});
    let answer = reqwest::Client::new()
        .post(gateway.http_url("/channels/telegram/webhook"))
        .header("x-telegram-bot-api-secret-token", "hook-secret")
        .json(&update)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redelivery_right_after_a_restore_on_a_fresh_container_is_not_answered_again() {
    const OTHER: i64 = 5151;
    let (telegram, model) = (FakeTelegram::start().await, FakeAnthropic::start().await);
    let seaweed = support::seaweed::Seaweed::start().await;
    let mut env: Vec<(String, String)> = seaweed.env();
    for (name, value) in [
        ("TELEGRAM_MODE", "webhook"),
        ("TELEGRAM_WEBHOOK_SECRET", "hook-secret"),
        ("MOLT_REPLICATION_INTERVAL_MS", "200"),
    ] {
        env.push((name.into(), value.into()));
    }
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    // A stranger's message is answered with a pairing code, which no idempotency key guards:
    // only the replicated record of the update does.
    let first_dir = tempfile::tempdir().unwrap();
    let first = start(first_dir.path(), &telegram, &model, &pairs).await;
    post_update(&first, 90, USER).await;
    telegram.wait_until("the pairing code", |calls| sent_to(calls, "sendMessage", USER).len() == 1).await;
    first.stop().await.unwrap();

    let fresh = tempfile::tempdir().unwrap();
    let second = start(fresh.path(), &telegram, &model, &pairs).await;
    post_update(&second, 90, USER).await;
    post_update(&second, 91, OTHER).await;
    telegram.wait_until("the other stranger's code", |calls| sent_to(calls, "sendMessage", OTHER).len() == 1).await;
    second.stop().await.unwrap();
    assert_eq!(
        sent_to(&telegram.calls(), "sendMessage", USER).len(),
        1,
        "update 90 was answered once across the restore"
    );
    assert!(model.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_turn_tells_the_chat_its_kind_never_the_providers_words() {
    let (telegram, model) = (FakeTelegram::start().await, FakeAnthropic::start().await);
    let dir = tempfile::tempdir().unwrap();
    let gateway = start(dir.path(), &telegram, &model, &[("TELEGRAM_DM_POLICY", "open")]).await;
    let detail = "messages.0: bad input; see https://internal.example/v1/messages?key=sk-ant-secret";
    model.push(Reply::status(400, "invalid_request_error", detail));
    telegram.message(USER, USER, "hi");
    let calls = telegram.wait_until("the error", |calls| !sent_to(calls, "sendMessage", USER).is_empty()).await;
    let shown = sent_to(&calls, "sendMessage", USER)[0].body["text"].as_str().unwrap().to_owned();
    assert!(shown.contains("could not answer"), "{shown}");
    for leak in ["internal.example", "sk-ant", "HTTP 400", "messages.0"] {
        assert!(!shown.contains(leak), "{leak} reached the chat: {shown}");
    }
    gateway.stop().await.unwrap();
}
