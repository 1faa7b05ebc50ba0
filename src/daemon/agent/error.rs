//! Why the agent refused a message or an abort. The protocol's error shape is made from it at
//! the WebSocket edge; the channels' router reads the kind.

use crate::core::frames::ErrorShape;
use crate::daemon::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("the gateway is shutting down; send again after it restarts")]
    Closing,
    #[error("invalid chat.send params: message must not be empty")]
    Empty,
    #[error("invalid chat.send params: message is longer than {0} bytes")]
    TooLong(usize),
    #[error("cannot store the message: {0}")]
    Store(#[from] StoreError),
    #[error("runId does not match sessionKey")]
    RunMismatch,
}

impl AgentError {
    /// The message was not stored for a reason that may pass (a stop, the store): the sender
    /// may try again.
    pub fn retryable(&self) -> bool {
        matches!(self, Self::Closing | Self::Store(_))
    }
}

impl From<AgentError> for ErrorShape {
    fn from(error: AgentError) -> Self {
        if error.retryable() {
            ErrorShape::unavailable(error.to_string())
        } else {
            ErrorShape::invalid(error.to_string())
        }
    }
}
