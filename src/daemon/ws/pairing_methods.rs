//! Pairing methods of the protocol (scope `operator.pairing`): devices, their tokens, and
//! chat-platform pairing codes.

use serde_json::{Value, json};

use super::handshake::Authorized;
use crate::core::frames::{ErrorCode, ErrorShape};
use crate::core::protocol::Call;
use crate::daemon::pairing::{Actor, Pairing, PairingError};

pub fn error_shape(error: PairingError) -> ErrorShape {
    match error {
        PairingError::Store(error) => ErrorShape::unavailable(format!("store unavailable: {error}")),
        PairingError::MissingScope(scope) => ErrorShape::missing_scope(scope.as_str()),
        error @ (PairingError::UnknownRequest(_)
        | PairingError::UnknownDevice(_)
        | PairingError::UnknownCode { .. }) => {
            ErrorShape::new(ErrorCode::InvalidRequest, error.to_string()).with_details(json!({"code": "NOT_FOUND"}))
        }
        error => ErrorShape::invalid(error.to_string()),
    }
}

pub async fn dispatch(pairing: &Pairing, client: &Authorized, address: &str, call: Call) -> Result<Value, ErrorShape> {
    let actor = Actor {
        name: client
            .device
            .as_ref()
            .map_or_else(|| "local token".to_owned(), |device| format!("device {}", device.id.as_str())),
        address: Some(address.to_owned()),
        grants: client.grants.clone(),
    };
    run(pairing, &actor, call).await.map_err(error_shape)
}

async fn run(pairing: &Pairing, actor: &Actor, call: Call) -> Result<Value, PairingError> {
    match call {
        Call::DevicePairList => {
            let paired = pairing.paired().await?;
            Ok(json!({"pending": pairing.pending(), "paired": paired}))
        }
        Call::DevicePairDecide { request_id, approve: true } => {
            let device = pairing.approve(&request_id, actor).await?;
            Ok(json!({"ok": true, "device": device}))
        }
        Call::DevicePairDecide { request_id, approve: false } => {
            pairing.reject(&request_id, actor).await.map(|()| json!({"ok": true}))
        }
        Call::DevicePairRemove { device_id } => {
            let closed = pairing.revoke(&device_id, actor).await?;
            Ok(json!({"ok": true, "closedConnections": closed}))
        }
        Call::DeviceTokenRotate { device_id } => {
            let (token, expires) = pairing.rotate(&device_id, actor).await?;
            Ok(json!({"ok": true, "deviceToken": token.expose(), "expiresAtMs": expires}))
        }
        Call::DeviceTokenRevoke { device_id } => {
            let closed = pairing.revoke_tokens(&device_id, actor).await?;
            Ok(json!({"ok": true, "closedConnections": closed}))
        }
        Call::PairingCodeList => Ok(json!({"codes": pairing.codes().await?})),
        Call::PairingCodeDecide { channel, code, approve } => {
            let code = pairing.resolve_code(&channel, &code, approve, actor).await?;
            Ok(json!({"ok": true, "channel": code.channel, "senderId": code.sender_id}))
        }
        // `dispatch` sends only pairing calls here; a call's fields (a chat message) stay out of errors.
        _ => Err(PairingError::Invalid("not a pairing method".into())),
    }
}
