//! The soak: the real `molt` with Telegram, Discord and Slack connected to their fakes at the
//! platforms' own pace (Discord's 41.25 s heartbeat, 25 s Telegram long polls, sockets kept for
//! the whole run), one message answered on each, then idle for S seconds: RSS growth, open
//! file descriptors and CPU time (`/proc/<pid>/stat`) → idle CPU % of one core.
//! Run: `cargo bench --bench soak -- --seconds 3600` (default 3600; `--sample-secs`, 10).

#[path = "../tests/it/support/mod.rs"]
mod support;

#[path = "measure/mod.rs"]
mod measure;

use std::time::{Duration, Instant};

use measure::channels::Channels;
use measure::model::InstantModel;
use measure::{Proc, mib};
use support::Pace;
use support::process::GatewayProcess;

/// Quiet time after the warm-up messages before the baseline is taken.
const SETTLE: Duration = Duration::from_secs(30);

fn args() -> (u64, u64) {
    let (mut seconds, mut sample) = (3600, 10);
    let mut raw = std::env::args().skip(1);
    while let Some(arg) = raw.next() {
        let value = |raw: &mut dyn Iterator<Item = String>| raw.next().and_then(|value| value.parse::<u64>().ok());
        match arg.as_str() {
            "--seconds" => seconds = value(&mut raw).expect("--seconds needs a number"),
            "--sample-secs" => sample = value(&mut raw).expect("--sample-secs needs a number").max(1),
            _ => {}
        }
    }
    (seconds, sample)
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    rss_kib: u64,
    fds: usize,
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let (seconds, sample_secs) = args();
    let idle = Duration::from_secs(seconds);
    let model = InstantModel::start().await;
    // Sockets outlive the run: a recycled socket would be the fake's churn, not molt's.
    let channels = Channels::start(Pace::real(idle + SETTLE + Duration::from_secs(300))).await;
    let env = channels.env(&model.url);
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    let gateway = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(name, value)| (*name, value.as_str())).collect();
        GatewayProcess::start(&data, &env, &[])
    })
    .await
    .expect("gateway start");
    let molt = Proc::new(gateway.child.id());
    channels.wait_connected().await;
    let replies = [
        channels.telegram_reply(10_001, "soak telegram").await.1,
        channels.discord_reply("700000000000000009", "soak discord").await.1,
        channels.slack_reply("D0009", "soak slack").await.1,
    ];
    let answered = replies.iter().filter(|reply| reply.is_some()).count();
    tokio::time::sleep(SETTLE).await;

    let (discord_sockets, slack_sockets) = (channels.discord.connections(), channels.slack.connections());
    let polls_before = channels.telegram.calls_of("getUpdates").len();
    let first = Sample { rss_kib: molt.rss_kib(), fds: molt.fds() };
    let (cpu_before, started) = (molt.cpu_time(), Instant::now());
    let (mut low, mut high) = (first, first);
    let step = Duration::from_secs(sample_secs);
    let mut samples = 0usize;
    while started.elapsed() < idle {
        tokio::time::sleep(step.min(idle.saturating_sub(started.elapsed()))).await;
        let now = Sample { rss_kib: molt.rss_kib(), fds: molt.fds() };
        low = Sample { rss_kib: low.rss_kib.min(now.rss_kib), fds: low.fds.min(now.fds) };
        high = Sample { rss_kib: high.rss_kib.max(now.rss_kib), fds: high.fds.max(now.fds) };
        samples += 1;
    }
    let (cpu, elapsed) = (molt.cpu_time() - cpu_before, started.elapsed());
    let last = Sample { rss_kib: molt.rss_kib(), fds: molt.fds() };
    let polls = channels.telegram.calls_of("getUpdates").len() - polls_before;
    let reconnects = (channels.discord.connections() - discord_sockets, channels.slack.connections() - slack_sockets);

    println!(
        "idle {} s after {answered} of 3 replies, sampled every {sample_secs} s ({samples} samples)",
        elapsed.as_secs()
    );
    println!("| figure | value | goal |");
    println!("|---|---|---|");
    println!(
        "| RSS: start / end (min / max) | {:.1} / {:.1} MB ({:.1} / {:.1} MB) | growth ≤ 1 MB |",
        mib(first.rss_kib),
        mib(last.rss_kib),
        mib(low.rss_kib),
        mib(high.rss_kib)
    );
    println!("| RSS growth, end − start | {:+.0} KiB | ≤ 1024 KiB |", last.rss_kib as f64 - first.rss_kib as f64);
    println!(
        "| open fds: start / end (min / max) | {} / {} ({} / {}) | flat |",
        first.fds, last.fds, low.fds, high.fds
    );
    println!(
        "| CPU while idle | {:.3} s in {} s = {:.4} % of a core | ≤ 0.1 % |",
        cpu.as_secs_f64(),
        elapsed.as_secs(),
        cpu.as_secs_f64() / elapsed.as_secs_f64() * 100.0
    );
    println!(
        "| while idle: Telegram polls / Discord and Slack reconnects | {polls} / {} and {} | |",
        reconnects.0, reconnects.1
    );
    drop(gateway);
}
