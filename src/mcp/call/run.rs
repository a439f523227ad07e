//! Running one admitted `tools/call` and turning it into the stream of frames its caller reads.
//!
//! The tool runs in a task of its own, never in an actor handler (polled once on the caller's
//! thread first, so that a call that ends at once needs no task at all). Its notices (progress, logs)
//! flow through a bounded channel and come out as `notifications/progress` and
//! `notifications/message`; when the tool returns, the final response follows through a one-shot
//! channel that never blocks and never drops, so the caller always gets it, after every notice
//! that was still queued.
//!
//! The stream owns the call: dropping it cancels the call's token and drops the tool's future, so
//! no work outlives whoever holds the stream (the client's connection, or the relay that keeps a
//! resumable stream alive between connections). A panicking tool ends its own call with an
//! internal error and nothing else.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use actix::Addr;
use actix::prelude::SendError;
use construct_actors::{EndCall, ProgressToken, SessionActor};
use futures::stream::StreamExt as _;
use futures::{FutureExt as _, future};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, mpsc, oneshot};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::{CancellationToken, DropGuard};

use super::callee::{CallResult, Callee};
use super::caller::{CallerAsker, CallerCan};
use crate::mcp::jsonrpc::{self, INTERNAL_ERROR, RequestId, RpcError};
use crate::mcp::reply::{CallStream, Frame};
use crate::mcp::scope::Scope;
use crate::mcp::version::Era;
use crate::metrics_recorder::Outcome;
use crate::tools::{CallContext, LogLevel, LogMessage, LogSink, Notice, Progress, ProgressSink};

/// A validated `tools/call`, ready to run.
pub struct Call {
    /// The request's id, for the final response.
    pub id: RequestId,
    /// The tool to run.
    pub tool: Callee,
    /// Its arguments object.
    pub args: Value,
    /// The client's progress token, or one minted for it.
    pub progress_token: ProgressToken,
    /// The least severe log level the client wants; `None`: no log messages.
    pub log_level: Option<LogLevel>,
    /// The protocol era, which shapes the result.
    pub era: Era,
    /// What the call's upstream server may ask the caller.
    pub caller: CallerCan,
}

/// What admitted the call: its place under the daemon-wide limit, and its registration with the
/// session (by `key`, cancellable through `cancel`). Both are released when the call ends.
pub struct Admission {
    /// The call's share of the daemon-wide limit.
    pub permit: OwnedSemaphorePermit,
    /// The key the session knows the call by.
    pub key: String,
    /// The token the session cancels on `notifications/cancelled` or when it ends.
    pub cancel: CancellationToken,
}

/// Starts `call` in `scope`'s session and workspace and returns the stream of its frames.
pub fn spawn(mut call: Call, scope: &Scope<'_>, admission: Admission) -> CallStream {
    let (notice_tx, notice_rx) = mpsc::channel(scope.call_queue);
    let (final_tx, final_rx) = oneshot::channel();
    let cancel_on_drop = admission.cancel.clone().drop_guard();
    let name = call.tool.name();
    let ctx = CallContext {
        workspace: scope.workspace.clone(),
        progress: ProgressSink::new(
            call.progress_token.clone(),
            Arc::clone(&name),
            notice_tx.clone(),
            scope.session,
        ),
        log: LogSink::new(call.log_level, name, notice_tx.clone()),
        cancel: admission.cancel.clone(),
    };
    let caller = CallerAsker {
        session: scope.session_id,
        can: call.caller,
        notices: notice_tx,
        answers: scope.answers.downgrade(),
    };
    // The token goes to the stream; the call itself no longer needs it.
    let progress_token =
        std::mem::replace(&mut call.progress_token, ProgressToken::Number(0.into()));
    let session = scope.session.clone();
    let stopping = scope.stopping.clone();
    run_now(async move {
        let started = Instant::now();
        let args = std::mem::take(&mut call.args);
        let running = finish(&call, args, ctx, &caller, &admission.cancel, &stopping);
        let (outcome, response) = running.await;
        // Counted before anyone hears the call is over.
        call.tool.count(outcome, Some(started.elapsed()));
        // The tool's future is gone by now (its children killed, its sinks closed): release the
        // call's places before the caller hears it is over.
        let Admission { permit, key, .. } = admission;
        drop(permit);
        end_call(&session, key).await;
        if let Some(response) = response {
            // The caller may have gone since; nothing to do then.
            let _ = final_tx.send(response);
        }
    });
    frames(progress_token, notice_rx, final_rx, cancel_on_drop)
}

/// Runs `task` as far as it goes at once, on the caller's thread, and spawns what is left of it,
/// if anything: a call that ends without waiting (an echo, most errors) costs no task, no timer
/// and no wake-up, and its frames are all ready when the caller turns to its stream.
///
/// Polling first with a waker that does nothing is sound: whatever the task waits on then is
/// polled again, with the spawned task's own waker, when the spawned task first runs.
fn run_now(task: impl Future<Output = ()> + 'static) {
    let mut task = Box::pin(task);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    if task.as_mut().poll(&mut cx).is_pending() {
        actix_rt::spawn(task);
    }
}

/// Runs the tool to its end, or until the call is cancelled or stopped: how it ended, for the
/// metrics, and its final response (none for a cancelled call).
async fn finish(
    call: &Call,
    args: Value,
    ctx: CallContext,
    caller: &CallerAsker,
    cancel: &CancellationToken,
    stopping: &CancellationToken,
) -> (Outcome, Option<String>) {
    let Call { id, tool, era, .. } = call;
    let name = tool.name();
    let running =
        AssertUnwindSafe(async move { tool.call(args, &ctx, caller).await }).catch_unwind();
    tokio::select! {
        // Cancellation first: a call cancelled in the same poll as it finished gets no
        // response, as the specification asks.
        biased;
        () = cancel.cancelled() => {
            tracing::debug!(tool = %name, "call cancelled");
            (Outcome::Cancelled, None)
        }
        () = stopping.cancelled() => {
            let error = RpcError::new(
                INTERNAL_ERROR,
                format!("the daemon is shutting down: tool {name} was stopped before it finished"),
            );
            (Outcome::Stopped, Some(jsonrpc::failure(Some(id), &error)))
        }
        ended = running => match ended {
            Ok(ended) => (ended.outcome, Some(final_response(id, *era, ended.result))),
            Err(_) => {
                let error = RpcError::new(
                    INTERNAL_ERROR,
                    format!("internal error: tool {name} panicked"),
                );
                (Outcome::Panicked, Some(jsonrpc::failure(Some(id), &error)))
            }
        },
    }
}

/// The caller's stream: the call's notices as they come, then its final response. It holds
/// `cancel_on_drop`, so that dropping the stream cancels the call.
fn frames(
    progress_token: ProgressToken,
    notice_rx: mpsc::Receiver<Notice>,
    final_rx: oneshot::Receiver<String>,
    cancel_on_drop: DropGuard,
) -> CallStream {
    let notices = ReceiverStream::new(notice_rx).map(move |notice| frame(&progress_token, notice));
    let last = final_rx
        .into_stream()
        .filter_map(|sent| future::ready(sent.ok().map(Frame::Message)));
    notices
        .chain(last)
        .map(move |frame| {
            // Held by the stream so that dropping the stream cancels the call.
            let _ = &cancel_on_drop;
            frame
        })
        .boxed_local()
}

/// Tells the session the call with `key` has ended, without waiting for its answer.
///
/// The session's mailbox is first in, first out: once `EndCall` is in it, a later `BeginCall`
/// reusing the same request id is handled after it, so the final response may be released at
/// once. Only a full mailbox makes the end wait for room (bounded in time).
async fn end_call(session: &Addr<SessionActor>, key: String) {
    match session.try_send(EndCall { key }) {
        Err(SendError::Full(end)) => {
            let _ = session
                .send(end)
                .timeout(construct_actors::ASK_TIMEOUT)
                .await;
        }
        // Queued, or the session has ended and forgotten its calls already.
        Ok(()) | Err(SendError::Closed(_)) => {}
    }
}

/// A stream holding only one message: how a `tools/call` that cannot start is answered.
pub fn refused(id: &RequestId, error: &RpcError) -> CallStream {
    futures::stream::once(future::ready(Frame::Message(jsonrpc::failure(
        Some(id),
        error,
    ))))
    .boxed_local()
}

fn final_response(id: &RequestId, era: Era, result: Result<CallResult, RpcError>) -> String {
    match result {
        // Nothing to add to it in this era: written straight from the tool's output.
        Ok(CallResult::Builtin(output)) if era == Era::Legacy => {
            jsonrpc::success(id, CallResult::builtin(&output))
        }
        Ok(result) => jsonrpc::success(id, era.complete(result.into_value())),
        Err(error) => jsonrpc::failure(Some(id), &error),
    }
}

#[derive(Serialize)]
struct Notification<P> {
    jsonrpc: &'static str,
    method: &'static str,
    params: P,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProgressParams<'a> {
    progress_token: &'a ProgressToken,
    progress: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    total: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

#[derive(Serialize)]
struct LogParams {
    level: LogLevel,
    logger: Arc<str>,
    data: Value,
}

fn frame(token: &ProgressToken, notice: Notice) -> Frame {
    let text = match notice {
        Notice::Progress(report) => {
            serialize("notifications/progress", progress_params(token, *report))
        }
        Notice::Log(log) => {
            let LogMessage {
                level,
                logger,
                data,
            } = *log;
            serialize(
                "notifications/message",
                LogParams {
                    level,
                    logger,
                    data,
                },
            )
        }
        Notice::Reconnect => return Frame::Reconnect,
        Notice::Message(text) => text.into_string(),
    };
    Frame::Message(text)
}

fn progress_params(token: &ProgressToken, report: Progress) -> ProgressParams<'_> {
    ProgressParams {
        progress_token: token,
        progress: report.progress,
        total: report.total,
        message: report.message,
    }
}

fn serialize(method: &'static str, params: impl Serialize) -> String {
    serde_json::to_string(&Notification {
        jsonrpc: "2.0",
        method,
        params,
    })
    .expect("a notification is always valid JSON")
}
