//! Chat platforms: Telegram, Discord and Slack adapters behind one [`Platform`] trait, the
//! router that turns their messages into agent turns, and the liveness each one reports.
//! Adapters only speak their platform's protocol: every message goes through the router's one
//! intake (`intake.rs`), which records, replays and answers it; they never touch the agent or
//! the store. Messages sent on the operator's behalf leave through `outbound.rs`.

pub(crate) mod discord;
mod intake;
mod liveness;
mod net;
mod outbound;
pub(crate) mod platform;
mod reply;
mod router;
pub(crate) mod slack;
pub(crate) mod split;
mod supervise;
pub(crate) mod telegram;
mod webhook;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use intake::Accepted;
pub use liveness::Liveness;
pub use outbound::ChannelOutbound;
pub use platform::{ChatKind, ChatRef, Inbound, Limits, MessageRef, Platform};
pub use router::Router;
use supervise::supervise;
pub use webhook::{WebhookError, WebhookOutcome};

use crate::core::settings::{ChannelSettings, TelegramMode};
use crate::daemon::agent::Agent;
use crate::daemon::events::EventBus;
use crate::daemon::pairing::{Pairing, PairingError};
use crate::daemon::store::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    #[error("{platform}: network error: {message}")]
    Network { platform: &'static str, message: String },
    #[error("{platform} answered {status}: {description}")]
    Api { platform: &'static str, status: u16, description: String },
    #[error("{platform} is rate limiting; retry after {retry_after:?}")]
    RateLimited { platform: &'static str, retry_after: Duration },
    #[error("gave up after {attempts} attempts; last: {last}")]
    Gave { attempts: u32, last: String },
    #[error("{0}")]
    Invalid(String),
    #[error("the agent refused the message: {0}")]
    Agent(String),
    /// The user's message was not stored (the gateway is stopping, the store refused).
    #[error("the message was not stored: {0}")]
    NotStored(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Pairing(#[from] PairingError),
    #[error("stopped")]
    Cancelled,
}

/// The channels of one gateway: created with the gateway (so status can show them while it
/// starts), started once the store and agent are open, stopped on shutdown.
pub struct Channels {
    settings: ChannelSettings,
    liveness: Vec<Arc<Liveness>>,
    /// The adapters once started, shared with [`Channels::outbound`].
    adapters: ChannelOutbound,
    router: OnceLock<Arc<Router>>,
    /// Stops the connection loops: no new messages come in.
    intake: CancellationToken,
    /// Stops replies still streaming after the agent has drained.
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl Channels {
    pub fn new(settings: &ChannelSettings) -> Self {
        let mut liveness = Vec::new();
        if let Some(telegram) = &settings.telegram {
            liveness.push(Arc::new(Liveness::new(
                "telegram",
                match telegram.mode {
                    TelegramMode::Polling => "polling",
                    TelegramMode::Webhook => "webhook",
                },
            )));
        }
        if settings.discord.is_some() {
            liveness.push(Arc::new(Liveness::new("discord", "gateway")));
        }
        if let Some(slack) = &settings.slack {
            let mode = if slack.app_token.is_some() { "socket" } else { "events-api" };
            liveness.push(Arc::new(Liveness::new("slack", mode)));
        }
        Self {
            settings: settings.clone(),
            liveness,
            adapters: ChannelOutbound::default(),
            router: OnceLock::new(),
            intake: CancellationToken::new(),
            cancel: CancellationToken::new(),
            tracker: TaskTracker::new(),
        }
    }

    fn liveness_of(&self, channel: &str) -> Arc<Liveness> {
        self.liveness
            .iter()
            .find(|live| live.channel == channel)
            .cloned()
            .unwrap_or_else(|| Arc::new(Liveness::new("unknown", "off")))
    }

    /// Starts every configured adapter.
    pub fn start(&self, store: Store, agent: Arc<Agent>, pairing: Arc<Pairing>, events: EventBus) {
        let router = Arc::new(Router::new(store, agent, pairing, events, self.tracker.clone(), self.cancel.clone()));
        let _ = self.router.set(Arc::clone(&router));
        if let Some(settings) = &self.settings.telegram {
            let adapter = telegram::Telegram::new(settings.clone(), self.liveness_of("telegram"), self.intake.clone());
            let _ = self.adapters.0.telegram.set(Arc::clone(&adapter));
            let approvals = Arc::clone(router.exec_approvals());
            self.tracker.spawn(telegram::approvals::forward(Arc::clone(&adapter), approvals));
            let (router, deaf_after) = (Arc::clone(&router), self.settings.deaf_after);
            self.tracker.spawn(supervise(self.liveness_of("telegram"), self.intake.clone(), move || {
                telegram::run(Arc::clone(&adapter), Arc::clone(&router), deaf_after)
            }));
        }
        if let Some(settings) = &self.settings.discord {
            let adapter = discord::Discord::new(settings.clone(), self.liveness_of("discord"), self.intake.clone());
            let _ = self.adapters.0.discord.set(Arc::clone(&adapter));
            let (router, deaf_after) = (Arc::clone(&router), self.settings.deaf_after);
            self.tracker.spawn(supervise(self.liveness_of("discord"), self.intake.clone(), move || {
                discord::run(Arc::clone(&adapter), Arc::clone(&router), deaf_after)
            }));
        }
        if let Some(settings) = &self.settings.slack {
            let adapter = slack::Slack::new(settings.clone(), self.liveness_of("slack"), self.intake.clone());
            let _ = self.adapters.0.slack.set(Arc::clone(&adapter));
            let (router, deaf_after) = (Arc::clone(&router), self.settings.deaf_after);
            self.tracker.spawn(supervise(self.liveness_of("slack"), self.intake.clone(), move || {
                slack::run(Arc::clone(&adapter), Arc::clone(&router), deaf_after)
            }));
        }
    }

    /// Sends through the adapters once [`Channels::start`] has started them; made before, as the
    /// agent's tools are.
    pub fn outbound(&self) -> ChannelOutbound {
        self.adapters.clone()
    }

    /// `{ "<channel>": {mode, connected, lastInboundAtMs, …} }` for every configured channel.
    pub fn status(&self) -> Value {
        let mut map = Map::new();
        for live in &self.liveness {
            map.insert(live.channel.to_owned(), live.view());
        }
        Value::Object(map)
    }

    /// Stops taking messages in; replies in flight go on until [`Channels::stop`].
    pub fn stop_intake(&self) {
        self.intake.cancel();
    }

    /// Stops everything and waits for the tasks (5 s at most).
    pub async fn stop(&self) {
        self.intake.cancel();
        self.cancel.cancel();
        self.tracker.close();
        if tokio::time::timeout(Duration::from_secs(5), self.tracker.wait()).await.is_err() {
            tracing::error!("chat channels did not stop within 5 s");
        }
    }
}
