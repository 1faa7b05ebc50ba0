//! Conversations that never outgrow the model: a long session against a small context window
//! is compacted (the summary replaces the older turns in the prompt, every message stays in
//! history), every request fits the window, cache breakpoints sit on the stable parts, and the
//! prompt cache serves the earlier turns.

use crate::support;

use serde_json::{Value, json};
use support::client::{Client, ConnectOptions};
use support::fake_anthropic::{self, FakeAnthropic, SUMMARY_SYSTEM};
use support::gateway::{TOKEN, TestGateway};

const CONTEXT: u64 = 8000;
const MAX_TOKENS: u64 = 500;

fn key() -> String {
    format!("{:032x}", rand::random::<u128>())
}

async fn say(client: &mut Client, text: &str) -> Value {
    let ack = client.call("chat.send", json!({"sessionKey": "main", "message": text, "idempotencyKey": key()})).await;
    client.chat_run(ack["runId"].as_str().unwrap()).await.pop().unwrap()
}

fn is_summary_request(body: &Value) -> bool {
    body["system"][0]["text"].as_str().is_some_and(|text| text.starts_with(SUMMARY_SYSTEM))
}

fn cache_marks(body: &Value) -> usize {
    body.to_string().matches("\"cache_control\"").count()
}

#[tokio::test]
async fn a_long_session_is_compacted_within_the_window_and_keeps_its_history() {
    let fake = FakeAnthropic::start().await;
    fake.account_prompt_cache();
    fake.summarize_with("- The user's name is Ada. - Ada collects old maps.");
    let gateway = TestGateway::builder()
        .model(&fake)
        .envs(&[("MOLT_CONTEXT_TOKENS", &CONTEXT.to_string()), ("MOLT_MAX_TOKENS", &MAX_TOKENS.to_string())])
        .start()
        .await;
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    let filler = "lorem ipsum dolor sit amet ".repeat(20);
    let turns = 60;
    for index in 0..turns {
        fake.push(fake_anthropic::Reply::text(&format!("Reply {index}. {filler}")));
        let text = if index == 0 {
            format!("My name is Ada and I collect old maps. {filler}")
        } else {
            format!("Turn {index}. {filler}")
        };
        let end = say(&mut client, &text).await;
        assert_eq!(end["state"], "final", "{end}");
    }

    let requests = fake.requests();
    let summaries: Vec<&Value> = requests.iter().map(|r| &r.body).filter(|body| is_summary_request(body)).collect();
    assert!(!summaries.is_empty(), "the session was compacted");
    let first = summaries[0]["messages"][0]["content"].as_str().unwrap();
    assert!(first.contains("User: My name is Ada and I collect old maps."), "the oldest turns were condensed");
    assert!(summaries[0].get("tools").is_none(), "the summary request offers no tools");

    let turns_sent: Vec<&Value> = requests.iter().map(|r| &r.body).filter(|body| !is_summary_request(body)).collect();
    assert_eq!(turns_sent.len(), turns);
    let last = turns_sent.last().unwrap();
    let summary = last["system"][1]["text"].as_str().expect("the summary follows the system prompt");
    assert!(summary.contains("Ada collects old maps"), "{summary}");
    assert!(!last["messages"].to_string().contains("My name is Ada"), "the condensed turns left the prompt");
    for body in requests.iter().map(|r| &r.body) {
        assert!(cache_marks(body) <= 4, "at most four cache breakpoints");
    }
    assert_eq!(cache_marks(last), 3, "system, summary and the end of the history");

    // The fake counts 4 bytes a token, molt 3: every request it accounted fits the window.
    let accounted = fake.accounted();
    assert_eq!(accounted.len(), requests.len());
    let largest = accounted.iter().map(|a| a.total()).max().unwrap();
    assert!(largest + MAX_TOKENS <= CONTEXT, "a request of {largest} prompt tokens");
    let read: u64 = accounted.iter().map(|a| a.cache_read_input_tokens).sum();
    let all: u64 = accounted.iter().map(|a| a.total()).sum();
    assert!(read * 100 / all >= 60, "the cache served {read} of {all} prompt tokens; {} summaries", summaries.len());

    // The full history stays.
    let history = client.call("chat.history", json!({"sessionKey": "main", "limit": 1000})).await;
    assert_eq!(history["messages"].as_array().unwrap().len(), turns * 2);
    client.close().await;
    gateway.stop().await.unwrap();
}

#[tokio::test]
async fn a_failed_compaction_falls_back_to_trimming_and_the_turn_still_answers() {
    let fake = FakeAnthropic::start().await;
    fake.refuse_summaries();
    let gateway = TestGateway::builder()
        .model(&fake)
        .envs(&[("MOLT_CONTEXT_TOKENS", "4000"), ("MOLT_MAX_TOKENS", "300"), ("MOLT_MODEL_MAX_ATTEMPTS", "1")])
        .start()
        .await;
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.unwrap();
    let filler = "words ".repeat(200);
    for index in 0..10 {
        fake.push(fake_anthropic::Reply::text(&format!("ok {index}")));
        let end = say(&mut client, &format!("turn {index} {filler}")).await;
        assert_eq!(end["message"]["content"][0]["text"], format!("ok {index}"), "every turn is answered");
    }
    let requests = fake.requests();
    let tried = requests.iter().filter(|r| is_summary_request(&r.body)).count();
    assert_eq!(tried, 1, "compaction was tried once, then the session rests from it");
    let last = &requests.last().unwrap().body;
    assert_eq!(last["system"].as_array().unwrap().len(), 1, "no summary was stored");
    assert!(!last["messages"].to_string().contains("turn 0 "), "the oldest turns were trimmed instead");
    client.close().await;
    gateway.stop().await.unwrap();
}
