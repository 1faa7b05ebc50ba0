//! `memory_search` as the model uses it: ranked answers with sources, dates and snippets,
//! bounded, and a guest who never reads another person's conversations or notes.

use std::path::Path;
use std::time::Duration;

use super::*;
use crate::core::asker::{Asker, Rights};
use crate::core::ids::{RunId, SessionKey};
use crate::core::settings::ToolSettings;
use crate::daemon::agent::tools::{Registry, RoundLimits, run_round};
use crate::daemon::providers::ToolUse;
use crate::daemon::store::{MessageRole, NewMessage, Store, Usage};

const OPERATOR_SESSION: &str = "agent:main:main";
const GUEST_SESSION: &str = "agent:main:telegram:direct:77";
const OTHER_SESSION: &str = "agent:main:telegram:direct:88";

fn operator(dir: &Path, store: &Store) -> ToolContext {
    ToolContext {
        workspace: dir.join("workspace"),
        store: store.clone(),
        session_key: SessionKey::parse(OPERATOR_SESSION).unwrap(),
        asker: Asker::Operator,
        scope: MemoryScope::Shared,
    }
}

fn guest(dir: &Path, store: &Store) -> ToolContext {
    let (channel, sender_id) = ("telegram".to_owned(), "77".to_owned());
    ToolContext {
        workspace: dir.join("workspace"),
        store: store.clone(),
        session_key: SessionKey::parse(GUEST_SESSION).unwrap(),
        asker: Asker::Sender { channel: channel.clone(), sender_id: sender_id.clone() },
        scope: MemoryScope::Sender { channel, sender_id },
    }
}

async fn say(store: &Store, session: &str, role: MessageRole, text: &str) {
    store
        .append_message(NewMessage {
            session_key: SessionKey::parse(session).unwrap(),
            run_id: RunId::generate(),
            role,
            content: text.into(),
            idempotency_key: None,
            model: None,
            stop_reason: None,
            usage: Usage::default(),
            tools: Vec::new(),
        })
        .await
        .unwrap();
}

/// A store with three people's conversations and notes, all about a boat.
async fn fixture(dir: &Path) -> Store {
    let workspace = dir.join("workspace");
    std::fs::create_dir_all(workspace.join("memory/telegram")).unwrap();
    std::fs::write(workspace.join("MEMORY.md"), "# Boat\n\n- The boat is moored at pier 9\n").unwrap();
    std::fs::write(workspace.join("memory/2025-03-14.md"), "Sold the old boat engine to Lea\n").unwrap();
    std::fs::write(workspace.join("memory/telegram/77.md"), "- I want a boat trip in May\n").unwrap();
    std::fs::write(workspace.join("memory/telegram/88.md"), "- my boat locker code is 4417\n").unwrap();
    let store = Store::open(dir).unwrap();
    say(&store, OPERATOR_SESSION, MessageRole::User, "remind me to repaint the boat hull").await;
    say(&store, OPERATOR_SESSION, MessageRole::Assistant, "Noted: repaint the hull of the boat in spring").await;
    say(&store, GUEST_SESSION, MessageRole::User, "can we take the boat out on Sunday?").await;
    say(&store, OTHER_SESSION, MessageRole::User, "the boat key is under the blue mat").await;
    store
}

async fn call(context: &ToolContext, input: Value) -> Result<String, ToolError> {
    MemorySearch.call(input, context).await
}

#[tokio::test]
async fn the_operator_finds_every_conversation_and_note_ranked_with_sources_and_dates() {
    let dir = tempfile::tempdir().unwrap();
    let store = fixture(dir.path()).await;
    let answer = call(&operator(dir.path(), &store), json!({"query": "boat hull repaint", "limit": 20})).await.unwrap();
    assert!(answer.starts_with("8 matches for: boat, hull, repaint, best first"), "{answer}");
    // Both words of the question rank the two messages that hold them first.
    let first_two: Vec<&str> = answer.lines().filter(|line| line.starts_with(['1', '2'])).collect();
    assert!(first_two.iter().all(|line| line.contains(&format!("conversation `{OPERATOR_SESSION}`"))), "{answer}");
    assert!(answer.contains("remind me to **repaint** the **boat** **hull**"), "{answer}");
    assert!(answer.contains("note `memory/2025-03-14.md` line 1, 2025-03-14"), "{answer}");
    assert!(answer.contains("note `MEMORY.md` line 1, "), "{answer}");
    assert!(
        answer.contains("# **Boat** - The **boat** is moored at pier 9"),
        "a heading goes with its paragraph: {answer}"
    );
    assert!(answer.contains("note `memory/telegram/88.md` line 1"), "{answer}");
    assert!(answer.contains(&format!("conversation `{OTHER_SESSION}`, user, ")), "{answer}");
    assert!(answer.contains(" UTC\n"), "messages carry their time: {answer}");
}

#[tokio::test]
async fn a_guest_sees_only_their_conversation_the_shared_memory_and_their_own_notes() {
    let dir = tempfile::tempdir().unwrap();
    let store = fixture(dir.path()).await;
    let answer = call(&guest(dir.path(), &store), json!({"query": "boat key locker code", "limit": 20})).await.unwrap();
    assert!(answer.contains(&format!("conversation `{GUEST_SESSION}`")), "{answer}");
    assert!(answer.contains("note `MEMORY.md`"), "{answer}");
    assert!(answer.contains("note `memory/telegram/77.md`"), "{answer}");
    for private in [OPERATOR_SESSION, OTHER_SESSION, "88.md", "4417", "blue mat", "2025-03-14.md", "hull"] {
        assert!(!answer.contains(private), "`{private}` leaked to a guest: {answer}");
    }
    assert!(answer.contains("this conversation, MEMORY.md and this person's own notes"), "{answer}");
    assert!(answer.starts_with("3 matches"), "{answer}");
}

#[tokio::test]
async fn a_guest_may_run_it_through_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let store = fixture(dir.path()).await;
    let registry = Registry::built_in(&ToolSettings::default());
    assert!(registry.offered(Rights::Guest).iter().any(|spec| spec.name == MEMORY_SEARCH));
    let calls = [ToolUse { id: "1".into(), name: MEMORY_SEARCH.into(), input: json!({"query": "Sunday"}) }];
    let limits = RoundLimits { call_timeout: Duration::from_secs(30), max_result_bytes: 100_000 };
    let context = guest(dir.path(), &store);
    let outcomes = run_round(&registry, &calls, Rights::Guest, &context, limits, &|_| {}, &|_| {}).await;
    assert!(!outcomes[0].is_error, "{}", outcomes[0].result);
    assert!(outcomes[0].result.contains("take the boat out on **Sunday**"), "{}", outcomes[0].result);
}

#[tokio::test]
async fn limits_default_to_five_and_stop_at_twenty_and_the_answer_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    // Tokens of a thousand letters: snippets of 24 tokens would run far past their bound.
    let long = format!("tern {}", format!("{} ", "y".repeat(1_000)).repeat(30));
    for n in 0..30 {
        say(&store, OPERATOR_SESSION, MessageRole::User, &format!("gull sighting number {n}")).await;
    }
    let context = operator(dir.path(), &store);
    let count = |answer: &str| answer.lines().filter(|line| line.contains(&format!("`{OPERATOR_SESSION}`"))).count();
    assert_eq!(count(&call(&context, json!({"query": "gull"})).await.unwrap()), DEFAULT_LIMIT);
    assert_eq!(count(&call(&context, json!({"query": "gull", "limit": 500})).await.unwrap()), MAX_HITS);
    assert_eq!(count(&call(&context, json!({"query": "gull", "limit": 0})).await.unwrap()), 1);
    for _ in 0..30 {
        say(&store, OPERATOR_SESSION, MessageRole::User, &long).await;
    }
    let answer = call(&context, json!({"query": "tern", "limit": 20})).await.unwrap();
    assert!(answer.len() <= MAX_OUTPUT_BYTES + 100, "{} bytes", answer.len());
    assert!(answer.ends_with("more matches not shown: the answer reached its size limit]"), "{answer}");
    assert!(answer.lines().all(|line| line.chars().count() <= MAX_SNIPPET_CHARS + 1), "{answer}");
    assert!(answer.lines().any(|line| line.chars().count() == MAX_SNIPPET_CHARS + 1), "a snippet was cut");
}

#[tokio::test]
async fn bad_queries_get_a_clear_answer_and_hostile_ones_search_their_words() {
    let dir = tempfile::tempdir().unwrap();
    let store = fixture(dir.path()).await;
    let context = operator(dir.path(), &store);
    let empty = call(&context, json!({"query": "  "})).await.unwrap_err();
    assert_eq!(empty.to_string(), "the query is empty: give a few words to look for");
    assert!(call(&context, json!({})).await.unwrap_err().to_string().starts_with("invalid arguments"));
    assert!(call(&context, json!({"query": "boat", "limit": -1})).await.is_err());
    let nothing = call(&context, json!({"query": "\"*\" -:"})).await.unwrap();
    assert!(nothing.starts_with("no matches: the query has no words"), "{nothing}");
    let hostile = call(&context, json!({"query": "NEAR(boat\" AND col:hull*"})).await.unwrap();
    assert!(hostile.starts_with("5 matches for: near, boat, col, hull"), "{hostile}");
    let none = call(&context, json!({"query": "zeppelin"})).await.unwrap();
    assert_eq!(none, "no matches for: zeppelin");
}

#[test]
fn an_answer_says_when_only_recent_matches_were_ranked() {
    let terms = SearchTerms::parse("the").unwrap();
    let results = SearchResults { hits: Vec::new(), recent_only: true };
    let answer = render(&terms, &SearchReach::Everything, &results);
    assert!(
        answer.starts_with("no matches for: the\n(too many matches to rank them all: the most recent were ranked"),
        "{answer}"
    );
    assert!(!render(&terms, &SearchReach::Everything, &SearchResults::default()).contains("too many"));
}
