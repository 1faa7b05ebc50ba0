//! Pairing methods of the protocol (scope `operator.pairing`): devices, their tokens, and
//! chat-platform pairing codes.

use serde_json::{Map, Value, json};

use super::handshake::Authorized;
use crate::core::frames::{ErrorCode, ErrorShape};
use crate::daemon::pairing::{Actor, Pairing, PairingError};

pub const METHODS: &[&str] = &[
    "device.pair.list",
    "device.pair.approve",
    "device.pair.reject",
    "device.pair.remove",
    "device.token.rotate",
    "device.token.revoke",
    "pairing.code.list",
    "pairing.code.approve",
    "pairing.code.reject",
];

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

fn text<'a>(params: &'a Map<String, Value>, field: &str, method: &str) -> Result<&'a str, PairingError> {
    params
        .get(field)
        .and_then(Value::as_str)
        .filter(|value| !value.is_empty())
        .ok_or_else(|| PairingError::Invalid(format!("invalid {method} params: must have required property '{field}'")))
}

pub async fn dispatch(
    pairing: &Pairing,
    client: &Authorized,
    address: &str,
    method: &str,
    params: &Map<String, Value>,
) -> Result<Value, ErrorShape> {
    let actor = Actor {
        name: client
            .device
            .as_ref()
            .map_or_else(|| "local token".to_owned(), |device| format!("device {}", device.id.as_str())),
        address: Some(address.to_owned()),
        grants: client.grants.clone(),
    };
    run(pairing, &actor, method, params).await.map_err(error_shape)
}

async fn run(
    pairing: &Pairing,
    actor: &Actor,
    method: &str,
    params: &Map<String, Value>,
) -> Result<Value, PairingError> {
    match method {
        "device.pair.list" => {
            let paired = pairing.paired().await?;
            Ok(json!({"pending": pairing.pending(), "paired": paired}))
        }
        "device.pair.approve" => {
            let device = pairing.approve(text(params, "requestId", method)?, actor).await?;
            Ok(json!({"ok": true, "device": device}))
        }
        "device.pair.reject" => {
            pairing.reject(text(params, "requestId", method)?, actor).await.map(|()| json!({"ok": true}))
        }
        "device.pair.remove" => {
            let closed = pairing.revoke(text(params, "deviceId", method)?, actor).await?;
            Ok(json!({"ok": true, "closedConnections": closed}))
        }
        "device.token.rotate" => {
            let (token, expires) = pairing.rotate(text(params, "deviceId", method)?, actor).await?;
            Ok(json!({"ok": true, "deviceToken": token.expose(), "expiresAtMs": expires}))
        }
        "device.token.revoke" => {
            let closed = pairing.revoke_tokens(text(params, "deviceId", method)?, actor).await?;
            Ok(json!({"ok": true, "closedConnections": closed}))
        }
        "pairing.code.list" => Ok(json!({"codes": pairing.codes().await?})),
        "pairing.code.approve" | "pairing.code.reject" => {
            let approve = method == "pairing.code.approve";
            let code = pairing
                .resolve_code(text(params, "channel", method)?, text(params, "code", method)?, approve, actor)
                .await?;
            Ok(json!({"ok": true, "channel": code.channel, "senderId": code.sender_id}))
        }
        _ => Err(PairingError::Invalid(format!("unknown method: {method}"))),
    }
}
