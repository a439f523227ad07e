//! One `tools/call` forwarded to an upstream server, from the moment it is sent to its answer.
//!
//! The request goes out with the server's own request id and progress token (rmcp numbers
//! them); what is kept in flight is one future per call, polled by the connection's task, that
//! ends with the server's answer, or cancels the request upstream (`notifications/cancelled`
//! with the server's id) when the caller cancels, goes away, or `call_timeout` passes.

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, ClientRequest, JsonObject,
    ProgressToken, ServerResult,
};
use rmcp::service::{Peer, RequestHandle, RoleClient};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::ask::ServerAsk;
use super::error::UpstreamError;
use super::forward;
use crate::tools::LogLevel;

/// One progress report of an upstream call, for its caller.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamProgress {
    /// Work done so far.
    pub progress: f64,
    /// Total work, when known.
    pub total: Option<f64>,
    /// What is happening now.
    pub message: Option<String>,
}

/// What a server says about a call while it runs, for its caller.
#[derive(Debug)]
pub enum UpstreamNotice {
    /// A progress report of the call.
    Progress(UpstreamProgress),
    /// A log message the server sent while the call ran (`notifications/message`).
    Log {
        /// Its severity.
        level: LogLevel,
        /// Any JSON value.
        data: Value,
    },
    /// A request for the caller (sampling, elicitation), to answer through its reply.
    Ask(ServerAsk),
}

/// What a forwarded call ends with.
pub type CallResult = Result<CallToolResult, UpstreamError>;

/// A caller's call, as the connection's task receives it.
pub struct CallRequest {
    /// The tool, by the server's own name for it.
    pub tool: String,
    /// Its arguments.
    pub arguments: Option<JsonObject>,
    /// Where its progress and the server's log messages go.
    pub notices: mpsc::Sender<UpstreamNotice>,
    /// Cancelled when the caller cancels.
    pub cancel: CancellationToken,
    /// Where the answer goes; dropped by a caller that went away.
    pub reply: oneshot::Sender<CallResult>,
}

impl CallRequest {
    /// Answers at once that the call cannot be made, for `reason`.
    pub fn refuse(self, server: &Arc<str>, reason: String) {
        let _ = self.reply.send(Err(UpstreamError::new(server, reason)));
    }
}

/// A call that ended: its progress token (no longer routed) and its answer, to deliver.
pub struct CallEnd {
    /// The server's progress token of the call.
    pub token: ProgressToken,
    reply: oneshot::Sender<CallResult>,
    result: CallResult,
}

impl CallEnd {
    /// Hands the answer to the caller, if it still waits.
    pub fn deliver(self) {
        let _ = self.reply.send(self.result);
    }
}

/// Sends `request` to the server through `peer`: its progress token and the future that ends
/// with its answer; or `None` when it could not be sent (the caller has been answered).
pub async fn send(
    server: &Arc<str>,
    peer: &Peer<RoleClient>,
    mut request: CallRequest,
    call_timeout: Duration,
) -> Option<(ProgressToken, BoxFuture<'static, CallEnd>)> {
    let mut params = CallToolRequestParams::new(std::mem::take(&mut request.tool));
    params.arguments = request.arguments.take();
    let message = ClientRequest::CallToolRequest(CallToolRequest::new(params));
    let handle = match forward::dispatch(server, peer, message).await {
        Ok(handle) => handle,
        Err(error) => {
            let _ = request.reply.send(Err(error));
            return None;
        }
    };
    let token = handle.progress_token.clone();
    let in_flight = wait(server.clone(), handle, request, call_timeout);
    Some((token, Box::pin(in_flight)))
}

/// Waits for the answer to the call `handle`, or cancels it upstream.
async fn wait(
    server: Arc<str>,
    handle: RequestHandle<RoleClient>,
    request: CallRequest,
    call_timeout: Duration,
) -> CallEnd {
    let CallRequest {
        cancel, mut reply, ..
    } = request;
    let token = handle.progress_token.clone();
    let stop = async {
        tokio::select! {
            () = cancel.cancelled() => "cancelled by its caller",
            () = reply.closed() => "abandoned (its caller went away)",
        }
    };
    let result = match forward::wait(&server, handle, stop, call_timeout).await {
        Ok(ServerResult::CallToolResult(result)) => Ok(result),
        Ok(_) => Err(UpstreamError::new(
            &server,
            "answered tools/call with something else than a tool result",
        )),
        Err(error) => Err(error),
    };
    CallEnd {
        token,
        reply,
        result,
    }
}
