//! The methods molt serves: each one's wire name, the scope it needs, and its params parsed into
//! a [`Call`] once, where the request enters. Handlers match on `Call`, never on a string.

use serde_json::Value;

use super::exec::ExecDecision;
use super::params::Params;
use crate::core::frames::ErrorShape;
use crate::core::ids::{RunId, SessionKey};
use crate::core::scopes::Scope;

macro_rules! methods {
    ($($variant:ident = $name:literal, $scope:ident;)*) => {
        /// A method's name, without its params.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Method { $($variant),* }

        impl Method {
            /// Every method, in the order `hello-ok.features.methods` lists them.
            pub const ALL: &'static [Method] = &[$(Method::$variant),*];

            pub fn name(self) -> &'static str {
                match self { $(Method::$variant => $name),* }
            }

            pub fn scope(self) -> Scope {
                match self { $(Method::$variant => Scope::$scope),* }
            }

            pub fn parse(name: &str) -> Option<Method> {
                match name { $($name => Some(Method::$variant),)* _ => None }
            }
        }
    };
}

methods! {
    Health = "health", Read;
    Status = "status", Read;
    ChatSend = "chat.send", Write;
    ChatHistory = "chat.history", Read;
    ChatAbort = "chat.abort", Write;
    SessionsList = "sessions.list", Read;
    SessionsSubscribe = "sessions.subscribe", Read;
    SessionsUnsubscribe = "sessions.unsubscribe", Read;
    SessionsMessagesSubscribe = "sessions.messages.subscribe", Read;
    SessionsMessagesUnsubscribe = "sessions.messages.unsubscribe", Read;
    SessionsReset = "sessions.reset", Write;
    SessionsDelete = "sessions.delete", Write;
    ModelsList = "models.list", Read;
    ChannelsStatus = "channels.status", Read;
    DevicePairList = "device.pair.list", Pairing;
    DevicePairApprove = "device.pair.approve", Pairing;
    DevicePairReject = "device.pair.reject", Pairing;
    DevicePairRemove = "device.pair.remove", Pairing;
    DeviceTokenRotate = "device.token.rotate", Pairing;
    DeviceTokenRevoke = "device.token.revoke", Pairing;
    PairingCodeList = "pairing.code.list", Pairing;
    PairingCodeApprove = "pairing.code.approve", Pairing;
    PairingCodeReject = "pairing.code.reject", Pairing;
    LogsTail = "logs.tail", Admin;
    ExecApprovalResolve = "exec.approval.resolve", Approvals;
    ExecApprovalList = "exec.approval.list", Approvals;
}

/// `chat.history`'s default and largest page.
pub const DEFAULT_HISTORY: usize = 200;
pub const MAX_HISTORY: usize = 1000;

/// A request's method with its params, checked.
#[derive(Debug, Clone, PartialEq)]
pub enum Call {
    Health,
    Status,
    ChatSend {
        session_key: SessionKey,
        message: String,
        idempotency_key: String,
    },
    ChatHistory {
        session_key: SessionKey,
        limit: usize,
    },
    ChatAbort {
        session_key: SessionKey,
        run_id: Option<RunId>,
    },
    SessionsList,
    /// `sessions.subscribe` (`true`) or `sessions.unsubscribe`.
    SessionList {
        subscribe: bool,
    },
    /// `sessions.messages.subscribe` (`true`) or `.unsubscribe`.
    SessionMessages {
        session_key: SessionKey,
        subscribe: bool,
    },
    SessionsReset {
        session_key: SessionKey,
    },
    SessionsDelete {
        session_key: SessionKey,
    },
    ModelsList,
    ChannelsStatus,
    DevicePairList,
    /// `device.pair.approve` (`true`) or `device.pair.reject`.
    DevicePairDecide {
        request_id: String,
        approve: bool,
    },
    DevicePairRemove {
        device_id: String,
    },
    DeviceTokenRotate {
        device_id: String,
    },
    DeviceTokenRevoke {
        device_id: String,
    },
    PairingCodeList,
    /// `pairing.code.approve` (`true`) or `pairing.code.reject`.
    PairingCodeDecide {
        channel: String,
        code: String,
        approve: bool,
    },
    LogsTail {
        cursor: Option<u64>,
        limit: Option<u64>,
    },
    /// `exec.approval.resolve`: OpenClaw's `{id, decision}`; `pattern` (molt's) is the
    /// allowlist entry an `allow-always` adds instead of the exact command.
    ExecApprovalResolve {
        id: String,
        decision: ExecDecision,
        pattern: Option<String>,
    },
    ExecApprovalList,
}

impl Call {
    /// Parses `known`'s `params`: a bad field is the protocol's error.
    pub fn parse(known: Method, params: &Value) -> Result<Call, ErrorShape> {
        let params = Params::new(known.name(), params)?;
        let call = match known {
            Method::Health => Call::Health,
            Method::Status => Call::Status,
            Method::ChatSend => Call::ChatSend {
                session_key: params.session("sessionKey")?,
                message: params.text("message")?,
                idempotency_key: params.text("idempotencyKey")?,
            },
            Method::ChatHistory => {
                Call::ChatHistory { session_key: params.session("sessionKey")?, limit: history_limit(&params)? }
            }
            Method::ChatAbort => Call::ChatAbort {
                session_key: params.session("sessionKey")?,
                run_id: params.optional_text("runId")?.map(RunId::from_stored),
            },
            Method::SessionsList => Call::SessionsList,
            Method::SessionsSubscribe => Call::SessionList { subscribe: true },
            Method::SessionsUnsubscribe => Call::SessionList { subscribe: false },
            Method::SessionsMessagesSubscribe => {
                Call::SessionMessages { session_key: session_ref(&params)?, subscribe: true }
            }
            Method::SessionsMessagesUnsubscribe => {
                Call::SessionMessages { session_key: session_ref(&params)?, subscribe: false }
            }
            Method::SessionsReset => Call::SessionsReset { session_key: params.session("key")? },
            Method::SessionsDelete => Call::SessionsDelete { session_key: params.session("key")? },
            Method::ModelsList => Call::ModelsList,
            Method::ChannelsStatus => Call::ChannelsStatus,
            Method::DevicePairList => Call::DevicePairList,
            Method::DevicePairApprove => {
                Call::DevicePairDecide { request_id: params.text("requestId")?, approve: true }
            }
            Method::DevicePairReject => {
                Call::DevicePairDecide { request_id: params.text("requestId")?, approve: false }
            }
            Method::DevicePairRemove => Call::DevicePairRemove { device_id: params.text("deviceId")? },
            Method::DeviceTokenRotate => Call::DeviceTokenRotate { device_id: params.text("deviceId")? },
            Method::DeviceTokenRevoke => Call::DeviceTokenRevoke { device_id: params.text("deviceId")? },
            Method::PairingCodeList => Call::PairingCodeList,
            Method::PairingCodeApprove | Method::PairingCodeReject => Call::PairingCodeDecide {
                channel: params.text("channel")?,
                code: params.text("code")?,
                approve: known == Method::PairingCodeApprove,
            },
            Method::LogsTail => {
                Call::LogsTail { cursor: params.optional_u64("cursor")?, limit: params.optional_u64("limit")? }
            }
            Method::ExecApprovalResolve => Call::ExecApprovalResolve {
                id: params.text("id")?,
                // OpenClaw's words for a decision it does not know.
                decision: ExecDecision::parse(&params.text("decision")?)
                    .ok_or_else(|| ErrorShape::invalid("invalid decision"))?,
                pattern: params.optional_text("pattern")?.filter(|pattern| !pattern.trim().is_empty()),
            },
            Method::ExecApprovalList => Call::ExecApprovalList,
        };
        Ok(call)
    }
}

impl Method {
    /// The method named `name`, or the protocol's error for an unknown one.
    pub fn named(name: &str) -> Result<Method, ErrorShape> {
        Method::parse(name).ok_or_else(|| ErrorShape::invalid(format!("unknown method: {name}")))
    }
}

fn history_limit(params: &Params<'_>) -> Result<usize, ErrorShape> {
    let invalid = || params.invalid(&format!("limit must be an integer from 1 to {MAX_HISTORY}"));
    match params.optional_u64("limit").map_err(|_| invalid())? {
        None => Ok(DEFAULT_HISTORY),
        Some(limit) => {
            usize::try_from(limit).ok().filter(|limit| (1..=MAX_HISTORY).contains(limit)).ok_or_else(invalid)
        }
    }
}

/// The session of a `sessions.messages.*` call: `key`, as OpenClaw's session methods name it,
/// or `sessionKey`.
fn session_ref(params: &Params<'_>) -> Result<SessionKey, ErrorShape> {
    params.session(if params.has("key") { "key" } else { "sessionKey" })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_method_parses_back_from_its_name() {
        for method in Method::ALL {
            assert_eq!(Method::parse(method.name()), Some(*method));
        }
        assert_eq!(Method::ALL.len(), 26);
        assert_eq!(Method::LogsTail.scope(), Scope::Admin);
        assert_eq!(Method::ExecApprovalResolve.scope(), Scope::Approvals);
    }

    #[test]
    fn params_become_typed_calls() {
        let parse = |name: &str, params: Value| Call::parse(Method::named(name).unwrap(), &params);
        let call = parse("chat.send", json!({"sessionKey": "main", "message": "hi", "idempotencyKey": "k"})).unwrap();
        assert_eq!(
            call,
            Call::ChatSend { session_key: SessionKey::main(), message: "hi".into(), idempotency_key: "k".into() }
        );
        let call = parse("pairing.code.reject", json!({"channel": "telegram", "code": "AB"})).unwrap();
        assert_eq!(call, Call::PairingCodeDecide { channel: "telegram".into(), code: "AB".into(), approve: false });
        let call = parse("sessions.messages.subscribe", json!({"sessionKey": "main"})).unwrap();
        assert_eq!(call, Call::SessionMessages { session_key: SessionKey::main(), subscribe: true });
        assert_eq!(parse("health", Value::Null).unwrap(), Call::Health);
        let call = parse("exec.approval.resolve", json!({"id": "a1", "decision": "allow-always"})).unwrap();
        assert_eq!(
            call,
            Call::ExecApprovalResolve { id: "a1".into(), decision: ExecDecision::AllowAlways, pattern: None }
        );
        let error = parse("exec.approval.resolve", json!({"id": "a1", "decision": "yes"})).unwrap_err();
        assert_eq!(error.message, "invalid decision");
    }

    #[test]
    fn bad_params_and_unknown_methods_are_the_protocols_errors() {
        let message = |name: &str, params: Value| match Method::named(name) {
            Ok(method) => Call::parse(method, &params).unwrap_err().message,
            Err(error) => error.message,
        };
        assert_eq!(message("nope", json!({})), "unknown method: nope");
        assert_eq!(
            message("chat.send", json!({"message": "hi"})),
            "invalid chat.send params: must have required property 'sessionKey'"
        );
        assert_eq!(
            message("chat.history", json!({"sessionKey": "main", "limit": 0})),
            "invalid chat.history params: limit must be an integer from 1 to 1000"
        );
        assert_eq!(
            message("chat.history", json!({"sessionKey": "main", "limit": "x"})),
            message("chat.history", json!({"sessionKey": "main", "limit": 1001}))
        );
        assert_eq!(message("sessions.list", json!([])), "invalid sessions.list params: must be object");
        assert_eq!(
            message("logs.tail", json!({"cursor": "x"})),
            "invalid logs.tail params: 'cursor' must be a non-negative integer"
        );
        assert_eq!(
            message("device.pair.approve", json!({"requestId": ""})),
            "invalid device.pair.approve params: must have required property 'requestId'"
        );
    }
}
