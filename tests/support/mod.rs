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
