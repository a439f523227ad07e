//! One `tools/call` forwarded to an upstream server, from the moment it is sent to its answer.
//!
//! The request goes out with the server's own request id and progress token (rmcp numbers
//! them); what is kept in flight is one future per call, polled by the connection's task, that
//! ends with the server's answer, or cancels the request upstream (`notifications/cancelled`
//! with the server's id) when the caller cancels, goes away, or `call_timeout` passes.

use std::sync::Arc;
use std::time::Duration;

use construct_actors::ASK_TIMEOUT;
use futures::future::BoxFuture;
use rmcp::model::{
    CallToolRequest, CallToolRequestParams, CallToolResult, ClientRequest, JsonObject,
    ProgressToken, ServerResult,
};
use rmcp::service::{Peer, PeerRequestOptions, RequestHandle, RoleClient, ServiceError};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::ask::ServerAsk;
use super::error::UpstreamError;
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

/// Why a call in flight was stopped before the server answered.
enum Stop {
    Cancelled(&'static str),
    TimedOut,
}

/// Sends `request` to the server through `peer`: its progress token and the future that ends
/// with its answer; or `None` when it could not be sent (the caller has been answered).
pub async fn send(
    server: &Arc<str>,
    peer: &Peer<RoleClient>,
    request: CallRequest,
    call_timeout: Duration,
) -> Option<(ProgressToken, BoxFuture<'static, CallEnd>)> {
    let mut params = CallToolRequestParams::new(request.tool.clone());
    params.arguments = request.arguments.clone();
    let message = ClientRequest::CallToolRequest(CallToolRequest::new(params));
    let sent = tokio::time::timeout(
        ASK_TIMEOUT,
        peer.send_cancellable_request(message, PeerRequestOptions::no_options()),
    )
    .await;
    let handle = match sent {
        Ok(Ok(handle)) => handle,
        Ok(Err(err)) => {
            request.refuse(server, format!("the call could not be sent: {err}"));
            return None;
        }
        Err(_) => {
            request.refuse(server, "busy: the call could not be sent".to_owned());
            return None;
        }
    };
    let token = handle.progress_token.clone();
    let server = server.clone();
    let in_flight = wait(server, handle, request, call_timeout);
    Some((token, Box::pin(in_flight)))
}

/// Waits for the answer to the call `handle`, or cancels it upstream.
async fn wait(
    server: Arc<str>,
    mut handle: RequestHandle<RoleClient>,
    request: CallRequest,
    call_timeout: Duration,
) -> CallEnd {
    let CallRequest {
        cancel, mut reply, ..
    } = request;
    let outcome = tokio::select! {
        answer = &mut handle.rx => Ok(answered(&server, answer)),
        () = cancel.cancelled() => Err(Stop::Cancelled("cancelled by its caller")),
        () = reply.closed() => Err(Stop::Cancelled("its caller went away")),
        () = tokio::time::sleep(call_timeout) => Err(Stop::TimedOut),
    };
    let token = handle.progress_token.clone();
    let result = match outcome {
        Ok(result) => result,
        Err(Stop::Cancelled(why)) => {
            let _ = tokio::time::timeout(ASK_TIMEOUT, handle.cancel(Some(why.to_owned()))).await;
            Err(UpstreamError::new(&server, format!("the call was {why}")))
        }
        Err(Stop::TimedOut) => {
            let why = format!("no answer within call_timeout ({call_timeout:?})");
            let _ = tokio::time::timeout(ASK_TIMEOUT, handle.cancel(Some(why.clone()))).await;
            Err(UpstreamError::new(&server, why))
        }
    };
    CallEnd {
        token,
        reply,
        result,
    }
}

/// The call's result, or what went wrong, from the server's answer.
fn answered(
    server: &Arc<str>,
    answer: Result<Result<ServerResult, ServiceError>, oneshot::error::RecvError>,
) -> CallResult {
    let reason = match answer {
        Ok(Ok(ServerResult::CallToolResult(result))) => return Ok(result),
        Ok(Ok(_)) => "answered tools/call with something else than a tool result".to_owned(),
        Ok(Err(ServiceError::McpError(error))) => {
            let reason = format!("refused the call: {}", error.message);
            return Err(UpstreamError {
                code: Some(error.code.0),
                ..UpstreamError::new(server, reason)
            });
        }
        Ok(Err(err)) => format!("the call failed: {err}"),
        Err(_) => "its connection ended during the call".to_owned(),
    };
    Err(UpstreamError::new(server, reason))
}
