//! `connect`'s params: the protocol range, the client, role and scopes, the shared credential
//! and the device's signed proof, parsed from outside input without a panic.

use serde_json::Value;

use crate::core::device::DeviceProof;
use crate::core::frames::ErrorShape;

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
    pub caps: Vec<String>,
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
        caps: params["caps"]
            .as_array()
            .map(|caps| caps.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default(),
    })
}
