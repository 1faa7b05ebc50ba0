//! The `connect` request this client sends: who it is, what it asks for, and the Ed25519
//! signature over the v3 payload binding the challenge nonce and the token it sends.

use serde_json::{Value, json};

use super::app::SCOPES;
use super::identity::Identity;
use crate::core::device::SignedFields;
use crate::core::secret::Secret;

pub const CLIENT_ID: &str = "molt-tui";
pub const CLIENT_MODE: &str = "tui";
pub const DEVICE_FAMILY: &str = "terminal";
/// Ask the gateway to hold the connect open until an operator answers a pairing request.
pub const PAIRING_WAIT: &str = "pairing-wait";

/// Which credential a connect carries.
#[derive(Debug, Clone)]
pub enum Credential {
    /// The gateway's shared token.
    Gateway(Secret),
    /// The token the gateway issued to this device.
    Device(Secret),
    None,
}

impl Credential {
    fn token(&self) -> &str {
        match self {
            Self::Gateway(token) | Self::Device(token) => token.expose(),
            Self::None => "",
        }
    }
}

/// The `params` of `connect`.
pub fn params(
    identity: &Identity,
    credential: &Credential,
    nonce: &str,
    signed_at_ms: i64,
    display_name: &str,
) -> Value {
    let platform = std::env::consts::OS;
    let scopes: Vec<String> = SCOPES.iter().map(|scope| (*scope).to_owned()).collect();
    let fields = SignedFields {
        client_id: CLIENT_ID,
        client_mode: CLIENT_MODE,
        role: "operator",
        scopes: &scopes,
        token: credential.token(),
        platform,
        device_family: DEVICE_FAMILY,
    };
    let device_id = identity.device_id();
    let payload = fields.v3_payload(&device_id, signed_at_ms, nonce);
    let auth = match credential {
        Credential::Gateway(token) => json!({"token": token.expose()}),
        Credential::Device(token) => json!({"deviceToken": token.expose()}),
        Credential::None => json!({}),
    };
    json!({
        "minProtocol": 3,
        "maxProtocol": 4,
        "client": {
            "id": CLIENT_ID,
            "version": crate::VERSION,
            "platform": platform,
            "mode": CLIENT_MODE,
            "deviceFamily": DEVICE_FAMILY,
            "displayName": display_name,
        },
        "role": "operator",
        "scopes": scopes,
        "caps": [PAIRING_WAIT, crate::core::frames::CAP_CHAT_DELTA_TEXT, crate::core::protocol::agent::TOOL_EVENTS_CAP],
        "auth": auth,
        "device": {
            "id": device_id,
            "publicKey": identity.public_key(),
            "signature": identity.sign(&payload),
            "signedAt": signed_at_ms,
            "nonce": nonce,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::device::{DeviceProof, SignatureVersion, verify};

    #[test]
    fn the_gateways_own_check_accepts_the_signature() {
        let identity = Identity::from_seed([9; 32]);
        let credential = Credential::Device(Secret::new("device-token"));
        let sent = params(&identity, &credential, "nonce-1", 1_000, "molt chat");
        assert_eq!(sent["auth"], json!({"deviceToken": "device-token"}));
        assert_eq!(sent["caps"], json!(["pairing-wait", "chat-delta-text", "tool-events"]));
        let device = &sent["device"];
        let proof = DeviceProof {
            id: device["id"].as_str().unwrap().to_owned(),
            public_key: device["publicKey"].as_str().unwrap().to_owned(),
            signature: device["signature"].as_str().unwrap().to_owned(),
            signed_at_ms: 1_000,
            nonce: Some("nonce-1".to_owned()),
        };
        let scopes: Vec<String> = SCOPES.iter().map(|scope| (*scope).to_owned()).collect();
        let fields = SignedFields {
            client_id: CLIENT_ID,
            client_mode: CLIENT_MODE,
            role: "operator",
            scopes: &scopes,
            token: "device-token",
            platform: std::env::consts::OS,
            device_family: DEVICE_FAMILY,
        };
        assert_eq!(verify(&proof, &fields, "nonce-1", 2_000).unwrap().version, SignatureVersion::V3);
        let wrong_token = SignedFields { token: "other", ..fields };
        assert!(verify(&proof, &wrong_token, "nonce-1", 2_000).is_err(), "the signature binds the token sent");
    }
}
