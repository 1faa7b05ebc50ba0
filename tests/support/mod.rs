//! Shared test support: fake providers, an in-process gateway, a protocol client, a browser.
#![allow(dead_code, reason = "each test binary uses part of the support code")]

pub mod browser;
pub mod client;
pub mod fake_anthropic;
pub mod fake_cloudflare;
pub mod fake_discord;
pub mod fake_openai;
pub mod fake_slack;
pub mod fake_telegram;
pub mod gateway;
pub mod jwks;
pub mod process;
pub mod recorder;
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
