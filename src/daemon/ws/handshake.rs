//! The `connect` handshake: protocol range, gateway token (or cookie), device signature, and
//! which devices may in without an operator's approval.

use serde_json::{Value, json};

use crate::core::device::{self, DeviceProof, SignedFields, VerifiedDevice};
use crate::core::frames::{ErrorCode, ErrorShape, MIN_PROTOCOL_VERSION, PROTOCOL_VERSION};
use crate::core::scopes::Grants;
use crate::core::time::now_ms;
use crate::daemon::state::{Gateway, Peer};

/// WebSocket close codes the handshake uses.
pub const CLOSE_POLICY: u16 = 1008;
pub const CLOSE_PROTOCOL: u16 = 1002;

#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub id: String,
    pub version: String,
    pub platform: String,
    pub mode: String,
    pub device_family: String,
    pub display_name: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ConnectParams {
    pub min_protocol: u64,
    pub max_protocol: u64,
    pub client: ClientInfo,
    pub role: String,
    pub scopes: Vec<String>,
    pub token: Option<String>,
    pub device_token: Option<String>,
    pub device: Option<DeviceProof>,
}

/// A connection that passed the handshake.
#[derive(Debug, Clone)]
pub struct Authorized {
    pub protocol: u64,
    pub role: String,
    pub grants: Grants,
    pub auth_method: &'static str,
    pub device: Option<VerifiedDevice>,
    pub client: ClientInfo,
}

/// Why a connect is refused, and how to close the socket after answering.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub error: ErrorShape,
    pub close_code: u16,
}

impl Refusal {
    fn policy(error: ErrorShape) -> Self {
        Self { error, close_code: CLOSE_POLICY }
    }
}

fn text(value: &Value, field: &str) -> String {
    value[field].as_str().unwrap_or_default().to_owned()
}

pub fn parse(params: &Value) -> Result<ConnectParams, ErrorShape> {
    let invalid = |what: &str| ErrorShape::invalid(format!("invalid connect params: {what}"));
    if !params.is_object() {
        return Err(invalid("must be object"));
    }
    let protocol =
        |field: &str| params[field].as_u64().ok_or_else(|| invalid(&format!("must have integer property '{field}'")));
    let (min_protocol, max_protocol) = (protocol("minProtocol")?, protocol("maxProtocol")?);
    let client = &params["client"];
    if !client.is_object() || client["id"].as_str().is_none() {
        return Err(invalid("must have object property 'client' with 'id'"));
    }
    let scopes = match &params["scopes"] {
        Value::Null => Vec::new(),
        Value::Array(items) => items
            .iter()
            .map(|item| item.as_str().map(str::to_owned).ok_or_else(|| invalid("scopes must be strings")))
            .collect::<Result<_, _>>()?,
        _ => return Err(invalid("scopes must be an array")),
    };
    let auth = &params["auth"];
    let device = match &params["device"] {
        Value::Null => None,
        device => Some(DeviceProof {
            id: text(device, "id"),
            public_key: text(device, "publicKey"),
            signature: text(device, "signature"),
            signed_at_ms: device["signedAt"].as_i64().ok_or_else(|| invalid("device.signedAt must be an integer"))?,
            nonce: device["nonce"].as_str().map(str::to_owned),
        }),
    };
    Ok(ConnectParams {
        min_protocol,
        max_protocol,
        client: ClientInfo {
            id: text(client, "id"),
            version: text(client, "version"),
            platform: text(client, "platform"),
            mode: text(client, "mode"),
            device_family: text(client, "deviceFamily"),
            display_name: client["displayName"].as_str().map(str::to_owned),
        },
        role: params["role"].as_str().unwrap_or("operator").to_owned(),
        scopes,
        token: auth["token"].as_str().filter(|token| !token.is_empty()).map(str::to_owned),
        device_token: auth["deviceToken"].as_str().filter(|token| !token.is_empty()).map(str::to_owned),
        device,
    })
}

fn auth_error(message: &str, code: &str) -> ErrorShape {
    ErrorShape::invalid(message).with_details(json!({"code": code}))
}

/// Decides a connect. `cookie` is whether the upgrade request carried a valid token cookie.
pub fn authorize(
    gateway: &Gateway,
    peer: Peer,
    cookie: bool,
    nonce: &str,
    params: ConnectParams,
) -> Result<Authorized, Refusal> {
    if params.min_protocol > PROTOCOL_VERSION
        || params.max_protocol < MIN_PROTOCOL_VERSION
        || params.min_protocol > params.max_protocol
    {
        let error = ErrorShape::invalid("protocol mismatch").with_details(json!({
            "code": "PROTOCOL_MISMATCH",
            "clientMinProtocol": params.min_protocol,
            "clientMaxProtocol": params.max_protocol,
            "expectedProtocol": PROTOCOL_VERSION,
            "minimumProbeProtocol": MIN_PROTOCOL_VERSION,
        }));
        return Err(Refusal { error, close_code: CLOSE_PROTOCOL });
    }
    if params.role != "operator" {
        return Err(Refusal::policy(ErrorShape::invalid(format!("unsupported role: {}", params.role))));
    }
    if let Some(wait) = gateway.auth_limiter.locked(peer.address) {
        let mut error = auth_error(
            &format!("unauthorized: too many failed attempts; retry in {} s", wait.as_secs().max(1)),
            "AUTH_RATE_LIMITED",
        );
        error.retry_after_ms = Some(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX));
        return Err(Refusal::policy(error));
    }
    let fail = |error: ErrorShape| {
        gateway.auth_limiter.record_failure(peer.address);
        Refusal::policy(error)
    };
    let nothing_given = params.token.is_none() && params.device_token.is_none() && !cookie;
    if nothing_given && params.device.is_none() {
        return Err(Refusal::policy(
            ErrorShape::new(ErrorCode::NotPaired, "device identity required")
                .with_details(json!({"code": "DEVICE_IDENTITY_REQUIRED"})),
        ));
    }
    let (auth_method, sent_token) = match (&params.token, &params.device_token) {
        (Some(token), _) if gateway.token.matches(token) => ("token", token.as_str()),
        (Some(_), _) => {
            return Err(fail(auth_error(
                "unauthorized: gateway token mismatch (open the URL `molt gateway` printed, or use the token it keeps in its data directory)",
                "AUTH_TOKEN_MISMATCH",
            )));
        }
        // Device tokens are issued by pairing; none is valid until then.
        (None, Some(_)) => {
            return Err(fail(auth_error(
                "unauthorized: device token mismatch (pair the device again)",
                "AUTH_DEVICE_TOKEN_MISMATCH",
            )));
        }
        (None, None) if cookie => ("cookie", ""),
        (None, None) => {
            return Err(Refusal::policy(auth_error(
                "unauthorized: gateway token missing (open the URL `molt gateway` printed)",
                "AUTH_TOKEN_MISSING",
            )));
        }
    };
    let grants = Grants::from_requested(params.scopes.iter().map(String::as_str));
    let device = match &params.device {
        Some(proof) => {
            let fields = SignedFields {
                client_id: &params.client.id,
                client_mode: &params.client.mode,
                role: &params.role,
                scopes: &params.scopes,
                token: sent_token,
                platform: &params.client.platform,
                device_family: &params.client.device_family,
            };
            let verified = device::verify(proof, &fields, nonce, now_ms()).map_err(|error| {
                let refusal = auth_error(&error.to_string(), error.code());
                let refusal =
                    ErrorShape { details: Some(json!({"code": error.code(), "reason": error.reason()})), ..refusal };
                if error == device::DeviceAuthError::SignatureInvalid {
                    fail(refusal)
                } else {
                    Refusal::policy(refusal)
                }
            })?;
            if !(peer.direct_loopback && gateway.settings.loopback_auto_approve) {
                return Err(Refusal::policy(
                    ErrorShape::new(ErrorCode::NotPaired, "pairing required: this device is not approved")
                        .with_details(json!({"code": "PAIRING_REQUIRED", "deviceId": verified.id})),
                ));
            }
            Some(verified)
        }
        // OpenClaw's CLI sends no device on a loopback URL with the shared token.
        None if peer.direct_loopback => None,
        None => {
            return Err(Refusal::policy(
                ErrorShape::new(ErrorCode::NotPaired, "device identity required")
                    .with_details(json!({"code": "DEVICE_IDENTITY_REQUIRED"})),
            ));
        }
    };
    gateway.auth_limiter.record_success(peer.address);
    Ok(Authorized {
        protocol: params.max_protocol.min(PROTOCOL_VERSION),
        role: params.role,
        grants,
        auth_method,
        device,
        client: params.client,
    })
}
