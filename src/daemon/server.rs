//! `serve(settings, listener, shutdown)`: the one entry point production and tests share.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::serve::ListenerExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::agent::tools::send_message;
use super::agent::{Agent, AgentParts};
use super::auth::access::AccessVerifier;
use super::auth::ratelimit::AuthLimiter;
use super::channels::Channels;
use super::events::EventBus;
use super::pairing::Pairing;
use super::replication::{Replication, ReplicationError};
use super::state::{Core, Gateway, Readiness};
use super::store::{Store, StoreError};
use super::token::{self, TokenError};
use crate::core::settings::Settings;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot create the data directory `{path}`: {source}")]
    DataDir { path: std::path::PathBuf, source: std::io::Error },
    #[error(transparent)]
    Token(#[from] TokenError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("replication: {0}")]
    Replication(#[from] ReplicationError),
    #[error("the HTTP server failed: {0}")]
    Http(std::io::Error),
    /// Another instance took the bucket over; this one refused further writes and stopped.
    #[error("{0}")]
    Fenced(String),
}

/// Serves the gateway on `listener` until `shutdown` is cancelled, then stops accepting,
/// drains or aborts turns, closes connections with a `shutdown` event and flushes the store.
pub async fn serve(settings: Settings, listener: TcpListener, shutdown: CancellationToken) -> Result<(), ServeError> {
    let data_dir = settings.data_dir.clone();
    let workspace = data_dir.join("workspace");
    let gateway = gateway(settings, &workspace)?;
    let app = super::http::router(Arc::clone(&gateway)).into_make_service_with_connect_info::<SocketAddr>();
    let server = axum::serve(accepting(listener), app).with_graceful_shutdown(shutdown.clone().cancelled_owned());
    let server = tokio::spawn(server.into_future());

    let opened = match restore(&gateway, &data_dir, &workspace, &shutdown).await {
        // Refuse to serve chats on a store that may be missing data; /readyz says why.
        Err(error) => Err(ServeError::from(error)),
        Ok(()) => open_core(&gateway, &workspace).await.map_err(ServeError::from),
    };
    let (store, agent, pairing) = match opened {
        Ok(core) => core,
        Err(error) => {
            if let ServeError::Store(failure) = &error {
                gateway.readiness.send_replace(Readiness::Failed { reason: failure.to_string() });
                shutdown.cancel();
            }
            shutdown.cancelled().await;
            gateway.close_connections.cancel();
            let _ = server.await;
            return Err(error);
        }
    };
    if gateway.settings.auth.dev_mode {
        tracing::warn!(
            bind = %gateway.settings.bind,
            insecure = gateway.settings.insecure,
            "DEV_MODE is on: every device is approved without an operator and the admin API takes the gateway token from anywhere"
        );
    }
    let fenced = CancellationToken::new();
    gateway.replication.start(store.clone(), &data_dir, &workspace, on_fenced(&gateway, &store, &fenced));
    gateway.channels.start(store.clone(), Arc::clone(&agent), Arc::clone(&pairing), gateway.events.clone());
    // In the background: the gateway is ready before any MCP server answers.
    gateway.mcp.start();
    gateway.readiness.send_replace(Readiness::Ready);
    tracing::info!(store = %store.path().display(), provider = agent.provider_name().unwrap_or("none"), "gateway ready");

    let server_error = tokio::select! {
        biased;
        () = shutdown.cancelled() => None,
        () = fenced.cancelled() => None,
        result = server => Some(result),
    };
    if let Some(result) = server_error {
        // The server stopped on its own: an accept-loop failure.
        let error = match result {
            Ok(Err(error)) => error,
            _ => std::io::Error::other("the server task ended unexpectedly"),
        };
        return Err(ServeError::Http(error));
    }
    pairing.close();
    stop(&gateway, &agent, &store).await;
    match gateway.stop_reason() {
        Some(reason) if fenced.is_cancelled() => Err(ServeError::Fenced(reason)),
        _ => Ok(()),
    }
}

/// A gateway with its store open that serves nothing: the fuzz target of the handshake drives
/// `authorize` on it directly.
pub(crate) async fn unserved(settings: Settings) -> Result<Arc<Gateway>, ServeError> {
    let workspace = settings.data_dir.join("workspace");
    let gateway = gateway(settings, &workspace)?;
    open_core(&gateway, &workspace).await?;
    Ok(gateway)
}

/// The state every request sees, before the store is open: the data directory and workspace
/// exist, the gateway token is loaded (or made), replication is configured.
fn gateway(settings: Settings, workspace: &std::path::Path) -> Result<Arc<Gateway>, ServeError> {
    let data_dir = settings.data_dir.clone();
    for dir in [data_dir.as_path(), workspace] {
        std::fs::create_dir_all(dir).map_err(|source| ServeError::DataDir { path: dir.to_owned(), source })?;
    }
    let (token, _) = token::load_or_generate(settings.gateway_token.as_ref(), &data_dir)?;
    let replication = Replication::new(settings.replication.as_ref())?;
    Ok(Arc::new(Gateway {
        token,
        events: EventBus::default(),
        started: Instant::now(),
        boot_id: uuid::Uuid::new_v4().to_string(),
        readiness: watch::Sender::new(Readiness::Starting { reason: "opening the store".into() }),
        core: OnceLock::new(),
        auth_limiter: AuthLimiter::default(),
        access: settings.auth.access.clone().map(AccessVerifier::new),
        close_connections: CancellationToken::new(),
        connection_slots: Arc::new(Semaphore::new(settings.max_connections)),
        connection_tasks: TaskTracker::new(),
        replication,
        channels: Channels::new(&settings.channels),
        mcp: super::mcp::Mcp::new(&settings),
        stop_reason: std::sync::Mutex::new(None),
        queue_budget: super::ws::Budget::new(settings.max_queued_bytes),
        settings,
    }))
}

/// Opens the store on the blocking pool and builds what needs it: the agent and pairing, the
/// DM policies seeded from the environment; then the gateway's core is set.
async fn open_core(
    gateway: &Gateway,
    workspace: &std::path::Path,
) -> Result<(Store, Arc<Agent>, Arc<Pairing>), StoreError> {
    let store_dir = gateway.settings.data_dir.clone();
    let store = match tokio::task::spawn_blocking(move || Store::open(&store_dir)).await {
        Ok(result) => result?,
        Err(_) => return Err(StoreError::Worker),
    };
    let mut parts = AgentParts::from_settings(&gateway.settings, workspace.to_owned());
    // The channels start after the agent (their router needs it): the tool holds a handle that
    // reaches their adapters once they run.
    let outbound = Arc::new(gateway.channels.outbound());
    send_message::offer(
        &mut parts.tools,
        &gateway.settings.tools,
        outbound,
        gateway.events.clone(),
        parts.operators.clone(),
    );
    if gateway.settings.tools.enabled {
        parts.tools.add_source(gateway.mcp.tools());
    }
    let agent = Agent::new(store.clone(), gateway.events.clone(), parts);
    if let Err(error) = agent.load_tool_grants().await {
        tracing::error!(%error, "cannot read the tools granted to guests; they get the read-only tools");
    }
    if let Err(error) = agent.load_skills().await {
        tracing::error!(%error, "cannot read which skills are switched off; every skill is on");
    }
    let pairing = Arc::new(Pairing::new(store.clone(), gateway.events.clone(), gateway.settings.auth.device_token_ttl));
    if let Err(error) = pairing.seed(&gateway.settings.auth.channel_seeds).await {
        tracing::error!(%error, "cannot seed the DM policies from the environment");
    }
    let _ = gateway.core.set(Core { store: store.clone(), agent: Arc::clone(&agent), pairing: Arc::clone(&pairing) });
    Ok((store, agent, pairing))
}

/// What happens when another instance claims the bucket: from that moment every write is
/// refused (whatever this one acknowledged would never reach the bucket), `/readyz` says why,
/// and the gateway stops — clients hear the reason in the `shutdown` event — so the platform
/// routes to the instance that owns the bucket now.
fn on_fenced(
    gateway: &Arc<Gateway>,
    store: &Store,
    fenced: &CancellationToken,
) -> impl Fn(String) + Send + Sync + use<> {
    let (gateway, store, fenced) = (Arc::clone(gateway), store.clone(), fenced.clone());
    move |reason: String| {
        let message = format!(
            "this gateway no longer owns its bucket and refuses new writes: {reason}; it stops so that the instance that owns the bucket now serves"
        );
        store.refuse_writes(message.clone());
        gateway.set_stop_reason(message);
        gateway.readiness.send_replace(Readiness::Failed { reason: format!("replication fenced: {reason}") });
        tracing::error!(%reason, "fenced: refusing writes and stopping");
        fenced.cancel();
    }
}

/// How long a stop waits for connections to say goodbye.
const CONNECTIONS_CLOSE: Duration = Duration::from_secs(2);

/// The listener as the server accepts from it: Nagle's algorithm off on every accepted socket,
/// so a small write (a WebSocket frame, an HTTP answer) goes out at once instead of waiting for
/// the peer's delayed ACK (40 ms on Linux) while an earlier write is unacknowledged.
fn accepting(listener: TcpListener) -> axum::serve::TapIo<TcpListener, fn(&mut TcpStream)> {
    listener.tap_io(no_delay)
}

fn no_delay(tcp: &mut TcpStream) {
    if let Err(error) = tcp.set_nodelay(true) {
        tracing::debug!(%error, "cannot set TCP_NODELAY on an accepted socket");
    }
}

async fn stop(gateway: &Gateway, agent: &Agent, store: &Store) {
    let started = Instant::now();
    if gateway.stop_reason().is_none() {
        gateway.readiness.send_replace(Readiness::Stopping { reason: "shutting down".into() });
    }
    tracing::info!(active_runs = agent.active_runs(), "stopping: no new connections, draining turns");
    gateway.channels.stop_intake();
    agent.shutdown(gateway.settings.shutdown_grace).await;
    gateway.mcp.stop().await;
    gateway.channels.stop().await;
    gateway.close_connections.cancel();
    // Connections close themselves on the token; give them a moment to say goodbye.
    gateway.connection_tasks.close();
    if tokio::time::timeout(CONNECTIONS_CLOSE, gateway.connection_tasks.wait()).await.is_err() {
        tracing::warn!(open = gateway.connection_tasks.len(), "connections still open after the stop's grace");
    }
    match store.flush().await {
        Ok(()) => tracing::info!(elapsed_ms = started.elapsed().as_millis() as u64, "stopped; store flushed"),
        Err(error) => tracing::error!(%error, "stopped, but flushing the store failed"),
    }
    gateway.replication.stop().await;
}

/// With a bucket configured: `/readyz` says `restoring` until the store is rebuilt (or found
/// newer locally) and the bucket claimed; a refused restore leaves the gateway `failed`.
async fn restore(
    gateway: &Gateway,
    data_dir: &std::path::Path,
    workspace: &std::path::Path,
    shutdown: &CancellationToken,
) -> Result<(), ReplicationError> {
    if !gateway.replication.is_configured() {
        return Ok(());
    }
    let reason = "restoring the store from the bucket".to_owned();
    gateway.readiness.send_replace(Readiness::Restoring { reason });
    let progress = |reason| {
        gateway.readiness.send_replace(Readiness::Restoring { reason });
    };
    let result = gateway.replication.restore(data_dir, workspace, shutdown, progress).await;
    if let Err(error) = &result {
        gateway.readiness.send_replace(Readiness::Failed { reason: format!("restore refused: {error}") });
    }
    result
}

#[cfg(test)]
mod tests {
    use axum::serve::Listener;

    use super::*;

    #[tokio::test]
    async fn accepted_sockets_have_nagle_off() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut listener = accepting(listener);
        let (_client, (accepted, _)) = tokio::join!(TcpStream::connect(address), listener.accept());
        assert!(accepted.nodelay().unwrap());
    }
}
