//! `molt chat`: a terminal client of the gateway protocol. `app` is the pure state machine,
//! `ui` draws it, `client` owns the socket, `terminal` guards the screen; this file wires them
//! into one loop. It must not import daemon internals: it talks to the gateway like any device.

mod app;
mod client;
mod connect;
mod identity;
mod input;
mod terminal;
mod ui;
mod wire;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use crossterm::event::{Event as TerminalEvent, EventStream, MouseEventKind};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use self::app::{App, AppConfig, Effect, Event};
use self::client::{Call, ClientSettings};
use self::identity::{Identity, IdentityError};
use self::wire::ServerError;
use crate::core::secret::Secret;

/// What `molt chat` was asked to do, settled by the command line.
#[derive(Debug)]
pub struct Options {
    /// `ws://…/ws` or `wss://…/ws`.
    pub url: String,
    /// The gateway's address as the user gave it, for messages.
    pub display_url: String,
    pub gateway_token: Option<Secret>,
    pub access: Option<(String, Secret)>,
    /// Where the identity and device tokens live.
    pub config_dir: PathBuf,
    pub color: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum TuiError {
    #[error("`molt chat` needs a terminal: stdin and stdout must not be redirected")]
    NotATerminal,
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error("terminal: {0}")]
    Terminal(#[from] std::io::Error),
}

/// Runs the client until the user quits.
pub async fn run(options: Options) -> Result<(), TuiError> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(TuiError::NotATerminal);
    }
    let identity = Identity::load_or_create(&options.config_dir)?;
    let config = AppConfig {
        url: options.display_url.clone(),
        device_id: identity.device_id(),
        id_prefix: hex::encode(rand::random::<[u8; 4]>()),
    };
    let settings = ClientSettings {
        url: options.url,
        gateway_token: options.gateway_token,
        access: options.access,
        identity,
        config_dir: options.config_dir,
        display_name: display_name(),
    };
    let theme = ui::Theme { color: options.color };
    let mut guard = terminal::TerminalGuard::enter()?;
    let shutdown = CancellationToken::new();
    let tracker = TaskTracker::new();
    let (event_sender, mut events) = mpsc::channel::<Event>(256);
    let (call_sender, calls) = mpsc::channel::<Call>(64);
    tracker.spawn(client::run(settings, calls, event_sender.clone(), shutdown.clone()));
    tracker.spawn(terminal_events(event_sender.clone(), shutdown.clone()));
    tracker.spawn(signals(event_sender.clone(), shutdown.clone()));
    tracker.spawn(clock(event_sender, shutdown.clone()));
    tracker.close();

    let mut app = App::new(config);
    let result = event_loop(&mut guard, &mut app, &theme, &mut events, &call_sender).await;
    shutdown.cancel();
    drop(events);
    let _ = tokio::time::timeout(Duration::from_secs(2), tracker.wait()).await;
    drop(guard);
    result
}

async fn event_loop(
    guard: &mut terminal::TerminalGuard,
    app: &mut App,
    theme: &ui::Theme,
    events: &mut mpsc::Receiver<Event>,
    calls: &mpsc::Sender<Call>,
) -> Result<(), TuiError> {
    loop {
        let mut measure = ui::Measure::default();
        guard.terminal.draw(|frame| measure = ui::render(frame, app, theme))?;
        if (measure.height, measure.lines) != (app.transcript_height, app.transcript_lines) {
            app.update(Event::Measured { height: measure.height, lines: measure.lines });
            continue;
        }
        let Some(event) = events.recv().await else { return Ok(()) };
        let mut batch = vec![event];
        // Draw once per burst (a streamed reply sends many small events).
        while let Ok(event) = events.try_recv() {
            batch.push(event);
            if batch.len() >= 64 {
                break;
            }
        }
        let mut queue = std::collections::VecDeque::from(batch);
        while let Some(event) = queue.pop_front() {
            for effect in app.update(event) {
                match effect {
                    Effect::Quit => return Ok(()),
                    // Never wait on the connection task here: it may be waiting on this loop.
                    Effect::Call { id, method, params } => match calls.try_send(Call { id, method, params }) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            let result = Err(ServerError::local("too many requests in flight; try again"));
                            queue.push_back(Event::Response { call: id, result });
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => return Ok(()),
                    },
                }
            }
        }
    }
}

/// The event task: keys, paste, mouse wheel and resizes from the terminal.
async fn terminal_events(events: mpsc::Sender<Event>, shutdown: CancellationToken) {
    let mut stream = EventStream::new();
    loop {
        let next = tokio::select! {
            () = shutdown.cancelled() => return,
            next = stream.next() => next,
        };
        let event = match next {
            None | Some(Err(_)) => return,
            Some(Ok(TerminalEvent::Key(key))) => Event::Key(key),
            Some(Ok(TerminalEvent::Paste(text))) => Event::Paste(text),
            Some(Ok(TerminalEvent::Resize(..))) => Event::Resized,
            Some(Ok(TerminalEvent::Mouse(mouse))) => match mouse.kind {
                MouseEventKind::ScrollUp => Event::Wheel { up: true },
                MouseEventKind::ScrollDown => Event::Wheel { up: false },
                _ => continue,
            },
            Some(Ok(_)) => continue,
        };
        if events.send(event).await.is_err() {
            return;
        }
    }
}

/// A tick a second: pending requests expire on screen and the retry countdown moves.
async fn clock(events: mpsc::Sender<Event>, shutdown: CancellationToken) {
    let mut interval = tokio::time::interval(Duration::from_secs(1));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = interval.tick() => {}
        }
        if events.send(Event::Tick { now_ms: crate::core::time::now_ms() }).await.is_err() {
            return;
        }
    }
}

/// SIGTERM and SIGHUP (the terminal window closed) end the loop like `Ctrl+C`: a signal's
/// default action would kill the process with the terminal still in raw mode.
async fn signals(events: mpsc::Sender<Event>, shutdown: CancellationToken) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut terminate), Ok(mut hangup)) = (signal(SignalKind::terminate()), signal(SignalKind::hangup()))
        else {
            return;
        };
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = terminate.recv() => {}
            _ = hangup.recv() => {}
        }
        let _ = events.send(Event::Terminate).await;
    }
    #[cfg(not(unix))]
    {
        let _ = (events, shutdown.cancelled().await);
    }
}

/// How operators see this terminal in their approval lists.
fn display_name() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|host| host.trim().to_owned())
        .filter(|host| !host.is_empty());
    match host {
        Some(host) => format!("molt chat on {host}"),
        None => "molt chat".to_owned(),
    }
}
