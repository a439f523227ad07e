//! Requests an upstream server sends its client during a call (`sampling/createMessage`,
//! `elicitation/create`), relayed to the caller of that call: the server asks the daemon, the
//! daemon asks the client that made the call, and the client's answer goes back the same way.
//!
//! MCP does not say which call such a request belongs to (over stdio nothing ties them), so the
//! connection hands it to the one call in flight on that server; with none, or several, the
//! server is told that nobody can answer. The caller is asked only if it declared the matching
//! capability at `initialize`.

use async_trait::async_trait;
use rmcp::model::ErrorData;
use serde_json::Value;
use tokio::sync::oneshot;

/// How many of a server's requests may wait for the connection at once; more are refused.
pub const ASK_QUEUE: usize = 16;

/// What a server's request gets: the client's result, or the error to answer with.
pub type AskResult = Result<Value, ErrorData>;

/// A request from the server, on its way to a caller.
#[derive(Debug)]
pub struct ServerAsk {
    /// Its method (`sampling/createMessage`, `elicitation/create`).
    pub method: &'static str,
    /// Its params, as the server sent them.
    pub params: Value,
    /// Where the answer goes.
    pub reply: oneshot::Sender<AskResult>,
}

/// The caller of a call, as far as an upstream server may ask it something.
#[async_trait]
pub trait Caller: Send + Sync {
    /// Sends the caller the request `method` with `params` and waits for its answer; refused at
    /// once when the caller cannot answer that method.
    async fn ask(&self, method: &'static str, params: Value) -> AskResult;
}
