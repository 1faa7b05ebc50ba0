//! The loss window, measured: the real `molt` binary is killed with SIGKILL at random moments
//! during chat traffic (12 times, bounded in time), and each time a fresh data directory
//! restores from the bucket. Every acknowledged message that is missing after the restore must
//! have been acknowledged within the shipping window before the kill, and every round chats for
//! longer than that, so each has messages that must have reached the bucket. The figures are
//! printed.

use crate::support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::json;
use support::client::{Client, ConnectOptions};
use support::fake_anthropic::FakeAnthropic;
use support::process::GatewayProcess;
use support::seaweed::Seaweed;

const KILLS: usize = 12;
const DEADLINE: Duration = Duration::from_secs(300);
/// The margin for one upload round on a busy 2-core machine.
const UPLOAD_MARGIN: Duration = Duration::from_millis(2000);

struct Round {
    session: String,
    acked: Vec<(String, Instant)>,
    killed_at: Instant,
}

#[tokio::test]
async fn kill_9_during_chat_loses_at_most_the_shipping_window() {
    let seaweed = Seaweed::start().await;
    let fake = FakeAnthropic::start().await;
    let mut env: Vec<(String, String)> = seaweed.env();
    env.push(("ANTHROPIC_API_KEY".into(), "k".into()));
    env.push(("ANTHROPIC_BASE_URL".into(), fake.base_url()));
    env.push(("MOLT_GATEWAY_TOKEN".into(), "tok".into()));
    // A 250 ms shipping window, or another one to measure (`MOLT_KILL_LOOP_WINDOW_MS`).
    let window_ms: u64 = std::env::var("MOLT_KILL_LOOP_WINDOW_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(250);
    let window = Duration::from_millis(window_ms);
    // `MOLT_KILL_LOOP_NO_SHIPPING=1` checks the check: the gateway then ships once an hour, and
    // this test must fail.
    let shipping_ms = if std::env::var_os("MOLT_KILL_LOOP_NO_SHIPPING").is_some() { 3_600_000 } else { window_ms };
    env.push(("MOLT_REPLICATION_INTERVAL_MS".into(), shipping_ms.to_string()));
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();

    let started = Instant::now();
    let mut previous: Option<Round> = None;
    let (mut acked_total, mut missing_ages) = (0usize, Vec::<Duration>::new());
    // Messages acknowledged longer than the bound before their kill: each must be restored.
    let bound = window + UPLOAD_MARGIN;
    let mut due_total = 0usize;
    let mut kills = 0;
    for round in 0..=KILLS {
        assert!(started.elapsed() < DEADLINE, "the kill loop ran past {DEADLINE:?}");
        let dir = tempfile::tempdir().unwrap();
        let mut gateway = GatewayProcess::start(&dir.path().join("data"), &pairs, &[]);
        let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new("tok")).await.unwrap();
        if let Some(last) = previous.take() {
            let history = client.call("chat.history", json!({"sessionKey": last.session, "limit": 1000})).await;
            // Content is text blocks; a message is present when its exact text is.
            let present = history["messages"].to_string();
            acked_total += last.acked.len();
            due_total += last.acked.iter().filter(|(_, at)| last.killed_at.duration_since(*at) > bound).count();
            for (text, acked_at) in &last.acked {
                if !present.contains(&format!("\"{text}\"")) {
                    missing_ages.push(last.killed_at.duration_since(*acked_at));
                }
            }
        }
        if round == KILLS {
            gateway.signal("TERM");
            gateway.wait_exit(Duration::from_secs(30));
            break;
        }
        let session = format!("agent:main:kill:direct:{round}");
        // Longer than the bound, so every round has messages old enough that they must be shipped.
        let run_for = bound + Duration::from_millis(rand::random_range(300..1200));
        let chatting = Instant::now();
        let mut acked = Vec::new();
        let mut index = 0;
        while chatting.elapsed() < run_for {
            let text = format!("k{round}-{index}");
            index += 1;
            let response = client
                .request("chat.send", json!({"sessionKey": session, "message": text, "idempotencyKey": text}))
                .await;
            if response["ok"] == true {
                acked.push((text, Instant::now()));
            }
            tokio::time::sleep(Duration::from_millis(rand::random_range(5..40))).await;
        }
        gateway.child.kill().unwrap();
        let killed_at = Instant::now();
        let _ = gateway.child.wait();
        kills += 1;
        previous = Some(Round { session, acked, killed_at });
    }
    let oldest = missing_ages.iter().max().copied().unwrap_or_default();
    let report = format!(
        "kill loop: {kills} kills in {:.1} s, {acked_total} messages acknowledged ({due_total} older than the \
         bound), {} missing after restore, oldest missing acknowledged {} ms before its kill (window {} ms)",
        started.elapsed().as_secs_f64(),
        missing_ages.len(),
        oldest.as_millis(),
        window.as_millis()
    );
    println!("{report}");
    // Kept where every run can read it, as nextest shows the output of failing tests only.
    let _ = std::fs::write(Path::new(env!("CARGO_TARGET_TMPDIR")).join("replication-kill-loop.txt"), &report);
    assert_eq!(kills, KILLS);
    assert!(acked_total > KILLS * 5, "the loop sent real traffic: {acked_total}");
    assert!(due_total >= KILLS, "every round had messages older than the bound: {due_total}");
    assert!(
        oldest <= bound,
        "a message acknowledged {oldest:?} before the kill was lost: more than the shipping window"
    );
}
