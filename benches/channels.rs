//! Channel figures for BENCHMARKS.md: per-message overhead (Telegram update → model request;
//! model request → first platform message) and RSS with Telegram, Discord and Slack connected
//! and idle. Run: `cargo bench --bench channels` (`MOLT_BENCH_IDLE_SECS`, default 600, sets
//! the idle time).

#[path = "../tests/it/support/mod.rs"]
mod support;

#[path = "measure/mod.rs"]
mod measure;

use measure::{Proc, percentile};
use std::time::{Duration, Instant};

use support::fake_anthropic::FakeAnthropic;
use support::fake_discord::{self, FakeDiscord};
use support::fake_slack::{self, FakeSlack};
use support::fake_telegram::{self, FakeTelegram};
use support::process::GatewayProcess;

const MESSAGES: usize = 200;

/// Spins until `check` holds (10 s at most) and returns when it first did.
async fn spin_until(check: impl Fn() -> bool) -> Instant {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(Instant::now() < deadline, "timed out");
        tokio::task::yield_now().await;
    }
    Instant::now()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let idle =
        Duration::from_secs(std::env::var("MOLT_BENCH_IDLE_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(600));
    let model = FakeAnthropic::start().await;
    let (telegram, discord, slack) =
        (FakeTelegram::start().await, FakeDiscord::start().await, FakeSlack::start().await);
    let dir = tempfile::tempdir().unwrap();
    let urls = [model.base_url(), telegram.base_url(), discord.api_url(), slack.api_url()];
    let env = [
        ("MOLT_GATEWAY_TOKEN", "t"),
        ("ANTHROPIC_API_KEY", "sk-ant-bench"),
        ("ANTHROPIC_BASE_URL", urls[0].as_str()),
        ("TELEGRAM_BOT_TOKEN", fake_telegram::TOKEN),
        ("MOLT_TELEGRAM_API_URL", urls[1].as_str()),
        ("TELEGRAM_DM_POLICY", "open"),
        ("DISCORD_BOT_TOKEN", fake_discord::TOKEN),
        ("MOLT_DISCORD_API_URL", urls[2].as_str()),
        ("SLACK_BOT_TOKEN", fake_slack::BOT_TOKEN),
        ("SLACK_APP_TOKEN", fake_slack::APP_TOKEN),
        ("MOLT_SLACK_API_URL", urls[3].as_str()),
    ];
    let process = GatewayProcess::start(&dir.path().join("data"), &env, &[]);
    let pid = process.child.id();
    slack.wait_until("the socket", |slack| slack.live_sockets() == 1).await;
    discord.wait_until("identify", |discord| discord.frames().iter().any(|frame| frame["op"] == 2)).await;
    telegram.wait_until("a poll", |calls| calls.iter().any(|call| call.method == "getUpdates")).await;

    let mut inbound = Vec::new();
    let mut outbound = Vec::new();
    for index in 0..MESSAGES {
        // A new chat each time, so Telegram's one-edit-per-second pacing never applies.
        let chat = 10_000 + index as i64;
        let chat_id = chat.to_string();
        let to_chat = |call: &support::fake_telegram::Call| call.body["chat_id"].as_str() == Some(chat_id.as_str());
        let queued = Instant::now();
        telegram.message(chat, chat, "ping");
        spin_until(|| model.requests().len() > index).await;
        // The fakes' own clocks: when the model had read the request, when Telegram got the send.
        let requested = model.requests()[index].at;
        spin_until(|| telegram.calls_of("sendMessage").iter().any(to_chat)).await;
        let sent = telegram.calls_of("sendMessage").into_iter().find(to_chat).unwrap().at;
        inbound.push((requested.saturating_duration_since(queued)).as_secs_f64() * 1000.0);
        outbound.push((sent.into_std().saturating_duration_since(requested)).as_secs_f64() * 1000.0);
    }
    inbound.sort_by(f64::total_cmp);
    outbound.sort_by(f64::total_cmp);

    let start_rss = Proc::new(pid).rss_kib();
    let mut peak = start_rss;
    let began = Instant::now();
    while began.elapsed() < idle {
        tokio::time::sleep(Duration::from_secs(10).min(idle)).await;
        peak = peak.max(Proc::new(pid).rss_kib());
    }
    let end_rss = Proc::new(pid).rss_kib();
    let mb = |kib: u64| kib as f64 / 1024.0;
    println!("| figure | value | goal |");
    println!("|---|---|---|");
    println!(
        "| Telegram update queued → model request, p50 / p99 of {MESSAGES} | {:.2} ms / {:.2} ms | overhead only |",
        percentile(&inbound, 0.5),
        percentile(&inbound, 0.99)
    );
    println!(
        "| model request → first Telegram `sendMessage`, p50 / p99 of {MESSAGES} | {:.2} ms / {:.2} ms | overhead only |",
        percentile(&outbound, 0.5),
        percentile(&outbound, 0.99)
    );
    println!(
        "| RSS, three channels connected, after the messages / after {} s idle (peak) | {:.1} MB / {:.1} MB ({:.1} MB) | ≤ 15 MB, no growth |",
        idle.as_secs(),
        mb(start_rss),
        mb(end_rss),
        mb(peak)
    );
    drop(process);
}
