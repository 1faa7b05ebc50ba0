//! The open connections of paired devices: registration (so a revocation, rotation or removal
//! can close them), presence events, and the check that closes the gap between a handshake's
//! lookups and its registration.

use tokio_util::sync::CancellationToken;

use super::{Pairing, lock};
use crate::core::protocol::events::Presence;
use crate::core::time::now_ms;

/// Unregisters a connection from its device when dropped.
pub struct ConnectionGuard<'a> {
    pairing: &'a Pairing,
    device_id: String,
    id: u64,
    pub revoked: CancellationToken,
}

impl Drop for ConnectionGuard<'_> {
    fn drop(&mut self) {
        let mut connections = lock(&self.pairing.connections);
        if let Some(list) = connections.get_mut(&self.device_id) {
            list.retain(|(id, _)| *id != self.id);
            if list.is_empty() {
                connections.remove(&self.device_id);
            }
        }
        drop(connections);
        self.pairing.presence(&self.device_id, false);
    }
}

impl Pairing {
    pub(super) fn close_connections_of(&self, device_id: &str) -> usize {
        lock(&self.connections).remove(device_id).map_or(0, |list| {
            for (_, token) in &list {
                token.cancel();
            }
            list.len()
        })
    }

    /// Registers an open connection of a device, so a revocation can close it.
    pub fn register(&self, device_id: &str) -> ConnectionGuard<'_> {
        let id = self.next_connection.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let revoked = CancellationToken::new();
        lock(&self.connections).entry(device_id.to_owned()).or_default().push((id, revoked.clone()));
        self.presence(device_id, true);
        ConnectionGuard { pairing: self, device_id: device_id.to_owned(), id, revoked }
    }

    pub(super) fn presence(&self, device_id: &str, connected: bool) {
        self.events.emit(&Presence { device_id: device_id.to_owned(), connected });
    }

    pub fn is_connected(&self, device_id: &str) -> bool {
        lock(&self.connections).contains_key(device_id)
    }

    /// Registers a connection, then checks that its credential still holds: the device token
    /// it signed in with (`device_token`), else that the device is paired and holds a token. A
    /// revocation before the registration is seen by the check; one after it cancels the
    /// registration; so none landing mid-handshake is missed. `None`: refuse the connection.
    pub async fn register_checked(&self, device_id: &str, device_token: Option<&str>) -> Option<ConnectionGuard<'_>> {
        let guard = self.register(device_id);
        let valid = match device_token {
            Some(token) => matches!(
                self.store.check_device_token(token).await,
                Ok(Some(grant)) if grant.device_id == device_id
            ),
            // Another connect of the same device replaces its token; a revocation deletes them all.
            None => matches!(
                self.store.device(device_id).await,
                Ok(Some(device)) if device.token_expires_at_ms.is_some_and(|expires| expires > now_ms())
            ),
        };
        valid.then_some(guard)
    }
}
