//! Exec approval methods of the protocol (scope `operator.approvals`): the commands waiting for
//! the operator, and the operator's answer to one, worded as OpenClaw words its refusals.

use serde_json::{Value, json};

use super::handshake::Authorized;
use crate::core::frames::{ErrorCode, ErrorShape};
use crate::core::protocol::Call;
use crate::core::protocol::exec::ExecApprovalList;
use crate::daemon::agent::tools::exec::{ExecApprovals, ResolveError, Resolver};

pub async fn dispatch(
    approvals: &ExecApprovals,
    client: &Authorized,
    address: &str,
    call: Call,
) -> Result<Value, ErrorShape> {
    match call {
        Call::ExecApprovalList => {
            let list = ExecApprovalList { pending: approvals.pending() };
            serde_json::to_value(list).map_err(|error| ErrorShape::unavailable(error.to_string()))
        }
        Call::ExecApprovalResolve { id, decision, pattern } => {
            let resolver = Resolver {
                name: client
                    .device
                    .as_ref()
                    .map_or_else(|| "local token".to_owned(), |device| format!("device {}", device.id.as_str())),
                address: Some(address.to_owned()),
            };
            match approvals.resolve(&id, decision, pattern.as_deref(), &resolver).await {
                Ok(resolved) => Ok(json!({"ok": true, "pattern": resolved.pattern})),
                Err(ResolveError::Unknown) => {
                    Err(ErrorShape::new(ErrorCode::InvalidRequest, ResolveError::Unknown.to_string())
                        .with_details(json!({"code": "NOT_FOUND"})))
                }
                Err(error @ ResolveError::Pattern(_)) => Err(ErrorShape::invalid(error.to_string())),
                Err(ResolveError::Store(error)) => Err(ErrorShape::unavailable(format!("store unavailable: {error}"))),
            }
        }
        // `methods::dispatch` sends only exec approval calls here.
        _ => Err(ErrorShape::invalid("not an exec approval method")),
    }
}
