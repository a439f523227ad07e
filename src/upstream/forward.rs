//! One request forwarded to an upstream server and waited for: sent with the server's own
//! request id (rmcp numbers them), answered within the server's `call_timeout`, and cancelled
//! upstream (`notifications/cancelled` with the server's id) when its caller cancels, goes away,
//! or the time is up. `tools/call` waits this way inside the connection's task (its progress
//! must be routed, see `call`); `resources/read` and `prompts/get` are [`ForwardRequest`]s, each
//! waited for on a task of its own that holds one of the connection's bounded places for them.
//!
//! What comes back is the server's result, or an error naming the server that keeps the
//! server's own JSON-RPC code when it refused the request. Its size was bounded on the way in
//! (`max_message_bytes`, by the transport).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use construct_actors::ASK_TIMEOUT;
use rmcp::model::{ClientRequest, ServerResult};
use rmcp::service::{Peer, PeerRequestOptions, RequestHandle, RoleClient, ServiceError};
use tokio::sync::{OwnedSemaphorePermit, oneshot};

use super::error::UpstreamError;

/// What a forwarded request ends with.
pub type Answer = Result<ServerResult, UpstreamError>;

/// A caller's request other than a tool call, as the connection's task receives it.
pub struct ForwardRequest {
    /// The request, as the server will read it.
    pub request: ClientRequest,
    /// Where the answer goes; dropped by a caller that went away.
    pub reply: oneshot::Sender<Answer>,
    /// One of the connection's places for requests in flight, held until the answer.
    pub permit: OwnedSemaphorePermit,
}

impl ForwardRequest {
    /// Answers at once that the request cannot be made, for `reason`.
    pub fn refuse(self, server: &Arc<str>, reason: String) {
        let _ = self.reply.send(Err(UpstreamError::new(server, reason)));
    }

    /// Sends it to the server through `peer` and waits for the answer, at most `limit`, on a
    /// task of its own; or answers at once that it could not be sent.
    pub async fn send(self, server: &Arc<str>, peer: &Peer<RoleClient>, limit: Duration) {
        let Self {
            request,
            mut reply,
            permit,
        } = self;
        let handle = match dispatch(server, peer, request).await {
            Ok(handle) => handle,
            Err(error) => {
                let _ = reply.send(Err(error));
                return;
            }
        };
        let server = server.clone();
        tokio::spawn(async move {
            let gone = async {
                reply.closed().await;
                "abandoned (its caller went away)"
            };
            let answer = wait(&server, handle, gone, limit).await;
            let _ = reply.send(answer);
            drop(permit);
        });
    }
}

/// Sends `request` through `peer`: the handle to wait for its answer with, or why it could not
/// be sent (the transport's queue full for `ASK_TIMEOUT`, the connection closing).
pub async fn dispatch(
    server: &Arc<str>,
    peer: &Peer<RoleClient>,
    request: ClientRequest,
) -> Result<RequestHandle<RoleClient>, UpstreamError> {
    let sent = tokio::time::timeout(
        ASK_TIMEOUT,
        peer.send_cancellable_request(request, PeerRequestOptions::no_options()),
    )
    .await;
    match sent {
        Ok(Ok(handle)) => Ok(handle),
        Ok(Err(err)) => Err(UpstreamError::new(
            server,
            format!("the request could not be sent: {err}"),
        )),
        Err(_) => Err(UpstreamError::new(
            server,
            "busy: the request could not be sent",
        )),
    }
}

/// Waits for the answer to `handle`; cancels the request upstream when `stop` ends first (with
/// why) or `limit` passes.
pub async fn wait(
    server: &Arc<str>,
    mut handle: RequestHandle<RoleClient>,
    stop: impl Future<Output = &'static str>,
    limit: Duration,
) -> Answer {
    let why = tokio::select! {
        answer = &mut handle.rx => return answered(server, answer),
        why = stop => format!("the request was {why}"),
        () = tokio::time::sleep(limit) => format!("no answer within call_timeout ({limit:?})"),
    };
    let _ = tokio::time::timeout(ASK_TIMEOUT, handle.cancel(Some(why.clone()))).await;
    Err(UpstreamError::new(server, why))
}

/// The server's result, or what went wrong, from its answer.
fn answered(
    server: &Arc<str>,
    answer: Result<Result<ServerResult, ServiceError>, oneshot::error::RecvError>,
) -> Answer {
    let reason = match answer {
        Ok(Ok(result)) => return Ok(result),
        Ok(Err(ServiceError::McpError(error))) => {
            return Err(UpstreamError {
                code: Some(error.code.0),
                ..UpstreamError::new(server, format!("refused the request: {}", error.message))
            });
        }
        Ok(Err(err)) => format!("the request failed: {err}"),
        Err(_) => "its connection ended during the request".to_owned(),
    };
    Err(UpstreamError::new(server, reason))
}
