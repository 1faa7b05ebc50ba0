//! A long conversation against a model's budget: one session of N turns (user messages of 20–60
//! words, replies of 80–200, from a fixed vocabulary with a seeded RNG) through the gateway to
//! the fake Anthropic server, which accounts the prompt cache as Anthropic documents it
//! (`tests/it/support/prompt_cache.rs`: 4 bytes a token, 1,024-token minimum, 20-block
//! lookback). Prints the largest prompt against the budget (window less `max_tokens`), the
//! compactions, and the share of prompt tokens served from the cache.
//! Run: `cargo bench --bench conversation -- [--turns 1000] [--context 200000]`.

#[path = "../tests/it/support/mod.rs"]
mod support;

#[path = "measure/mod.rs"]
mod measure;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use support::client::{Client, ConnectOptions};
use support::fake_anthropic::{FakeAnthropic, Reply, SUMMARY_SYSTEM};
use support::gateway::{TOKEN, TestGateway};

const MAX_TOKENS: u64 = 4096;

const WORDS: &[&str] = &[
    "the", "a", "map", "garden", "train", "tomorrow", "meeting", "recipe", "budget", "Lyon", "Ada", "book", "coffee",
    "weekend", "project", "deadline", "invoice", "friend", "birthday", "weather", "river", "bicycle", "museum", "plan",
    "and", "but", "because", "with", "for", "about", "remember", "maybe", "quickly", "later", "again", "small", "old",
    "new", "green", "tea", "letter", "call", "doctor", "ticket", "hotel", "route", "list", "note", "question", "idea",
];

fn sentence(rng: &mut StdRng, words: usize) -> String {
    (0..words).map(|_| WORDS[rng.random_range(0..WORDS.len())]).collect::<Vec<_>>().join(" ")
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(run(measure::flag("--turns", 1000) as usize, measure::flag("--context", 200_000)));
}

async fn run(turns: usize, context: u64) {
    let fake = FakeAnthropic::start().await;
    fake.account_prompt_cache();
    fake.summarize_with(&format!("- {}", "the user plans a trip to Lyon with Ada; ".repeat(20)));
    let gateway = TestGateway::builder()
        .model(&fake)
        .envs(&[("MOLT_CONTEXT_TOKENS", &context.to_string()), ("MOLT_MAX_TOKENS", &MAX_TOKENS.to_string())])
        .start()
        .await;
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new(TOKEN)).await.expect("connect");
    let mut rng = StdRng::seed_from_u64(7);
    for turn in 0..turns {
        let (asked, answered) = (rng.random_range(20..=60), rng.random_range(80..=200));
        let question = sentence(&mut rng, asked);
        let answer = sentence(&mut rng, answered);
        fake.push(Reply::text(&answer));
        let ack = client
            .call("chat.send", json!({"sessionKey": "main", "message": format!("{turn}: {question}"), "idempotencyKey": format!("k{turn}")}))
            .await;
        let end = client.chat_run(ack["runId"].as_str().expect("run id")).await;
        assert_eq!(end.last().map(|event| event["state"].clone()), Some(json!("final")), "turn {turn}");
    }
    let requests = fake.requests();
    let accounted = fake.accounted();
    let is_summary = |body: &serde_json::Value| {
        body["system"][0]["text"].as_str().is_some_and(|text| text.starts_with(SUMMARY_SYSTEM))
    };
    let pairs: Vec<_> = requests.iter().zip(&accounted).collect();
    let turns_only: Vec<_> = pairs.iter().filter(|(request, _)| !is_summary(&request.body)).map(|(_, a)| **a).collect();
    let summaries = pairs.len() - turns_only.len();
    let largest = turns_only.iter().map(|a| a.total()).max().unwrap_or(0);
    let mean = turns_only.iter().map(|a| a.total()).sum::<u64>() / turns_only.len().max(1) as u64;
    let read: u64 = turns_only.iter().map(|a| a.cache_read_input_tokens).sum();
    let written: u64 = turns_only.iter().map(|a| a.cache_creation_input_tokens).sum();
    let all: u64 = turns_only.iter().map(|a| a.total()).sum();
    let all_read: u64 = accounted.iter().map(|a| a.cache_read_input_tokens).sum();
    let all_tokens: u64 = accounted.iter().map(|a| a.total()).sum();
    println!(
        "{turns} turns, context window {context} tokens, max_tokens {MAX_TOKENS}: budget for the prompt {}",
        context - MAX_TOKENS
    );
    println!(
        "prompt tokens per turn: mean {mean}, largest {largest} ({}% of the budget)",
        largest * 100 / (context - MAX_TOKENS)
    );
    println!("compactions: {summaries}");
    println!(
        "turn requests: {:.1}% of prompt tokens read from the cache, {:.1}% written to it",
        read as f64 * 100.0 / all as f64,
        written as f64 * 100.0 / all as f64
    );
    println!(
        "all requests (compactions included): {:.1}% read from the cache",
        all_read as f64 * 100.0 / all_tokens as f64
    );
    client.close().await;
    gateway.stop().await.expect("stop");
}
