//! Slash commands from the protocol and from Telegram: answered by the gateway as a run of
//! their own, never sent to the model, never stored; `/new` sets the history aside, `/reset`
//! clears it, `/model` switches among the configured models, `/compact` condenses, `/status`
//! reports.

use crate::support;

use serde_json::{Value, json};
use support::client::{Client, ConnectOptions};
use support::fake_anthropic::{self, FakeAnthropic};
use support::fake_telegram::FakeTelegram;
use support::gateway::{TOKEN, TestGateway};

fn key() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Sends `text` to `session` and returns the run's final text.
async fn say_in(client: &mut Client, session: &str, text: &str) -> String {
    let ack = client.call("chat.send", json!({"sessionKey": session, "message": text, "idempotencyKey": key()})).await;
    let end = client.chat_run(ack["runId"].as_str().unwrap()).await.pop().unwrap();
    assert_eq!(end["state"], "final", "{end}");
    end["message"]["content"][0]["text"].as_str().unwrap().to_owned()
}

async fn say(client: &mut Client, text: &str) -> String {
    say_in(client, "main", text).await
}

async fn history(client: &mut Client) -> Vec<Value> {
    client.call("chat.history", json!({"sessionKey": "main"})).await["messages"].as_array().unwrap().clone()
}

#[tokio::test]
async fn commands_are_answered_by_the_gateway_and_change_the_session() {
    let fake = FakeAnthropic::start().await;
    fake.summarize_with("- Ada likes maps.");
    let gateway = TestGateway::builder().model(&fake).env("MOLT_FALLBACK_MODELS", "claude-haiku-4-5").start().await;
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();

    assert_eq!(say(&mut client, "/compact").await, "Nothing to condense yet.");
    fake.push(fake_anthropic::Reply::text("Hello Ada."));
    say(&mut client, "I am Ada and I like maps").await;
    let status = say(&mut client, "/status").await;
    assert!(status.starts_with("Model: `claude-sonnet-4-5`\nTokens used: 10 in"), "{status}");
    assert!(status.contains("Cost so far: $"), "{status}");
    let models = say(&mut client, "/model").await;
    assert_eq!(
        models,
        "This conversation uses `claude-sonnet-4-5`. Configured models: `claude-sonnet-4-5`, `claude-haiku-4-5`."
    );
    assert!(say(&mut client, "/model gpt-9").await.starts_with("`gpt-9` is not a configured model."));
    assert_eq!(say(&mut client, "/model claude-haiku-4-5").await, "This conversation now uses `claude-haiku-4-5`.");
    assert_eq!(fake.requests().len(), 1, "no command reached the model");
    assert_eq!(history(&mut client).await.len(), 2, "no command was stored");

    fake.push(fake_anthropic::Reply::text("Sure."));
    say(&mut client, "and old globes too").await;
    let request = fake.requests().pop().unwrap();
    assert_eq!(request.body["model"], "claude-haiku-4-5", "the session's model is used");

    let compacted = say(&mut client, "/compact").await;
    assert!(compacted.starts_with("The older messages were condensed"), "{compacted}");
    fake.push(fake_anthropic::Reply::text("Noted."));
    say(&mut client, "what do I like?").await;
    let request = fake.requests().pop().unwrap();
    assert!(request.body["system"][1]["text"].as_str().unwrap().contains("- Ada likes maps."));
    assert!(!request.body["messages"].to_string().contains("I am Ada"), "the condensed turns left the prompt");

    let fresh = say(&mut client, "/new").await;
    assert!(fresh.starts_with("Started a new conversation."), "{fresh}");
    fake.push(fake_anthropic::Reply::text("Hi again."));
    say(&mut client, "hello").await;
    let request = fake.requests().pop().unwrap();
    assert_eq!(request.body["messages"], json!([{"role": "user", "content": "hello"}]), "a fresh start");
    assert!(request.body["system"].as_array().unwrap().len() == 1, "and no summary");
    assert_eq!(history(&mut client).await.len(), 8, "the earlier messages stay in history");

    assert_eq!(say(&mut client, "/reset").await, "This conversation was cleared (8 messages).");
    assert!(history(&mut client).await.is_empty());
    assert!(say(&mut client, "/help").await.starts_with("Commands: `/new`"));
    assert_eq!(say(&mut client, "/STATUS@molt_bot").await.lines().next(), Some("Model: `claude-haiku-4-5`"));
    client.close().await;
    gateway.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn telegram_gets_command_answers_and_only_the_operator_switches_models() {
    let (telegram, model) = (FakeTelegram::start().await, FakeAnthropic::start().await);
    let gateway = TestGateway::builder()
        .telegram(&telegram)
        .model(&model)
        .envs(&[
            ("TELEGRAM_DM_POLICY", "open"),
            ("TELEGRAM_DM_ALLOW_FROM", "4242"),
            ("MOLT_FALLBACK_MODELS", "claude-haiku-4-5"),
        ])
        .start()
        .await;
    telegram.message(4242, 4242, "/status");
    telegram.wait_until("the status", |_| telegram.shown(4242).iter().any(|text| text.contains("Model:"))).await;
    telegram.message(777, 777, "/model claude-haiku-4-5");
    telegram.wait_until("the refusal", |_| !telegram.shown(777).is_empty()).await;
    assert_eq!(telegram.shown(777), ["Only the operator can switch models."]);
    telegram.message(4242, 4242, "/model claude-haiku-4-5");
    telegram.wait_until("the switch", |_| telegram.shown(4242).iter().any(|text| text.contains("now uses"))).await;
    assert!(model.requests().is_empty(), "commands never reach the model");
    gateway.stop().await.unwrap();
}
