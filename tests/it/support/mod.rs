//! Shared test support: fake providers, an in-process gateway, a protocol client, a browser.
#![allow(dead_code, reason = "the benches include this module too, each using part of it")]

pub mod browser;
pub mod client;
pub mod fake_anthropic;
pub mod fake_brave;
pub mod fake_cloudflare;
pub mod fake_discord;
pub mod fake_openai;
pub mod fake_provider;
pub mod fake_server;
pub mod fake_slack;
pub mod fake_telegram;
pub mod gateway;
pub mod jwks;
pub mod mcp;
pub mod process;
pub mod prompt_cache;
pub mod s3_proxy;
pub mod seaweed;
pub mod tmux;

/// A fake's listener with TCP_NODELAY on every accepted socket, as real platforms and the
/// gateway itself answer: without it, a fake's small writes (SSE events, long-poll answers)
/// wait for the gateway's delayed ACK and the figures measure the kernel's 40 ms timer.
pub fn no_delay(listener: tokio::net::TcpListener) -> impl axum::serve::Listener<Addr = std::net::SocketAddr> {
    use axum::serve::ListenerExt;
    listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    })
}

/// How long a fake platform keeps its long-lived connections: the tests' short bounds, or the
/// real platforms' (for soak runs, where a socket recycled every minute would be our own churn).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// A gateway WebSocket (Discord, Slack Socket Mode) is closed by the fake after this long.
    pub socket_lifetime: std::time::Duration,
    /// Discord's `heartbeat_interval` in the hello.
    pub heartbeat_ms: u64,
    /// A Telegram long poll waits at most this long (or the `timeout` asked for, if shorter).
    pub poll_cap: std::time::Duration,
}

impl Pace {
    /// The tests' pace: sockets end after 60 s, a 300 ms heartbeat, long polls of 5 s at most.
    pub const TEST: Pace = Pace {
        socket_lifetime: std::time::Duration::from_secs(60),
        heartbeat_ms: fake_discord::HEARTBEAT_MS,
        poll_cap: std::time::Duration::from_secs(5),
    };

    /// The platforms' own pace, with sockets kept for `lifetime`: Discord's 41.25 s heartbeat,
    /// Telegram's long poll as long as asked (50 s at most).
    pub fn real(lifetime: std::time::Duration) -> Pace {
        Pace { socket_lifetime: lifetime, heartbeat_ms: 41_250, poll_cap: std::time::Duration::from_secs(50) }
    }
}
