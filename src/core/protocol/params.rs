//! Reading a method's params from outside: one reader, so every method words a bad field the
//! same way OpenClaw does (`invalid <method> params: must have required property '<field>'`).

use serde_json::{Map, Value};

use crate::core::frames::ErrorShape;
use crate::core::ids::SessionKey;

/// The params object of one request.
pub struct Params<'a> {
    method: &'static str,
    object: &'a Map<String, Value>,
}

static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

impl<'a> Params<'a> {
    /// `params` must be an object; absent params (`null`) read as an empty one.
    pub fn new(method: &'static str, params: &'a Value) -> Result<Self, ErrorShape> {
        match params {
            Value::Object(object) => Ok(Self { method, object }),
            Value::Null => Ok(Self { method, object: &EMPTY }),
            _ => Err(ErrorShape::invalid(format!("invalid {method} params: must be object"))),
        }
    }

    pub fn invalid(&self, what: &str) -> ErrorShape {
        ErrorShape::invalid(format!("invalid {} params: {what}", self.method))
    }

    fn missing(&self, field: &str) -> ErrorShape {
        self.invalid(&format!("must have required property '{field}'"))
    }

    pub fn has(&self, field: &str) -> bool {
        self.object.contains_key(field)
    }

    /// A required, non-empty string.
    pub fn text(&self, field: &str) -> Result<String, ErrorShape> {
        self.object
            .get(field)
            .and_then(Value::as_str)
            .filter(|value| !value.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| self.missing(field))
    }

    /// An optional string (`null` or absent: none).
    pub fn optional_text(&self, field: &str) -> Result<Option<String>, ErrorShape> {
        match self.object.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(value)) => Ok(Some(value.clone())),
            Some(_) => Err(self.invalid(&format!("'{field}' must be a string"))),
        }
    }

    /// A required session key.
    pub fn session(&self, field: &str) -> Result<SessionKey, ErrorShape> {
        let raw = self.object.get(field).and_then(Value::as_str).ok_or_else(|| self.missing(field))?;
        SessionKey::parse(raw).map_err(|reason| self.invalid(&reason))
    }

    /// An optional non-negative integer.
    pub fn optional_u64(&self, field: &str) -> Result<Option<u64>, ErrorShape> {
        match self.object.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => value
                .as_u64()
                .map(Some)
                .ok_or_else(|| self.invalid(&format!("'{field}' must be a non-negative integer"))),
        }
    }

    pub fn optional_bool(&self, field: &str) -> Result<Option<bool>, ErrorShape> {
        match self.object.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(value)) => Ok(Some(*value)),
            Some(_) => Err(self.invalid(&format!("'{field}' must be a boolean"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_are_worded_like_openclaw() {
        let value = json!({"sessionKey": "main", "empty": "", "n": -1, "flag": "yes"});
        let params = Params::new("chat.send", &value).unwrap();
        assert_eq!(params.session("sessionKey").unwrap(), SessionKey::main());
        assert_eq!(
            params.text("empty").unwrap_err().message,
            "invalid chat.send params: must have required property 'empty'"
        );
        assert_eq!(
            params.optional_u64("n").unwrap_err().message,
            "invalid chat.send params: 'n' must be a non-negative integer"
        );
        assert_eq!(
            params.optional_bool("flag").unwrap_err().message,
            "invalid chat.send params: 'flag' must be a boolean"
        );
        assert_eq!(params.optional_u64("absent").unwrap(), None);
        assert_eq!(
            Params::new("sessions.list", &json!("x")).err().unwrap().message,
            "invalid sessions.list params: must be object"
        );
        assert!(Params::new("health", &Value::Null).is_ok());
    }
}
