//! What an upstream server's connection answers when something went wrong: always naming the
//! server, so that a caller's error (a `-32603`, a log line) says which one.

use std::sync::Arc;

use crate::mcp::jsonrpc::{INTERNAL_ERROR, RpcError};

/// Why an upstream call or question failed; its text always names the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MCP server {server}: {reason}")]
pub struct UpstreamError {
    /// The server's name.
    pub server: Arc<str>,
    /// What happened, in words.
    pub reason: String,
    /// The server's own JSON-RPC error code, when it answered the request with an error; `None`
    /// when the request failed on the way (the server down, gone, too slow).
    pub code: Option<i32>,
}

impl UpstreamError {
    /// `server` failed a request on the way, for `reason`.
    pub fn new(server: &Arc<str>, reason: impl Into<String>) -> Self {
        Self {
            server: server.clone(),
            reason: reason.into(),
            code: None,
        }
    }
}

/// What the caller of a forwarded request is answered: the server's own code when it refused
/// the request, `-32603` when the request failed on the way; the text names the server.
impl From<UpstreamError> for RpcError {
    fn from(error: UpstreamError) -> Self {
        RpcError::new(error.code.unwrap_or(INTERNAL_ERROR), error.to_string())
    }
}
