//! Device pairing: pending requests (in memory, 5-minute lifetime), approval into the store with
//! a device token, rejection, revocation that closes the device's connections at once.

mod codes;
mod connections;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

pub use codes::{PolicyView, channel_name};
pub use connections::ConnectionGuard;

/// A paired device as lists show it, with whether it is connected now.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceView {
    #[serde(flatten)]
    pub device: PairedDevice,
    pub connected: bool,
}

use crate::core::pairing::DEVICE_REQUEST_TTL;
use crate::core::protocol::events::{AuditAppended, Decision, DeviceChange, PairChanged, PairResolved};
use crate::core::scopes::{Grants, Scope};
use crate::core::secret::Secret;
use crate::core::sync::lock;
use crate::core::time::now_ms;
use crate::daemon::events::EventBus;
use crate::daemon::store::{PairedDevice, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum PairingError {
    #[error("no pending request `{0}` (it may have expired, been superseded or already been answered)")]
    UnknownRequest(String),
    #[error("no paired device `{0}`")]
    UnknownDevice(String),
    #[error("no pending code `{code}` on `{channel}` (it may have expired or already been answered)")]
    UnknownCode { channel: String, code: String },
    #[error("unknown channel `{0}`; expected `telegram`, `discord` or `slack`")]
    UnknownChannel(String),
    #[error("{0}")]
    Invalid(String),
    /// The approver lacks a scope the device would get: nobody hands out more than they hold.
    #[error("missing scope: {scope} (the device would get it, and you do not hold it)", scope = .0.as_str())]
    MissingScope(Scope),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A device waiting for an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingDevice {
    pub request_id: String,
    pub device_id: String,
    pub public_key: String,
    pub display_name: Option<String>,
    pub client_id: String,
    pub client_mode: String,
    pub platform: String,
    pub device_family: String,
    pub role: String,
    pub scopes: Vec<String>,
    pub address: String,
    pub created_at_ms: i64,
    pub last_attempt_at_ms: i64,
    pub expires_at_ms: i64,
}

impl PendingDevice {
    /// The device as stored once approved (`via`: `operator`, `loopback`, `dev-mode`).
    pub fn into_paired(self, via: &str) -> PairedDevice {
        let now = now_ms();
        let created = if self.created_at_ms > 0 { self.created_at_ms } else { now };
        PairedDevice {
            device_id: self.device_id,
            public_key: self.public_key,
            display_name: self.display_name,
            client_id: self.client_id,
            client_mode: self.client_mode,
            platform: self.platform,
            device_family: self.device_family,
            role: self.role,
            scopes: self.scopes,
            approved_via: via.into(),
            created_at_ms: created,
            approved_at_ms: now,
            last_seen_at_ms: Some(now),
            last_address: Some(self.address),
            token_expires_at_ms: None,
        }
    }
}

/// How a pending request ended, for a connection that waits on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    Approved {
        device: Box<PairedDevice>,
        token: Secret,
    },
    Rejected,
    /// Expired, superseded by a newer request from the same device, or the gateway stopped.
    Gone,
}

struct Pending {
    request: PendingDevice,
    resolution: watch::Sender<Option<Resolution>>,
}

/// Who did an operator action, for the audit log.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The Access email, `local token`, a device id, or `loopback`.
    pub name: String,
    pub address: Option<String>,
    /// What the actor holds; it may not grant a device more.
    pub grants: Grants,
}

pub struct Pairing {
    store: Store,
    events: EventBus,
    token_ttl: Duration,
    pending: Mutex<HashMap<String, Pending>>,
    connections: Mutex<HashMap<String, Vec<(u64, CancellationToken)>>>,
    next_connection: std::sync::atomic::AtomicU64,
}

impl Pairing {
    pub fn new(store: Store, events: EventBus, token_ttl: Duration) -> Self {
        Self {
            store,
            events,
            token_ttl,
            pending: Mutex::new(HashMap::new()),
            connections: Mutex::new(HashMap::new()),
            next_connection: std::sync::atomic::AtomicU64::new(1),
        }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn ttl_ms(&self) -> i64 {
        i64::try_from(self.token_ttl.as_millis()).unwrap_or(i64::MAX)
    }

    /// Files (or refreshes) a request. The same device with the same key, role and scopes keeps
    /// its request id; a changed one supersedes it. Returns the request and a receiver that
    /// learns how it ended.
    pub fn request(&self, mut request: PendingDevice) -> (PendingDevice, watch::Receiver<Option<Resolution>>) {
        let now = now_ms();
        let ttl = i64::try_from(DEVICE_REQUEST_TTL.as_millis()).unwrap_or(i64::MAX);
        let mut pending = lock(&self.pending);
        pending.retain(|_, entry| {
            let alive = entry.request.expires_at_ms > now;
            if !alive {
                entry.resolution.send_replace(Some(Resolution::Gone));
            }
            alive
        });
        let existing =
            pending.iter().find(|(_, entry)| entry.request.device_id == request.device_id).map(|(id, _)| id.clone());
        if let Some(id) = existing {
            let same = {
                let old = &pending[&id].request;
                old.public_key == request.public_key && old.role == request.role && old.scopes == request.scopes
            };
            if same {
                let entry = pending.get_mut(&id).map(|entry| {
                    entry.request.last_attempt_at_ms = now;
                    entry.request.expires_at_ms = now + ttl;
                    entry.request.address = request.address.clone();
                    (entry.request.clone(), entry.resolution.subscribe())
                });
                if let Some(refreshed) = entry {
                    return refreshed;
                }
            } else if let Some(old) = pending.remove(&id) {
                old.resolution.send_replace(Some(Resolution::Gone));
                self.events.emit(&PairResolved {
                    request_id: Some(id.clone()),
                    device_id: old.request.device_id.clone(),
                    decision: Decision::Superseded,
                    approved_via: None,
                    ts: now,
                });
            }
        }
        request.request_id = uuid::Uuid::new_v4().to_string();
        request.created_at_ms = now;
        request.last_attempt_at_ms = now;
        request.expires_at_ms = now + ttl;
        let (sender, receiver) = watch::channel(None);
        pending.insert(request.request_id.clone(), Pending { request: request.clone(), resolution: sender });
        drop(pending);
        self.events.publish("device.pair.requested", Scope::Pairing, &request);
        (request, receiver)
    }

    /// Pending requests that have not expired, oldest first.
    pub fn pending(&self) -> Vec<PendingDevice> {
        let now = now_ms();
        let mut list: Vec<PendingDevice> = lock(&self.pending)
            .values()
            .filter(|entry| entry.request.expires_at_ms > now)
            .map(|entry| entry.request.clone())
            .collect();
        list.sort_by_key(|request| request.created_at_ms);
        list
    }

    /// Approves a request: the device is stored with a fresh token, and a waiting connection
    /// gets it at once.
    pub async fn approve(&self, request_id: &str, actor: &Actor) -> Result<PairedDevice, PairingError> {
        let entry = self.take_within(request_id, &actor.grants)?;
        let device = entry.request.into_paired("operator");
        let (device, token) = self.store_with_token(device).await?;
        entry.resolution.send_replace(Some(Resolution::Approved { device: Box::new(device.clone()), token }));
        self.resolved(request_id, &device.device_id, Decision::Approved);
        self.audit(actor, "device.approve", &device.device_id, device.display_name.as_deref()).await;
        Ok(device)
    }

    pub async fn reject(&self, request_id: &str, actor: &Actor) -> Result<(), PairingError> {
        let entry = self.take(request_id)?;
        entry.resolution.send_replace(Some(Resolution::Rejected));
        self.resolved(request_id, &entry.request.device_id, Decision::Rejected);
        self.audit(actor, "device.reject", &entry.request.device_id, entry.request.display_name.as_deref()).await;
        Ok(())
    }

    /// Takes a request the actor may approve: one asking for no scope beyond `grants`. A
    /// refused one stays pending for an operator who holds enough.
    fn take_within(&self, request_id: &str, grants: &Grants) -> Result<Pending, PairingError> {
        let pending = lock(&self.pending);
        if let Some(entry) = pending.get(request_id)
            && let Some(scope) = grants.missing(entry.request.scopes.iter().map(String::as_str))
        {
            return Err(PairingError::MissingScope(scope));
        }
        drop(pending);
        self.take(request_id)
    }

    fn take(&self, request_id: &str) -> Result<Pending, PairingError> {
        let mut pending = lock(&self.pending);
        match pending.remove(request_id) {
            Some(entry) if entry.request.expires_at_ms > now_ms() => Ok(entry),
            Some(entry) => {
                entry.resolution.send_replace(Some(Resolution::Gone));
                Err(PairingError::UnknownRequest(request_id.to_owned()))
            }
            None => Err(PairingError::UnknownRequest(request_id.to_owned())),
        }
    }

    fn resolved(&self, request_id: &str, device_id: &str, decision: Decision) {
        self.events.emit(&PairResolved {
            request_id: Some(request_id.to_owned()),
            device_id: device_id.to_owned(),
            decision,
            approved_via: None,
            ts: now_ms(),
        });
    }

    /// Stores a device approved without an operator (loopback, `DEV_MODE`) with a fresh token.
    pub async fn approve_silently(&self, device: PairedDevice) -> Result<(PairedDevice, Secret), PairingError> {
        let (device, token) = self.store_with_token(device).await?;
        self.audit(
            &Actor { name: device.approved_via.clone(), address: device.last_address.clone(), grants: Grants::all() },
            "device.approve",
            &device.device_id,
            device.display_name.as_deref(),
        )
        .await;
        self.events.emit(&PairResolved {
            request_id: None,
            device_id: device.device_id.clone(),
            decision: Decision::Approved,
            approved_via: Some(device.approved_via.clone()),
            ts: now_ms(),
        });
        Ok((device, token))
    }

    /// Issues a fresh token for a paired device (each connect with the gateway token does).
    pub async fn reissue(&self, device_id: &str) -> Result<(Secret, i64), PairingError> {
        let token = Secret::generate();
        let expires = now_ms() + self.ttl_ms();
        if !self.store.rotate_device_token(device_id, token.expose().to_owned(), expires).await? {
            return Err(PairingError::UnknownDevice(device_id.to_owned()));
        }
        Ok((token, expires))
    }

    async fn store_with_token(&self, device: PairedDevice) -> Result<(PairedDevice, Secret), PairingError> {
        let token = Secret::generate();
        let expires = now_ms() + self.ttl_ms();
        let device = self.store.pair_device(device, token.expose().to_owned(), expires).await?;
        Ok((device, token))
    }

    /// Rotates a device's token: the old one stops working; the new one is returned once.
    /// The actor must hold every scope the device has: the new token is handed to the actor.
    /// The device's open connections close, as with a revocation: the old credential is gone.
    pub async fn rotate(&self, device_id: &str, actor: &Actor) -> Result<(Secret, i64), PairingError> {
        let device =
            self.store.device(device_id).await?.ok_or_else(|| PairingError::UnknownDevice(device_id.to_owned()))?;
        if let Some(scope) = actor.grants.missing(device.scopes.iter().map(String::as_str)) {
            return Err(PairingError::MissingScope(scope));
        }
        let rotated = self.reissue(device_id).await?;
        self.close_connections_of(device_id);
        self.audit(actor, "device.rotate", device_id, None).await;
        self.events.emit(&PairChanged { device_id: device_id.to_owned(), change: DeviceChange::Rotated, ts: now_ms() });
        Ok(rotated)
    }

    /// Removes a device and its tokens and closes its open connections; returns how many.
    pub async fn revoke(&self, device_id: &str, actor: &Actor) -> Result<usize, PairingError> {
        if !self.store.remove_device(device_id).await? {
            return Err(PairingError::UnknownDevice(device_id.to_owned()));
        }
        let closed = self.close_connections_of(device_id);
        self.audit(actor, "device.revoke", device_id, None).await;
        self.events.emit(&PairChanged { device_id: device_id.to_owned(), change: DeviceChange::Revoked, ts: now_ms() });
        Ok(closed)
    }

    /// Revokes a device's tokens (it stays paired and may pair a session again with the
    /// gateway token) and closes its connections; returns how many.
    pub async fn revoke_tokens(&self, device_id: &str, actor: &Actor) -> Result<usize, PairingError> {
        if self.store.device(device_id).await?.is_none() {
            return Err(PairingError::UnknownDevice(device_id.to_owned()));
        }
        self.store.revoke_device_tokens(device_id).await?;
        let closed = self.close_connections_of(device_id);
        self.audit(actor, "device.token.revoke", device_id, None).await;
        self.events.emit(&PairChanged {
            device_id: device_id.to_owned(),
            change: DeviceChange::TokenRevoked,
            ts: now_ms(),
        });
        Ok(closed)
    }

    /// Paired devices, newest approval first.
    pub async fn paired(&self) -> Result<Vec<DeviceView>, PairingError> {
        let devices = self.store.devices().await?;
        Ok(devices
            .into_iter()
            .map(|device| DeviceView { connected: self.is_connected(&device.device_id), device })
            .collect())
    }

    /// Ends every pending request (the gateway is stopping).
    pub fn close(&self) {
        for (_, entry) in lock(&self.pending).drain() {
            entry.resolution.send_replace(Some(Resolution::Gone));
        }
    }

    /// Records an operator's change made outside pairing (the tools guests may use) in the
    /// same audit log, with the same live event.
    pub async fn audit_for(&self, actor: &Actor, action: &str, target: &str, detail: &str) {
        self.audit(actor, action, target, Some(detail)).await;
    }

    async fn audit(&self, actor: &Actor, action: &str, target: &str, detail: Option<&str>) {
        if let Err(error) = self.store.audit(&actor.name, action, target, actor.address.as_deref(), detail).await {
            tracing::error!(%error, action, "cannot write the audit log");
        }
        self.events.emit(&AuditAppended { action: action.to_owned(), target: target.to_owned() });
    }
}

#[cfg(test)]
mod tests;
