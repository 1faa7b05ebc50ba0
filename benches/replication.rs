//! Replication figures for BENCHMARKS.md, against SeaweedFS on 127.0.0.1: replication lag
//! (commit → manifest in the bucket) while chatting, bucket operations per hour while chatting
//! and while idle, the stop's final flush, and restore time for 10,000 messages (from the
//! newest snapshot, and with every change replayed from segments).
//! Run: `scripts/test.sh` once (installs `weed`), then
//! `PATH=~/.cache/molt/seaweedfs-4.48/bin:$PATH cargo bench --bench replication`.

#[path = "../tests/it/support/seaweed.rs"]
#[expect(dead_code, reason = "the benchmark only starts the server and reads its settings")]
mod seaweed;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use molt::core::ids::{RunId, SessionKey};
use molt::core::settings::{FileConfig, GatewayFlags, Settings};
use molt::daemon::replication::Replication;
use molt::daemon::store::{MessageRole, NewMessage, Store, Usage};
use tokio_util::sync::CancellationToken;

const MESSAGES: usize = 10_000;
const CHAT_SECONDS: u64 = 30;
const CHAT_RATE_PER_SECOND: u64 = 10;
const IDLE_SECONDS: u64 = 10;

fn resolve(seaweed: &seaweed::Seaweed, data_dir: &Path, extra: &[(&str, &str)]) -> Settings {
    let mut map: HashMap<String, String> = seaweed.env().into_iter().collect();
    map.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let env = move |name: &str| map.get(name).cloned();
    let flags = GatewayFlags { data_dir: Some(data_dir.to_owned()), ..GatewayFlags::default() };
    Settings::resolve(&flags, &env, &FileConfig::default()).expect("settings")
}

fn message(index: usize) -> NewMessage {
    NewMessage {
        session_key: SessionKey::parse(&format!("agent:main:bench:direct:{}", index % 20)).unwrap(),
        run_id: RunId::generate(),
        role: if index.is_multiple_of(2) { MessageRole::User } else { MessageRole::Assistant },
        content: format!("message {index}: {}", "lorem ipsum dolor sit amet ".repeat(8)),
        idempotency_key: None,
        model: None,
        stop_reason: None,
        usage: Usage::default(),
        tools: Vec::new(),
    }
}

async fn open(settings: &Settings) -> (Replication, Store) {
    let data_dir = settings.data_dir.clone();
    let workspace = data_dir.join("workspace");
    std::fs::create_dir_all(&workspace).unwrap();
    let replication = Replication::new(settings.replication.as_ref()).unwrap();
    replication.restore(&data_dir, &workspace, &CancellationToken::new(), |_| {}).await.expect("restore");
    let store = Store::open(&data_dir).unwrap();
    replication.start(store.clone(), &data_dir, &workspace, |reason| panic!("fenced: {reason}"));
    (replication, store)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn restore_time(seaweed: &seaweed::Seaweed, extra: &[(&str, &str)]) -> (f64, u64) {
    let dir = tempfile::tempdir().unwrap();
    let settings = resolve(seaweed, dir.path(), extra);
    let replication = Replication::new(settings.replication.as_ref()).unwrap();
    let workspace = dir.path().join("workspace");
    std::fs::create_dir_all(&workspace).unwrap();
    let started = Instant::now();
    replication.restore(dir.path(), &workspace, &CancellationToken::new(), |_| {}).await.expect("restore");
    let elapsed = started.elapsed().as_secs_f64() * 1000.0;
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.message_count().await.unwrap(), MESSAGES as u64);
    let replayed = replication.status().restored.map_or(0, |restored| restored.changes_replayed);
    (elapsed, replayed)
}

#[tokio::main]
async fn main() {
    let seaweed = seaweed::Seaweed::start().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = resolve(&seaweed, dir.path(), &[]);
    let (replication, store) = open(&settings).await;

    // Chatting: a steady stream of messages; lag = commit → the manifest naming it is written.
    let mut committed_at: Vec<(u64, Instant)> = Vec::new();
    let mut lags = Vec::new();
    let ops_before = replication.status().operations;
    let started = Instant::now();
    let mut written = 0;
    let mut next = Instant::now();
    while started.elapsed() < Duration::from_secs(CHAT_SECONDS) {
        if Instant::now() >= next {
            store.append_message(message(written)).await.unwrap();
            written += 1;
            committed_at.push((*store.subscribe_changes().borrow(), Instant::now()));
            next += Duration::from_millis(1000 / CHAT_RATE_PER_SECOND);
        }
        let shipped = replication.status().last_shipped_seq;
        committed_at.retain(|(seq, at)| {
            if *seq <= shipped {
                lags.push(at.elapsed().as_secs_f64() * 1000.0);
                false
            } else {
                true
            }
        });
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let chat_elapsed = started.elapsed().as_secs_f64();
    let ops_chatting = replication.status().operations;
    let chat_a = (ops_chatting.class_a_total - ops_before.class_a_total) as f64 / chat_elapsed * 3600.0;
    let chat_b = (ops_chatting.class_b_total - ops_before.class_b_total) as f64 / chat_elapsed * 3600.0;
    let deadline = Instant::now() + Duration::from_secs(10);
    while !committed_at.is_empty() && Instant::now() < deadline {
        let shipped = replication.status().last_shipped_seq;
        committed_at.retain(|(seq, at)| {
            if *seq <= shipped {
                lags.push(at.elapsed().as_secs_f64() * 1000.0);
                false
            } else {
                true
            }
        });
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    lags.sort_by(f64::total_cmp);

    // Idle.
    let idle_before = replication.status().operations;
    tokio::time::sleep(Duration::from_secs(IDLE_SECONDS)).await;
    let idle_after = replication.status().operations;
    let idle_ops =
        (idle_after.class_a_total + idle_after.class_b_total) - (idle_before.class_a_total + idle_before.class_b_total);

    // Fill to 10,000 messages, then a stop with its final flush.
    while written < MESSAGES {
        store.append_message(message(written)).await.unwrap();
        written += 1;
    }
    let flush_started = Instant::now();
    store.flush().await.unwrap();
    replication.stop().await;
    let flush_ms = flush_started.elapsed().as_secs_f64() * 1000.0;
    let (snapshot_ms, snapshot_replayed) = restore_time(&seaweed, &[]).await;

    // The same 10,000 messages with no snapshot but the first: every change replayed.
    let dir = tempfile::tempdir().unwrap();
    let no_snapshots = [("MOLT_S3_PREFIX", "segments-only"), ("MOLT_SNAPSHOT_EVERY", "100000000")];
    let settings = resolve(&seaweed, dir.path(), &no_snapshots);
    let (replication, store) = open(&settings).await;
    for index in 0..MESSAGES {
        store.append_message(message(index)).await.unwrap();
    }
    store.flush().await.unwrap();
    replication.stop().await;
    let (segments_ms, segments_replayed) = restore_time(&seaweed, &no_snapshots).await;

    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| replication lag while chatting ({CHAT_RATE_PER_SECOND} messages/s, window 1 s): p50 / p99 / max | {:.0} / {:.0} / {:.0} ms |",
        percentile(&lags, 0.5),
        percentile(&lags, 0.99),
        percentile(&lags, 1.0)
    );
    println!(
        "| bucket operations while chatting, per hour: class A (writes) / class B (reads) | {chat_a:.0} / {chat_b:.0} |"
    );
    println!("| bucket operations while idle ({IDLE_SECONDS} s measured) | {idle_ops} |");
    println!("| stop: final flush after a burst | {flush_ms:.0} ms |");
    println!("| restore 10,000 messages: newest snapshot + {snapshot_replayed} changes | {snapshot_ms:.0} ms |");
    println!(
        "| restore 10,000 messages: every change from segments ({segments_replayed} changes) | {segments_ms:.0} ms |"
    );
}
