//! What an upstream server's connection answers when something went wrong: always naming the
//! server, so that a caller's error (a `-32603`, a log line) says which one.

use std::sync::Arc;

/// Why an upstream call or question failed; its text always names the server.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MCP server {server}: {reason}")]
pub struct UpstreamError {
    /// The server's name.
    pub server: Arc<str>,
    /// What happened, in words.
    pub reason: String,
}
