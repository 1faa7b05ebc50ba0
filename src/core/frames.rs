//! Wire frames of the gateway protocol: parsing client requests, encoding responses and events.

use serde::Serialize;
use serde_json::{Map, Value, json};

/// Protocol version molt speaks, and the oldest it still accepts.
pub const PROTOCOL_VERSION: u64 = 4;
pub const MIN_PROTOCOL_VERSION: u64 = 3;
/// A molt capability (`connect.caps`): the client appends each `chat` delta's `deltaText`
/// itself, so its deltas carry no cumulative `message`.
pub const CAP_CHAT_DELTA_TEXT: &str = "chat-delta-text";

/// A parsed `req` frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub id: String,
    pub method: String,
    pub params: Value,
}

/// Why a text frame is not a usable request. `id` is kept when the frame had one, so the
/// error can still be answered.
#[derive(Debug, Clone, PartialEq)]
pub enum FrameError {
    NotJson,
    Invalid { id: Option<String>, message: String },
}

impl Request {
    pub fn parse(text: &str) -> Result<Self, FrameError> {
        let value: Value = serde_json::from_str(text).map_err(|_| FrameError::NotJson)?;
        let Value::Object(mut object) = value else {
            return Err(FrameError::Invalid { id: None, message: "invalid request frame: must be object".into() });
        };
        let id = object.get("id").and_then(Value::as_str).map(str::to_owned);
        let mut problems = Vec::new();
        if object.get("type").and_then(Value::as_str) != Some("req") {
            problems.push("at /type: must be equal to constant");
        }
        if id.is_none() {
            problems.insert(0, "must have required property 'id'");
        }
        let method = object.get("method").and_then(Value::as_str).map(str::to_owned);
        if method.is_none() {
            problems.insert(0, "must have required property 'method'");
        }
        match (id, method) {
            (Some(id), Some(method)) if problems.is_empty() => {
                Ok(Self { id, method, params: object.remove("params").unwrap_or_else(|| json!({})) })
            }
            (id, _) => {
                Err(FrameError::Invalid { id, message: format!("invalid request frame: {}", problems.join("; ")) })
            }
        }
    }

    /// The params as an object, or the protocol's error for this method.
    pub fn params_object(&self) -> Result<&Map<String, Value>, ErrorShape> {
        self.params
            .as_object()
            .ok_or_else(|| ErrorShape::invalid(format!("invalid {} params: must be object", self.method)))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    InvalidRequest,
    NotPaired,
    Forbidden,
    Unavailable,
    AgentTimeout,
}

/// The `error` object of a failed response.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorShape {
    pub code: ErrorCode,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retryable: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

impl ErrorShape {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self { code, message: message.into(), details: None, retryable: None, retry_after_ms: None }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, message)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Unavailable, message).retryable(true)
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn retryable(mut self, retryable: bool) -> Self {
        self.retryable = Some(retryable);
        self
    }

    /// `FORBIDDEN` / `MISSING_SCOPE`, shaped like OpenClaw's answer.
    pub fn missing_scope(scope: &str) -> Self {
        Self::new(ErrorCode::Forbidden, format!("missing scope: {scope}")).with_details(json!({
            "code": "MISSING_SCOPE",
            "missingScope": scope,
            "requiredScopes": [scope],
        }))
    }

    /// The `details.code`, if any (for close reasons and tests).
    pub fn detail_code(&self) -> Option<&str> {
        self.details.as_ref()?.get("code")?.as_str()
    }
}

/// `{"type":"res","id":..,"ok":true,"payload":..}`
pub fn ok_response(id: &str, payload: &impl Serialize) -> String {
    json!({"type": "res", "id": id, "ok": true, "payload": payload}).to_string()
}

/// `{"type":"res","id":..,"ok":false,"error":..}`
pub fn error_response(id: &str, error: &ErrorShape) -> String {
    json!({"type": "res", "id": id, "ok": false, "error": error}).to_string()
}

/// An event frame. `payload_json` is already serialised so one broadcast is encoded once and
/// only the per-connection `seq` is spliced in.
pub fn event_frame(event: &str, payload_json: &str, seq: Option<u64>) -> String {
    let name = Value::from(event);
    match seq {
        Some(seq) => {
            format!(r#"{{"type":"event","event":{name},"payload":{payload_json},"seq":{seq}}}"#)
        }
        None => format!(r#"{{"type":"event","event":{name},"payload":{payload_json}}}"#),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_request_and_defaults_params() {
        let request = Request::parse(r#"{"type":"req","id":"1","method":"health"}"#).unwrap();
        assert_eq!(request.method, "health");
        assert_eq!(request.params, json!({}));
    }

    #[test]
    fn rejects_non_json_and_bad_frames_like_openclaw() {
        assert_eq!(Request::parse("hello"), Err(FrameError::NotJson));
        assert_eq!(
            Request::parse(r#"{"type":"bogus","id":"f4"}"#),
            Err(FrameError::Invalid {
                id: Some("f4".into()),
                message:
                    "invalid request frame: must have required property 'method'; at /type: must be equal to constant"
                        .into(),
            })
        );
        assert!(matches!(Request::parse("[1]"), Err(FrameError::Invalid { id: None, .. })));
    }

    #[test]
    fn params_must_be_an_object() {
        let request = Request::parse(r#"{"type":"req","id":"f3","method":"sessions.list","params":"x"}"#).unwrap();
        let error = request.params_object().unwrap_err();
        assert_eq!(error.message, "invalid sessions.list params: must be object");
    }

    #[test]
    fn encodes_frames() {
        let error = ErrorShape::missing_scope("operator.admin");
        let encoded: Value = serde_json::from_str(&error_response("f1", &error)).unwrap();
        assert_eq!(
            encoded,
            json!({"type":"res","id":"f1","ok":false,"error":{"code":"FORBIDDEN","message":"missing scope: operator.admin","details":{"code":"MISSING_SCOPE","missingScope":"operator.admin","requiredScopes":["operator.admin"]}}})
        );
        let event: Value = serde_json::from_str(&event_frame("tick", r#"{"ts":1}"#, Some(3))).unwrap();
        assert_eq!(event, json!({"type":"event","event":"tick","payload":{"ts":1},"seq":3}));
    }
}
