//! The methods molt serves after the handshake: a parsed [`Call`] in, a typed result out.

use serde::Serialize;
use serde_json::{Value, json};

use super::MAX_PAYLOAD;
use super::follow::Follows;
use super::handshake::Authorized;
use super::{exec_methods, pairing_methods};
use crate::core::asker::Asker;
use crate::core::frames::{ErrorShape, PROTOCOL_VERSION, Request};
use crate::core::ids::{MAIN_SESSION, RunId, SessionKey};
use crate::core::protocol::events::EVENTS;
use crate::core::protocol::hello::{
    Features, Health, HelloAuth, HelloOk, Policy, ProviderState, ReplicationHealth, ServerInfo, SessionDefaults,
    Snapshot,
};
use crate::core::protocol::sessions::{
    ChangeReason, ChatHistory, DeleteResult, HistoryMessage, ModelRow, ModelsList, ResetResult,
    SessionDefaults as SessionDefaultsRow, SessionRow, SessionsList, Subscribed,
};
use crate::core::protocol::{Call, Method, TextBlock};
use crate::core::scopes::Scope;
use crate::core::time::now_ms;
use crate::daemon::state::{Core, Gateway, Readiness};
use crate::daemon::store::StoredMessage;

/// Answers one request. Its method and params were parsed into a [`Call`] here, once; an
/// unknown method or a bad field is answered as the protocol's error.
pub async fn dispatch(
    gateway: &Gateway,
    client: &Authorized,
    address: &str,
    follows: &mut Follows,
    request: Request,
) -> Result<Value, ErrorShape> {
    let method = Method::named(&request.method)?;
    if !client.grants.allows(method.scope()) {
        return Err(ErrorShape::missing_scope(method.scope().as_str()));
    }
    match Call::parse(method, &request.params)? {
        Call::Health => answer(health(gateway).await),
        Call::Status => Ok(status(gateway).await),
        Call::LogsTail { cursor, limit } => answer(crate::daemon::logs::tail(cursor, limit)),
        Call::ChannelsStatus => Ok(json!({"channels": gateway.channels.status()})),
        Call::SessionList { subscribe } => {
            follows.listen(&gateway.events, Scope::Read, subscribe);
            answer(Subscribed { ok: true, key: None, subscribed: subscribe })
        }
        Call::SessionMessages { session_key, subscribe } => {
            if subscribe {
                follows.follow(&gateway.events, &session_key);
            } else {
                follows.unfollow(&session_key);
            }
            answer(Subscribed { ok: true, key: Some(session_key), subscribed: subscribe })
        }
        call => {
            let core = gateway.core()?;
            match call {
                // A client follows the sessions it sends to or reads, from before the run starts
                // or the history is read, so no event falls between.
                Call::ChatSend { session_key, message, idempotency_key } => {
                    follows.follow(&gateway.events, &session_key);
                    answer(core.agent.send(session_key, message, idempotency_key, Asker::Operator).await?)
                }
                Call::ChatHistory { session_key, limit } => {
                    follows.follow(&gateway.events, &session_key);
                    answer(chat_history(core, session_key, limit).await?)
                }
                Call::ChatAbort { session_key, run_id } => answer(core.agent.abort(&session_key, run_id.as_ref())?),
                Call::SessionsList => answer(sessions_list(core).await?),
                Call::SessionsReset { session_key } => answer(sessions_reset(gateway, core, session_key).await?),
                Call::SessionsDelete { session_key } => answer(sessions_delete(gateway, core, session_key).await?),
                Call::ModelsList => answer(models_list(core)),
                exec @ (Call::ExecApprovalList | Call::ExecApprovalResolve { .. }) => {
                    exec_methods::dispatch(core.agent.exec_approvals(), client, address, exec).await
                }
                pairing => pairing_methods::dispatch(&core.pairing, client, address, pairing).await,
            }
        }
    }
}

/// A typed result as the response's payload.
fn answer(result: impl Serialize) -> Result<Value, ErrorShape> {
    serde_json::to_value(result).map_err(|error| ErrorShape::unavailable(format!("cannot encode the answer: {error}")))
}

/// The `hello-ok` payload.
pub async fn hello(gateway: &Gateway, client: &Authorized, conn_id: &str) -> HelloOk {
    HelloOk {
        kind: "hello-ok".into(),
        protocol: client.protocol,
        server: ServerInfo {
            version: crate::VERSION.into(),
            conn_id: conn_id.to_owned(),
            boot_id: gateway.boot_id.clone(),
        },
        features: Features {
            methods: Method::ALL.iter().map(|method| method.name().to_owned()).collect(),
            events: EVENTS.iter().map(|&event| event.to_owned()).collect(),
        },
        snapshot: Snapshot {
            health: health(gateway).await,
            uptime_ms: uptime_ms(gateway),
            session_defaults: SessionDefaults {
                default_agent_id: "main".into(),
                main_key: "main".into(),
                main_session_key: MAIN_SESSION.into(),
            },
        },
        auth: HelloAuth {
            method: client.auth_method.to_owned(),
            role: client.role.clone(),
            scopes: client.grants.names().into_iter().map(str::to_owned).collect(),
            device_token: client.issued_token.as_ref().map(|(token, _)| token.expose().to_owned()),
            device_token_expires_at_ms: client.issued_token.as_ref().map(|(_, expires)| *expires),
        },
        policy: Policy {
            max_payload: MAX_PAYLOAD,
            max_buffered_bytes: gateway.settings.max_buffered_bytes,
            tick_interval_ms: u64::try_from(gateway.settings.tick_interval.as_millis()).unwrap_or(u64::MAX),
        },
        protocol_version: PROTOCOL_VERSION,
    }
}

fn uptime_ms(gateway: &Gateway) -> u64 {
    u64::try_from(gateway.started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn provider_state(gateway: &Gateway) -> ProviderState {
    let model = &gateway.settings.model;
    match &model.provider {
        Some(provider) => ProviderState {
            configured: true,
            name: Some(provider.name.to_string()),
            model: Some(model.model.clone()),
            fallbacks: Some(model.fallbacks.clone()),
            hint: None,
        },
        None => ProviderState {
            configured: false,
            name: None,
            model: None,
            fallbacks: None,
            hint: Some(crate::core::settings::NO_PROVIDER_HINT.into()),
        },
    }
}

async fn health(gateway: &Gateway) -> Health {
    let readiness = gateway.readiness.borrow().clone();
    let replication = gateway.replication.status();
    Health {
        ok: readiness == Readiness::Ready,
        ts: now_ms(),
        store: readiness,
        provider: provider_state(gateway),
        channels: serde_json::Map::new(),
        uptime_ms: uptime_ms(gateway),
        replication: ReplicationHealth { phase: replication.phase, degraded: replication.degraded },
    }
}

async fn status(gateway: &Gateway) -> Value {
    let (store, active_runs) = match gateway.core() {
        Ok(core) => {
            let messages = core.store.message_count().await.ok();
            (json!({"ready": true, "path": core.store.path(), "messages": messages}), core.agent.active_runs())
        }
        Err(_) => (json!({"ready": false}), 0),
    };
    json!({
        "runtimeVersion": crate::VERSION,
        "uptimeMs": uptime_ms(gateway),
        "store": store,
        "provider": provider_state(gateway),
        "connections": gateway.connection_tasks.len(),
        "activeRuns": active_runs,
        "channelSummary": [],
        "replication": gateway.replication.status(),
    })
}

fn history_message(message: &StoredMessage) -> HistoryMessage {
    let reply = message.stop_reason.is_some();
    HistoryMessage {
        id: message.id.to_string(),
        run_id: Some(RunId::from_stored(message.run_id.clone())),
        role: message.role.as_str().to_owned(),
        content: vec![TextBlock { kind: "text".into(), text: message.content.clone() }],
        timestamp: message.created_ms,
        stop_reason: message.stop_reason.clone(),
        usage: reply.then_some(message.usage),
        model: message.model.clone(),
        tools: message.tools.clone(),
    }
}

async fn chat_history(core: &Core, session_key: SessionKey, limit: usize) -> Result<ChatHistory, ErrorShape> {
    let messages = core.store.history(&session_key, limit).await.map_err(store_error)?;
    Ok(ChatHistory { session_key, messages: messages.iter().map(history_message).collect() })
}

async fn sessions_list(core: &Core) -> Result<SessionsList, ErrorShape> {
    let sessions = core.store.list_sessions(500).await.map_err(store_error)?;
    let model = core.agent.model();
    let rows: Vec<SessionRow> = sessions
        .iter()
        .map(|session| SessionRow {
            key: session.key.clone(),
            kind: "direct".into(),
            display_name: session.label.clone().unwrap_or_else(|| display_name(&session.key)),
            created_at: session.created_ms,
            updated_at: session.updated_ms,
            last_message_preview: session.last_message_preview.clone(),
            message_count: session.message_count,
            input_tokens: session.input_tokens,
            output_tokens: session.output_tokens,
            total_tokens: session.input_tokens.saturating_add(session.output_tokens),
            model: model.model.clone(),
        })
        .collect();
    Ok(SessionsList {
        ts: now_ms(),
        path: core.store.path().display().to_string(),
        count: rows.len(),
        defaults: SessionDefaultsRow {
            model_provider: core.agent.provider_name().map(str::to_owned),
            model: model.model.clone(),
            context_tokens: None,
        },
        sessions: rows,
    })
}

fn display_name(key: &str) -> String {
    if key == MAIN_SESSION {
        return "Main".into();
    }
    key.strip_prefix("agent:main:").unwrap_or(key).to_owned()
}

async fn sessions_reset(gateway: &Gateway, core: &Core, key: SessionKey) -> Result<ResetResult, ErrorShape> {
    core.agent.abort(&key, None)?;
    let removed = core.store.reset_session(&key).await.map_err(store_error)?;
    gateway.events.session_changed(&key, ChangeReason::Reset);
    Ok(ResetResult { ok: true, key, removed_messages: u64::try_from(removed).unwrap_or(u64::MAX) })
}

async fn sessions_delete(gateway: &Gateway, core: &Core, key: SessionKey) -> Result<DeleteResult, ErrorShape> {
    core.agent.abort(&key, None)?;
    let deleted = core.store.delete_session(&key).await.map_err(store_error)?;
    gateway.events.session_changed(&key, ChangeReason::Delete);
    Ok(DeleteResult { ok: true, key, deleted })
}

fn models_list(core: &Core) -> ModelsList {
    let model = core.agent.model();
    let provider = core.agent.provider_name();
    let models = std::iter::once(&model.model)
        .chain(&model.fallbacks)
        .map(|id| ModelRow {
            id: id.clone(),
            name: id.clone(),
            provider: provider.map(str::to_owned),
            available: provider.is_some(),
        })
        .collect();
    ModelsList { models }
}

fn store_error(error: crate::daemon::store::StoreError) -> ErrorShape {
    tracing::error!(%error, "store call failed");
    ErrorShape::unavailable(format!("store unavailable: {error}"))
}
