//! The `lite`-sized run: the real `molt` started inside a cgroup v1 limited to 1/16 of a CPU
//! and 256 MiB (made by `scripts/lite.sh`, which passes `--cgroup NAME`), answering direct
//! messages on the Telegram, Discord and Slack fakes and a WebSocket client's `chat.send`,
//! against an instant fake model: time to ready, reply overhead per path, RSS, throttling.
//! Run: `sudo scripts/lite.sh [--messages 30] [--pause-ms 500]`.

#[path = "../tests/it/support/mod.rs"]
mod support;

#[path = "measure/mod.rs"]
mod measure;

use std::time::{Duration, Instant};

use measure::channels::Channels;
use measure::model::{InstantModel, Stamp};
use measure::{Proc, mib, ms, summary};
use serde_json::json;
use support::Pace;
use support::client::{Client, ConnectOptions};
use support::process::GatewayProcess;

struct Args {
    cgroup: Option<String>,
    messages: usize,
    pause: Duration,
}

fn args() -> Args {
    let mut parsed = Args { cgroup: None, messages: 30, pause: Duration::from_millis(500) };
    let mut raw = std::env::args().skip(1);
    while let Some(arg) = raw.next() {
        match arg.as_str() {
            "--cgroup" => parsed.cgroup = raw.next(),
            "--messages" => parsed.messages = raw.next().and_then(|value| value.parse().ok()).expect("--messages N"),
            "--pause-ms" => {
                parsed.pause =
                    Duration::from_millis(raw.next().and_then(|value| value.parse().ok()).expect("--pause-ms N"))
            }
            _ => {}
        }
    }
    parsed
}

/// One cgroup v1 file of the group `name` under controller `controller`.
fn cgroup_file(controller: &str, name: &str, file: &str) -> String {
    format!("/sys/fs/cgroup/{controller}/{name}/{file}")
}

fn read_cgroup(controller: &str, name: &str, file: &str) -> String {
    std::fs::read_to_string(cgroup_file(controller, name, file)).unwrap_or_default().trim().to_owned()
}

/// Overhead of one reply: queued → platform has the reply, minus the model's own time.
fn overhead(
    queued: Instant,
    sent: Option<Instant>,
    stamp: Option<Stamp>,
    errors: &mut Vec<String>,
    what: &str,
) -> Option<f64> {
    match (sent, stamp) {
        (Some(sent), Some(stamp)) => {
            let model = stamp.answered.saturating_duration_since(stamp.received);
            Some(ms(sent.saturating_duration_since(queued).saturating_sub(model)))
        }
        (None, _) => {
            errors.push(format!("{what}: no reply within 30 s"));
            None
        }
        (Some(_), None) => {
            errors.push(format!("{what}: replied without a model request"));
            None
        }
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    runtime.block_on(run(args()));
}

async fn run(args: Args) {
    let model = InstantModel::start().await;
    let channels = Channels::start(Pace::real(Duration::from_secs(3600))).await;
    let env = channels.env(&model.url);
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    // The shell joins the cgroup and then becomes molt, so molt starts under the limits.
    let wrapper = args.cgroup.as_ref().map(|name| {
        format!("for c in cpu memory; do echo $$ > /sys/fs/cgroup/$c/{name}/cgroup.procs || exit 1; done; exec \"$0\" \"$@\"")
    });
    let started = Instant::now();
    let gateway = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(name, value)| (*name, value.as_str())).collect();
        let via: Vec<&str> = wrapper.as_deref().map(|script| vec!["sh", "-c", script]).unwrap_or_default();
        GatewayProcess::start_via(&via, &data, &env, &[])
    })
    .await
    .expect("gateway start");
    let ready = started.elapsed();
    let molt = Proc::new(gateway.child.id());
    if let Some(name) = &args.cgroup {
        let members = read_cgroup("cpu", name, "cgroup.procs");
        assert!(members.lines().any(|pid| pid == molt.pid.to_string()), "molt is not in the cgroup {name}: {members}");
    }
    channels.wait_connected().await;
    let connected = started.elapsed();
    let ready_rss = molt.rss_kib();

    let (mut telegram, mut discord, mut slack, mut web) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut errors = Vec::new();
    let (mut client, _) = Client::connect(&gateway.ws_url(), &ConnectOptions::new("t").caps(&["chat-delta-text"]))
        .await
        .expect("web client connects");
    for index in 0..args.messages {
        let marker = format!("tg{index:04}");
        let (queued, sent) = channels.telegram_reply(20_000 + index as i64, &marker).await;
        telegram.extend(overhead(queued, sent, model.take(&marker), &mut errors, &marker));
        tokio::time::sleep(args.pause).await;

        let marker = format!("dc{index:04}");
        let (queued, sent) = channels.discord_reply(&format!("70000000000000{index:04}"), &marker).await;
        discord.extend(overhead(queued, sent, model.take(&marker), &mut errors, &marker));
        tokio::time::sleep(args.pause).await;

        let marker = format!("sl{index:04}");
        let (queued, sent) = channels.slack_reply(&format!("D{index:04}"), &marker).await;
        slack.extend(overhead(queued, sent, model.take(&marker), &mut errors, &marker));
        tokio::time::sleep(args.pause).await;

        let marker = format!("ws{index:04}");
        let queued = Instant::now();
        let ack =
            client.call("chat.send", json!({"sessionKey": "main", "message": marker, "idempotencyKey": marker})).await;
        let run = client.chat_run(ack["runId"].as_str().unwrap_or_default()).await;
        let finished = Instant::now();
        let ended = run.last().and_then(|payload| payload["state"].as_str()).unwrap_or_default().to_owned();
        let sent = (ended == "final").then_some(finished);
        web.extend(overhead(queued, sent, model.take(&marker), &mut errors, &marker));
        tokio::time::sleep(args.pause).await;
    }
    client.close().await;
    let end_rss = molt.rss_kib();

    let limits = match &args.cgroup {
        Some(name) => format!(
            "cgroup `{name}`: cpu.cfs_quota_us {} / cpu.cfs_period_us {}, memory.limit_in_bytes {}",
            read_cgroup("cpu", name, "cpu.cfs_quota_us"),
            read_cgroup("cpu", name, "cpu.cfs_period_us"),
            read_cgroup("memory", name, "memory.limit_in_bytes")
        ),
        None => "no cgroup: unlimited".into(),
    };
    println!("{limits}; {} messages per path, {} ms apart", args.messages, args.pause.as_millis());
    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| exec → `/readyz` 200 / and all three channels connected | {:.1} ms / {:.1} ms |",
        ms(ready),
        ms(connected)
    );
    for (path, samples) in [
        ("Telegram DM → `sendMessage`", &mut telegram),
        ("Discord DM → create message", &mut discord),
        ("Slack DM → `chat.postMessage`", &mut slack),
        ("WebSocket `chat.send` → `final`", &mut web),
    ] {
        println!("| {path}, overhead p50 / p99 / max of {} | {} |", samples.len(), summary(samples));
    }
    println!(
        "| RSS: ready / after the messages / peak (VmHWM) | {:.1} / {:.1} / {:.1} MB |",
        mib(ready_rss),
        mib(end_rss),
        mib(molt.peak_kib())
    );
    if let Some(name) = &args.cgroup {
        let usage: u64 = read_cgroup("memory", name, "memory.max_usage_in_bytes").parse().unwrap_or(0);
        println!("| cgroup memory.max_usage_in_bytes (RSS + page cache) | {:.1} MB |", usage as f64 / 1_048_576.0);
        let stat = read_cgroup("cpu", name, "cpu.stat").replace('\n', ", ");
        println!("| cgroup cpu.stat | {stat} |");
    }
    println!("| gateway CPU time, start to end | {:.2} s |", molt.cpu_time().as_secs_f64());
    println!("| errors | {} |", errors.len());
    for error in errors.iter().take(5) {
        println!("| error (first 5) | {error} |");
    }
    drop(gateway);
}
