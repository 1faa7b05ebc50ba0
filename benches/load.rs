//! The load tool: N WebSocket clients connect through the real handshake (gateway token, Ed25519
//! device) and chat against an instant fake model, each in its own session, for S seconds; the
//! release `molt` runs pinned to CPU 0, the clients and the model on CPU 1. Prints the gateway's
//! overhead per turn (the client's send → `final` minus the model's own time), errors, turns/s,
//! the gateway's RSS and CPU, and, with `--stuck`, how a client that never reads was closed.
//! Run: `cargo bench --bench load -- --clients 1000 --seconds 30 [--interval-ms 1000] [--stuck]`.

#[path = "../tests/it/support/mod.rs"]
mod support;

#[path = "measure/mod.rs"]
mod measure;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use measure::model::InstantModel;
use measure::{Proc, mib, ms, summary};
use serde_json::{Value, json};
use support::client::ConnectOptions;
use support::process::GatewayProcess;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Longest one turn may take before it counts as an error.
const TURN_TIMEOUT: Duration = Duration::from_secs(10);
/// Handshakes in flight at once while the clients connect.
const CONNECTING: usize = 32;

struct Args {
    clients: usize,
    seconds: u64,
    /// Each client starts a turn this often (or at once when the last one took longer).
    interval: Duration,
    stuck: bool,
}

fn args() -> Args {
    let mut parsed = Args { clients: 1000, seconds: 30, interval: Duration::from_millis(1000), stuck: false };
    let mut raw = std::env::args().skip(1);
    while let Some(arg) = raw.next() {
        let mut number = |name: &str| -> u64 {
            raw.next().and_then(|value| value.parse().ok()).unwrap_or_else(|| panic!("{name} needs a number"))
        };
        match arg.as_str() {
            "--clients" => parsed.clients = number("--clients") as usize,
            "--seconds" => parsed.seconds = number("--seconds"),
            "--interval-ms" => parsed.interval = Duration::from_millis(number("--interval-ms").max(1)),
            "--stuck" => parsed.stuck = true,
            // `cargo bench` adds `--bench`.
            _ => {}
        }
    }
    parsed
}

/// One turn as a client saw it, with the model's stamps.
struct Turn {
    /// Client send → `final`, minus the model's own time.
    overhead: f64,
    /// Client send → the model had read the request.
    inbound: f64,
    /// The model's answer ready → the client has `final`.
    outbound: f64,
}

#[derive(Default)]
struct Tally {
    turns: Vec<Turn>,
    errors: Vec<String>,
    /// Text frames the clients read while waiting for their own `final`s.
    frames: u64,
}

/// Opens a WebSocket (over `tcp` when given) and runs the `connect` handshake.
async fn connect(url: &str, tcp: Option<TcpStream>) -> Result<Socket, String> {
    let (mut socket, _) = match tcp {
        Some(tcp) => tokio_tungstenite::client_async(url, MaybeTlsStream::Plain(tcp)).await,
        None => tokio_tungstenite::connect_async_with_config(url, None, true).await,
    }
    .map_err(|error| format!("upgrade: {error}"))?;
    let challenge = next_json(&mut socket).await?;
    let nonce = challenge["payload"]["nonce"].as_str().ok_or("no nonce in the challenge")?.to_owned();
    let params = ConnectOptions::new("t").caps(&["chat-delta-text"]).params(&nonce);
    let connect = json!({"type": "req", "id": "c1", "method": "connect", "params": params});
    socket.send(Message::Text(connect.to_string().into())).await.map_err(|error| format!("send connect: {error}"))?;
    let hello = next_json(&mut socket).await?;
    if hello["ok"] != true {
        return Err(format!("connect refused: {hello}"));
    }
    Ok(socket)
}

async fn next_json(socket: &mut Socket) -> Result<Value, String> {
    loop {
        match tokio::time::timeout(TURN_TIMEOUT, socket.next()).await {
            Err(_) => return Err("no frame within 10 s".into()),
            Ok(None) => return Err("socket ended".into()),
            Ok(Some(Err(error))) => return Err(format!("socket: {error}")),
            Ok(Some(Ok(Message::Text(text)))) => return serde_json::from_str(&text).map_err(|error| error.to_string()),
            Ok(Some(Ok(Message::Close(frame)))) => return Err(format!("closed: {frame:?}")),
            Ok(Some(Ok(_))) => {}
        }
    }
}

/// One client's turns until `end`: a turn every `interval` (at once when the last took longer),
/// each waiting for its own `final` (by session key: every connection also receives the other
/// sessions' events). The socket is read all the time, between turns too, as a chat page does.
async fn chat(
    index: usize,
    mut socket: Socket,
    model: Arc<InstantModel>,
    first: Instant,
    args: Arc<Args>,
    end: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let session = format!("agent:main:load-c{index:05}");
    let own_session = format!("load-c{index:05}\"");
    let mut next = first;
    // The turn in flight: its marker and when it was sent.
    let mut waiting: Option<(String, Instant)> = None;
    for turn in 0u64.. {
        // Between turns the client keeps reading until the end of the run, so every client
        // stays connected for all of it.
        let deadline = waiting.as_ref().map_or(next.min(end), |(_, sent)| *sent + TURN_TIMEOUT);
        let frame = tokio::select! {
            () = tokio::time::sleep_until(deadline.into()) => None,
            frame = socket.next() => Some(frame),
        };
        let Some(frame) = frame else {
            if let Some((marker, _)) = waiting {
                tally.errors.push(format!("{marker}: no final within 10 s"));
                break;
            }
            if Instant::now() >= end {
                break;
            }
            let marker = format!("c{index:05}t{turn}");
            let request = json!({"type": "req", "id": marker, "method": "chat.send",
                "params": {"sessionKey": session, "message": marker, "idempotencyKey": marker}});
            let sent = Instant::now();
            next = sent + args.interval;
            if let Err(error) = socket.send(Message::Text(request.to_string().into())).await {
                tally.errors.push(format!("send: {error}"));
                break;
            }
            waiting = Some((marker, sent));
            continue;
        };
        let text = match frame {
            None => Err("socket ended".to_owned()),
            Some(Err(error)) => Err(format!("socket: {error}")),
            Some(Ok(Message::Close(frame))) => Err(format!("closed: {frame:?}")),
            Some(Ok(Message::Text(text))) => Ok(text),
            Some(Ok(_)) => continue,
        };
        let text = match text {
            Ok(text) => text,
            Err(error) => {
                tally.errors.push(format!("c{index:05}: {error}"));
                break;
            }
        };
        tally.frames += 1;
        let Some((marker, sent)) = waiting.clone() else { continue };
        match own_frame(text.as_str(), &own_session, &marker) {
            Own::Other => {}
            Own::Failed(error) => {
                tally.errors.push(format!("{marker}: {error}"));
                break;
            }
            Own::Final => {
                let finished = Instant::now();
                waiting = None;
                match model.take(&marker) {
                    Some(stamp) => {
                        let model_time = stamp.answered.saturating_duration_since(stamp.received);
                        tally.turns.push(Turn {
                            overhead: ms(finished.saturating_duration_since(sent).saturating_sub(model_time)),
                            inbound: ms(stamp.received.saturating_duration_since(sent)),
                            outbound: ms(finished.saturating_duration_since(stamp.answered)),
                        });
                    }
                    None => tally.errors.push(format!("{marker}: final without a model request")),
                }
            }
        }
    }
    let _ = socket.close(None).await;
    tally
}

enum Own {
    /// Another session's frame, a delta, or this turn's acknowledgement.
    Other,
    Final,
    Failed(String),
}

/// What a frame means for the turn `marker` of this session: found by substrings, so the
/// frames of the other sessions cost no JSON parsing.
fn own_frame(text: &str, own_session: &str, marker: &str) -> Own {
    if text.contains(own_session) && text.contains("\"event\":\"chat\"") {
        if text.contains("\"state\":\"final\"") {
            return Own::Final;
        }
        if !text.contains("\"state\":\"delta\"") {
            return Own::Failed(format!("run ended: {text}"));
        }
    } else if text.contains("\"type\":\"res\"") && text.contains(marker) && text.contains("\"ok\":false") {
        return Own::Failed(format!("chat.send refused: {text}"));
    }
    Own::Other
}

/// Samples the gateway's RSS every 100 ms while `running`; returns the largest sample.
async fn sample_rss(gateway: Proc, running: Arc<AtomicBool>, peak: Arc<AtomicU64>) {
    while running.load(Ordering::Relaxed) {
        peak.fetch_max(gateway.rss_kib(), Ordering::Relaxed);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A client that completes the handshake over a socket with a 4 KiB receive buffer and then
/// never reads; after the run, how its socket ended.
async fn stuck_client(addr: &str, url: &str) -> Socket {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("receive buffer");
    let tcp = socket.connect(addr.parse().expect("gateway address")).await.expect("connect");
    connect(url, Some(tcp)).await.expect("stuck client handshake")
}

async fn how_it_ended(mut socket: Socket) -> String {
    let (mut frames, mut bytes) = (0usize, 0usize);
    // What it had not read drains in well under 20 s; ticks would keep an open socket busy.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    for _ in 0..1_000_000 {
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Err(_) => return format!("still open 20 s after the run, {frames} frames ({bytes} bytes) read"),
            Ok(Some(Ok(Message::Text(text)))) => {
                frames += 1;
                bytes += text.len();
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                let close =
                    frame.map_or("no code".into(), |frame| format!("{} `{}`", u16::from(frame.code), frame.reason));
                return format!("closed {close} after {frames} frames ({bytes} bytes) it had not read");
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(error))) => return format!("socket error `{error}` after {frames} frames ({bytes} bytes)"),
            Ok(None) => return format!("socket dropped after {frames} frames ({bytes} bytes)"),
        }
    }
    "a million frames and still open".into()
}

fn main() {
    // CPU 1 for the clients and the model; molt gets CPU 0 (`taskset -c 0`).
    measure::pin_self(1);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("runtime");
    runtime.block_on(run(args()));
}

async fn run(args: Args) {
    // Each client's socket, the gateway's end of it, and its connection to the model.
    measure::raise_fd_limit(args.clients as u64 * 3 + 256);
    let args = Arc::new(args);
    let model = Arc::new(InstantModel::start().await);
    let dir = tempfile::tempdir().expect("temp dir");
    let connections = (args.clients + 16).max(molt::core::settings::DEFAULT_MAX_CONNECTIONS).to_string();
    let mut env: Vec<(String, String)> = vec![
        ("MOLT_GATEWAY_TOKEN".into(), "t".into()),
        ("ANTHROPIC_API_KEY".into(), "k".into()),
        ("ANTHROPIC_BASE_URL".into(), model.url.clone()),
        ("MOLT_MAX_CONNECTIONS".into(), connections),
    ];
    // glibc's allocator settings (`MALLOC_ARENA_MAX`, …) reach the gateway, for experiments.
    env.extend(std::env::vars().filter(|(name, _)| name.starts_with("MALLOC_")));
    let data = dir.path().join("data");
    let gateway = tokio::task::spawn_blocking(move || {
        let env: Vec<(&str, &str)> = env.iter().map(|(name, value)| (name.as_str(), value.as_str())).collect();
        GatewayProcess::start_via(&["taskset", "-c", "0"], &data, &env, &[])
    })
    .await
    .expect("gateway start");
    let molt = Proc::new(gateway.child.id());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let idle_rss = molt.rss_kib();

    let url = gateway.ws_url();
    let connect_started = Instant::now();
    let mut sockets = Vec::with_capacity(args.clients);
    let mut connect_errors = Vec::new();
    let mut pending = futures_util::stream::iter((0..args.clients).map(|_| connect(&url, None))).buffered(CONNECTING);
    while let Some(result) = pending.next().await {
        match result {
            Ok(socket) => sockets.push(socket),
            Err(error) => connect_errors.push(error),
        }
    }
    drop(pending);
    let connect_time = connect_started.elapsed();
    let stuck = if args.stuck { Some(stuck_client(&gateway.addr, &url).await) } else { None };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let connected_rss = molt.rss_kib();

    let running = Arc::new(AtomicBool::new(true));
    let peak = Arc::new(AtomicU64::new(connected_rss));
    let sampler = tokio::spawn(sample_rss(molt, running.clone(), peak.clone()));
    let (cpu_before, my_cpu_before) = (molt.cpu_time(), Proc::me().cpu_time());
    let started = Instant::now();
    let end = started + Duration::from_secs(args.seconds);
    let count = sockets.len().max(1) as u32;
    let tasks: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(index, socket)| {
            // Spread the first turns over one interval, so the offered load is even.
            let first = started + args.interval * index as u32 / count;
            tokio::spawn(chat(index, socket, model.clone(), first, args.clone(), end))
        })
        .collect();
    let mut tally = Tally::default();
    for task in tasks {
        match task.await {
            Ok(done) => {
                tally.turns.extend(done.turns);
                tally.errors.extend(done.errors);
                tally.frames += done.frames;
            }
            Err(error) => tally.errors.push(format!("client task: {error}")),
        }
    }
    let elapsed = started.elapsed();
    let (cpu, my_cpu) = (molt.cpu_time() - cpu_before, Proc::me().cpu_time() - my_cpu_before);
    running.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    let end_rss = molt.rss_kib();
    let stuck_end = match stuck {
        Some(socket) => how_it_ended(socket).await,
        None => "no stuck client".into(),
    };
    report(&args, &tally, &connect_errors, elapsed, connect_time);
    let cpu_share = |used: Duration| used.as_secs_f64() / elapsed.as_secs_f64() * 100.0;
    println!(
        "| gateway RSS: idle / {} connected / peak while chatting / after | {:.1} / {:.1} / {:.1} / {:.1} MB (VmHWM {:.1} MB) |",
        args.clients,
        mib(idle_rss),
        mib(connected_rss),
        mib(peak.load(Ordering::Relaxed)),
        mib(end_rss),
        mib(molt.peak_kib())
    );
    println!(
        "| CPU while chatting: gateway (CPU 0) / clients + model (CPU 1) | {:.0} % / {:.0} % of a core |",
        cpu_share(cpu),
        cpu_share(my_cpu)
    );
    println!("| stuck client | {stuck_end} |");
    if model.pending() > 0 {
        println!("| model answers no client claimed | {} |", model.pending());
    }
    drop(gateway);
}

fn report(args: &Args, tally: &Tally, connect_errors: &[String], elapsed: Duration, connect_time: Duration) {
    let turns = tally.turns.len();
    let mut overhead: Vec<f64> = tally.turns.iter().map(|turn| turn.overhead).collect();
    let mut inbound: Vec<f64> = tally.turns.iter().map(|turn| turn.inbound).collect();
    let mut outbound: Vec<f64> = tally.turns.iter().map(|turn| turn.outbound).collect();
    let offered = args.clients as f64 / args.interval.as_secs_f64();
    println!(
        "clients {}, {} s, a turn per client every {} ms (offered {offered:.0} turns/s){}",
        args.clients,
        args.seconds,
        args.interval.as_millis(),
        if args.stuck { ", one more client that never reads" } else { "" }
    );
    println!("| figure | value |");
    println!("|---|---|");
    println!(
        "| connect {} clients (32 handshakes at a time) | {:.2} s, {} refused |",
        args.clients,
        connect_time.as_secs_f64(),
        connect_errors.len()
    );
    println!("| turns / errors | {turns} / {} |", tally.errors.len());
    println!("| turns/s | {:.0} |", turns as f64 / elapsed.as_secs_f64());
    println!(
        "| frames the clients read: total / per turn | {} / {:.0} |",
        tally.frames,
        tally.frames as f64 / turns.max(1) as f64
    );
    println!("| overhead per turn, p50 / p99 / max | {} |", summary(&mut overhead));
    println!("| client send → model has the request, p50 / p99 / max | {} |", summary(&mut inbound));
    println!("| model answer ready → client has `final`, p50 / p99 / max | {} |", summary(&mut outbound));
    for error in tally.errors.iter().chain(connect_errors).take(5) {
        println!("| error (first 5) | {} |", error.chars().take(300).collect::<String>());
    }
}
