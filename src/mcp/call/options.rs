//! How a `tools/call` is made: what its era, its caller and its stream allow. The eras fill it
//! in; admission and the run read it.

use super::caller::CallerCan;
use crate::mcp::jsonrpc::RequestId;
use crate::mcp::version::Era;
use crate::tools::LogLevel;

/// How a call is made: what its era, its caller and its stream allow.
#[derive(Debug, Clone, Copy)]
pub struct CallOptions {
    /// The protocol era, which shapes the result.
    pub era: Era,
    /// The least severe log message the caller wants; `None`: none.
    pub log_level: Option<LogLevel>,
    /// How the session knows the call.
    pub key: CallKey,
    /// Whether the stream may outlive its connection.
    pub resumable: bool,
    /// What the caller can be asked by the call's upstream server.
    pub caller: CallerCan,
}

/// How the session knows a call: by its request id (so `notifications/cancelled` can name it),
/// or, for stateless requests whose ids may repeat across clients, by a fresh unique key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallKey {
    /// By the JSON text of the request id.
    RequestId,
    /// By a key of its own.
    Unique,
}

impl CallKey {
    /// The key the session knows the call with request id `id` by.
    pub fn of(self, id: &RequestId) -> String {
        match self {
            Self::RequestId => id.key(),
            Self::Unique => uuid::Uuid::new_v4().to_string(),
        }
    }
}
