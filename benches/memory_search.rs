//! `memory_search` latency for BENCHMARKS.md: a store of 100,000 messages of varied text (words
//! drawn from a fixed vocabulary with Zipf-like frequencies and a seeded RNG, so every run
//! writes the same history) across 400 sessions, and a workspace of notes; then 1,000 varied
//! queries through the function the tool runs, as the operator (every session, every note) and
//! as a guest (one session, `MEMORY.md` and their own notes). Prints p50 / p99 / max.
//! Run: `CARGO_TARGET_DIR=$HOME/.cache/molt/target-release cargo bench --bench memory_search`
//! (`MOLT_BENCH_MESSAGES=5000` for a quick run).

use std::path::Path;
use std::time::Instant;

use molt::core::asker::{Asker, MemoryScope};
use molt::core::ids::{RunId, SessionKey};
use molt::daemon::agent::tools::ToolContext;
use molt::daemon::agent::tools::memory_search;
use molt::daemon::store::{MessageRole, NewMessage, Store, Usage};
use rand::distr::Distribution;
use rand::distr::weighted::WeightedIndex;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const SEED: u64 = 0x6d6f_6c74;
const MESSAGES: usize = 100_000;
const SESSIONS: usize = 400;
const QUERIES: usize = 1_000;
const WARM_UP: usize = 100;
/// Made-up words (names, places, jargon): the long tail of a real history.
const RARE_WORDS: usize = 6_000;

/// Words of everyday chat with an assistant, most common first.
const COMMON: &str = "the to and a of i you it is in that for on my with this be me can we have what are \
    at so do your not but just if about was will from or it's how like an all get there one they some \
    would when up out time know think need want make could did go more also sure here see good day \
    yes no thanks please today tomorrow week tonight morning evening meeting call email message reply \
    send remind reminder note list plan trip flight train hotel booking ticket dinner lunch breakfast \
    coffee tea restaurant recipe cook pasta rice soup bread groceries shopping buy order delivery price \
    budget money bank card payment invoice bill rent tax account password login code bug fix deploy \
    server build test release update version install error log config file folder document report \
    draft write read review summary idea question answer problem help work project task deadline client \
    team manager colleague friend family mom dad sister brother kids school doctor dentist appointment \
    health sleep run gym walk bike weather rain sun snow cold warm birthday gift party holiday weekend \
    summer winter spring autumn city house home garden car keys phone laptop battery charger music \
    song movie book podcast game photo video news article link website app notification calendar \
    schedule monday tuesday wednesday thursday friday saturday sunday january february march april may \
    june july august september october november december number address street station airport \
    luggage passport visa map route distance hour minute later earlier soon again still already never \
    always often maybe probably really very quite much many few last next first second new old big \
    small long short important urgent easy hard quick slow free busy happy tired ready done finished \
    started cancel change move keep start stop check find look try ask tell say remember forget learn \
    explain translate compare choose decide agree prefer love hate enjoy wait leave arrive return stay";

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ra", "ten", "vel", "dor", "an", "is", "ul", "bre", "sto", "quin", "mar", "fel", "gri", "zan",
    "pol", "ed", "os", "tha", "wen", "hul", "cy", "rho", "nid", "bas", "ver", "lum", "tor",
];

/// The vocabulary, most frequent first: the everyday words, then made-up rare ones.
fn vocabulary(rng: &mut StdRng) -> Vec<String> {
    let mut words: Vec<String> = COMMON.split_whitespace().map(str::to_owned).collect();
    let mut rare = std::collections::BTreeSet::new();
    while rare.len() < RARE_WORDS {
        let parts = rng.random_range(2..=4);
        let word: String = (0..parts).map(|_| SYLLABLES[rng.random_range(0..SYLLABLES.len())]).collect();
        if !words.contains(&word) {
            rare.insert(word);
        }
    }
    words.extend(rare);
    words
}

/// Zipf-like weights: the word of rank r is drawn with weight 1 / r.
fn zipf(size: usize) -> WeightedIndex<f64> {
    WeightedIndex::new((1..=size).map(|rank| 1.0 / rank as f64)).expect("weights")
}

fn sentence(rng: &mut StdRng, words: &[String], draw: &WeightedIndex<f64>, length: usize) -> String {
    let mut text = String::new();
    for index in 0..length {
        let word = &words[draw.sample(rng)];
        if index == 0 {
            let mut chars = word.chars();
            text.extend(chars.next().map(|c| c.to_ascii_uppercase()));
            text.push_str(chars.as_str());
        } else {
            text.push(' ');
            text.push_str(word);
        }
        if index + 1 < length && rng.random_bool(0.08) {
            text.push(',');
        }
    }
    text.push(if rng.random_bool(0.2) { '?' } else { '.' });
    text
}

fn message(rng: &mut StdRng, words: &[String], draw: &WeightedIndex<f64>, index: usize) -> NewMessage {
    let session = index % SESSIONS;
    let key = match session % 4 {
        0 => format!("agent:main:web-{session}"),
        1 => format!("agent:main:telegram:direct:{session}"),
        2 => format!("agent:main:discord:direct:{session}"),
        _ => format!("agent:main:slack:direct:{session}"),
    };
    let role = if index.is_multiple_of(2) { MessageRole::User } else { MessageRole::Assistant };
    let sentences = match role {
        MessageRole::User => rng.random_range(1..=3),
        MessageRole::Assistant => rng.random_range(2..=8),
    };
    let content = (0..sentences)
        .map(|_| {
            let length = rng.random_range(4..=18);
            sentence(rng, words, draw, length)
        })
        .collect::<Vec<_>>()
        .join(" ");
    NewMessage {
        session_key: SessionKey::parse(&key).expect("session key"),
        run_id: RunId::generate(),
        role,
        content,
        idempotency_key: None,
        model: None,
        stop_reason: None,
        usage: Usage::default(),
        tools: Vec::new(),
    }
}

/// `MEMORY.md` near its cap, a month of dated notes and notes of 20 senders.
fn notes(workspace: &Path, rng: &mut StdRng, words: &[String], draw: &WeightedIndex<f64>) {
    std::fs::create_dir_all(workspace.join("memory/telegram")).expect("notes folder");
    let facts: String = (0..600).map(|_| format!("- {}\n", sentence(rng, words, draw, 12))).collect();
    std::fs::write(workspace.join("MEMORY.md"), facts).expect("MEMORY.md");
    for day in 1..=30 {
        let text: String = (0..20).map(|_| format!("{}\n\n", sentence(rng, words, draw, 14))).collect();
        std::fs::write(workspace.join(format!("memory/2026-11-{day:02}.md")), text).expect("dated note");
    }
    for sender in 0..20 {
        let text: String = (0..10).map(|_| format!("- {}\n", sentence(rng, words, draw, 10))).collect();
        std::fs::write(workspace.join(format!("memory/telegram/{sender}.md")), text).expect("sender note");
    }
}

/// 1 to 6 words, from anywhere in the vocabulary (common, rare, absent), sometimes with the
/// punctuation and operators a model may write.
fn query(rng: &mut StdRng, words: &[String], draw: &WeightedIndex<f64>) -> String {
    let count = rng.random_range(1..=6);
    let mut parts: Vec<String> = (0..count)
        .map(|_| match rng.random_range(0..10) {
            0..=3 => words[draw.sample(rng)].clone(),
            4..=8 => words[rng.random_range(0..words.len())].clone(),
            _ => format!("zq{}", rng.random_range(0..1000)),
        })
        .collect();
    if rng.random_bool(0.1) {
        parts.push(["\"", "AND", "*", "NEAR(", "col:", "-"][rng.random_range(0..6)].to_owned());
    }
    parts.join(" ")
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn measure(context: &ToolContext, queries: &[String]) -> (Vec<f64>, usize) {
    for text in queries.iter().take(WARM_UP) {
        memory_search::search(context, text, memory_search::DEFAULT_LIMIT).await.expect("search");
    }
    let mut times = Vec::with_capacity(queries.len());
    let mut bytes = 0;
    for text in queries {
        let started = Instant::now();
        let answer = memory_search::search(context, text, memory_search::DEFAULT_LIMIT).await.expect("search");
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        bytes = bytes.max(answer.len());
    }
    times.sort_by(f64::total_cmp);
    (times, bytes)
}

#[tokio::main]
async fn main() {
    let total: usize = std::env::var("MOLT_BENCH_MESSAGES").ok().and_then(|raw| raw.parse().ok()).unwrap_or(MESSAGES);
    let mut rng = StdRng::seed_from_u64(SEED);
    let words = vocabulary(&mut rng);
    let draw = zipf(words.len());
    let dir = tempfile::tempdir().expect("temporary folder");
    let workspace = dir.path().join("workspace");
    notes(&workspace, &mut rng, &words, &draw);
    let store = Store::open(dir.path()).expect("store");

    let started = Instant::now();
    for index in 0..total {
        store.append_message(message(&mut rng, &words, &draw, index)).await.expect("append");
    }
    let fill_seconds = started.elapsed().as_secs_f64();
    store.flush().await.expect("checkpoint");
    store.index_notes(&workspace).await.expect("notes index");
    let sizes: Vec<(String, i64)> = store
        .call(|connection| {
            let mut statement = connection.prepare(
                "SELECT CASE WHEN name LIKE 'messages_search%' THEN 'messages index'
                             WHEN name LIKE 'notes_%' THEN 'notes index' ELSE 'everything else' END AS part,
                        SUM(pgsize) FROM dbstat GROUP BY part ORDER BY part",
            )?;
            let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?)
        })
        .await
        .expect("sizes");

    let queries: Vec<String> = (0..QUERIES).map(|_| query(&mut rng, &words, &draw)).collect();
    let operator = ToolContext {
        workspace: workspace.clone(),
        store: store.clone(),
        session_key: SessionKey::main(),
        asker: Asker::Operator,
        scope: MemoryScope::Shared,
    };
    let guest = ToolContext {
        session_key: SessionKey::parse("agent:main:telegram:direct:5").expect("session key"),
        asker: Asker::Sender { channel: "telegram".into(), sender_id: "5".into() },
        scope: MemoryScope::Sender { channel: "telegram".into(), sender_id: "5".into() },
        ..operator.clone()
    };
    let (as_operator, operator_bytes) = measure(&operator, &queries).await;
    let (as_guest, guest_bytes) = measure(&guest, &queries).await;

    let mib = |bytes: i64| bytes as f64 / (1024.0 * 1024.0);
    println!("| figure | value |");
    println!("|---|---|");
    println!("| messages stored (400 sessions), vocabulary | {total} messages, {} words |", words.len());
    println!("| fill through `append_message`, index kept by triggers | {fill_seconds:.1} s |");
    for (part, bytes) in &sizes {
        println!("| database: {part} | {:.1} MiB |", mib(*bytes));
    }
    for (who, times, bytes) in [("operator", &as_operator, operator_bytes), ("guest", &as_guest, guest_bytes)] {
        println!(
            "| `memory_search`, {who}, {} queries, limit {}: p50 / p99 / max | {:.2} / {:.2} / {:.2} ms |",
            times.len(),
            memory_search::DEFAULT_LIMIT,
            percentile(times, 0.5),
            percentile(times, 0.99),
            percentile(times, 1.0)
        );
        println!("| largest answer, {who} | {bytes} bytes |");
    }
}
