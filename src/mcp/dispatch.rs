//! Method dispatch: what each MCP method answers, given an authenticated session.
//!
//! A `tools/call` is admitted before it starts: under the daemon-wide limit (a semaphore, the
//! only shared counter, holding no session state) and by the session's actor, which enforces
//! the per-session limit and records the call so `notifications/cancelled` can reach it.

use std::sync::Arc;
use std::time::Duration;

use actix::Addr;
use construct_actors::{BeginCall, BeginCallError, CancelCall, ProgressToken, SessionActor};
use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::call::{self, Admission, Call, CallStream, Venue};
use super::jsonrpc::{
    self, INVALID_PARAMS, INVALID_REQUEST, Incoming, METHOD_NOT_FOUND, Notification, Request,
    RequestId, RpcError,
};
use super::version;
use crate::tools::{ToolRegistry, Workspace};

/// Longest a dispatch waits for the session actor.
const SESSION_TIMEOUT: Duration = Duration::from_secs(5);

/// What the HTTP layer must send back.
pub enum Reply {
    /// A JSON-RPC response, as text.
    Json(String),
    /// Nothing but `202 Accepted` (notifications and client responses).
    Accepted,
    /// A `tools/call`: progress messages then the final response, as a stream.
    Stream(CallStream),
    /// A `tools/call` refused because a concurrency limit is reached.
    Busy(Busy),
}

/// Which limit refused a call; the text says so in one line.
pub enum Busy {
    /// The session's own limit.
    Session(String),
    /// The daemon-wide limit, or the session actor could not answer.
    Daemon(String),
}

/// What a method may use: the tools and the session the request authenticated as.
pub struct Scope<'a> {
    /// The enabled tools.
    pub tools: &'a ToolRegistry,
    /// The caller's session.
    pub session: &'a Addr<SessionActor>,
    /// The session's cwd and the roots its calls may touch.
    pub workspace: Workspace,
    /// Bound of each call's own progress queue.
    pub call_queue: usize,
    /// The daemon-wide limit on running calls.
    pub call_slots: &'a Arc<Semaphore>,
}

/// Answers one incoming message.
pub async fn dispatch(scope: &Scope<'_>, incoming: Incoming) -> Reply {
    let request = match incoming {
        Incoming::Request(request) => request,
        Incoming::Notification(notification) => {
            notify(scope, notification).await;
            return Reply::Accepted;
        }
        Incoming::Response => return Reply::Accepted,
    };
    let id = &request.id;
    match request.method.as_str() {
        "initialize" => Reply::Json(jsonrpc::success(id, initialize(request.params.as_ref()))),
        "ping" => Reply::Json(jsonrpc::success(id, json!({}))),
        "tools/list" => Reply::Json(jsonrpc::success(
            id,
            json!({"tools": scope.tools.describe()}),
        )),
        "tools/call" => tools_call(scope, request).await,
        other => Reply::Json(jsonrpc::failure(
            Some(id),
            &RpcError::new(METHOD_NOT_FOUND, format!("method not found: {other}")),
        )),
    }
}

fn initialize(params: Option<&Map<String, Value>>) -> Value {
    let requested = params
        .and_then(|p| p.get("protocolVersion"))
        .and_then(Value::as_str);
    json!({
        "protocolVersion": version::negotiate(requested),
        "capabilities": {"tools": {"listChanged": false}},
        "serverInfo": {"name": env!("CARGO_PKG_NAME"), "version": env!("CARGO_PKG_VERSION")},
    })
}

/// Acts on a client notification; only cancellation needs anything done.
async fn notify(scope: &Scope<'_>, notification: Notification) {
    if notification.method != "notifications/cancelled" {
        return;
    }
    let Some(id) = notification
        .params
        .as_ref()
        .and_then(|params| params.get("requestId"))
        .and_then(|id| serde_json::from_value::<RequestId>(id.clone()).ok())
    else {
        return;
    };
    let cancel = CancelCall { key: call_key(&id) };
    // Unknown or already finished requests are ignored, as the specification asks.
    let _ = scope.session.send(cancel).timeout(SESSION_TIMEOUT).await;
}

/// The key a session knows a call by: its request id as JSON text.
fn call_key(id: &RequestId) -> String {
    serde_json::to_string(id).expect("a request id is always valid JSON")
}

async fn tools_call(scope: &Scope<'_>, request: Request) -> Reply {
    let prepared = match prepare(scope, &request) {
        Ok(prepared) => prepared,
        Err(error) => return Reply::Stream(call::refused(&request.id, &error)),
    };
    let admission = match admit(scope, &request.id).await {
        Ok(admission) => admission,
        Err(reply) => return reply,
    };
    let venue = Venue {
        session: scope.session.clone(),
        workspace: scope.workspace.clone(),
        queue: scope.call_queue,
    };
    Reply::Stream(call::start(prepared, venue, admission))
}

/// Takes a daemon-wide slot and registers the call with its session.
async fn admit(scope: &Scope<'_>, id: &RequestId) -> Result<Admission, Reply> {
    let permit = Arc::clone(scope.call_slots)
        .try_acquire_owned()
        .map_err(|_| {
            Reply::Busy(Busy::Daemon(
                "the daemon already runs its maximum of tool calls; try again shortly".into(),
            ))
        })?;
    let key = call_key(id);
    let cancel = CancellationToken::new();
    let begin = BeginCall {
        key: key.clone(),
        cancel: cancel.clone(),
    };
    match scope.session.send(begin).timeout(SESSION_TIMEOUT).await {
        Ok(Ok(())) => Ok(Admission {
            permit,
            key,
            cancel,
        }),
        Ok(Err(err @ BeginCallError::TooManyCalls(_))) => {
            Err(Reply::Busy(Busy::Session(err.to_string())))
        }
        Ok(Err(err @ BeginCallError::DuplicateId(_))) => Err(Reply::Stream(call::refused(
            id,
            &RpcError::new(INVALID_REQUEST, format!("invalid request: {err}")),
        ))),
        Err(_) => Err(Reply::Busy(Busy::Daemon(
            "the session did not answer; try again shortly".into(),
        ))),
    }
}

/// Checks a `tools/call`'s parameters and finds its tool.
fn prepare(scope: &Scope<'_>, request: &Request) -> Result<Call, RpcError> {
    let params = request
        .params
        .as_ref()
        .ok_or_else(|| invalid_params("tools/call needs params"))?;
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_params("params.name must be a string"))?;
    let tool = scope
        .tools
        .get(name)
        .ok_or_else(|| invalid_params(&format!("unknown tool: {name}")))?;
    let args = match params.get("arguments") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(args @ Value::Object(_)) => args.clone(),
        Some(_) => return Err(invalid_params("params.arguments must be an object")),
    };
    scope
        .tools
        .validate(name, &args)
        .map_err(|err| invalid_params(&err))?;
    let progress_token = match params
        .get("_meta")
        .and_then(|meta| meta.get("progressToken"))
    {
        None | Some(Value::Null) => ProgressToken::Text(uuid::Uuid::new_v4().to_string()),
        Some(token) => serde_json::from_value(token.clone()).map_err(|_| {
            invalid_params("params._meta.progressToken must be a string or a number")
        })?,
    };
    Ok(Call {
        id: request.id.clone(),
        tool,
        args,
        progress_token,
    })
}

fn invalid_params(message: &str) -> RpcError {
    RpcError::new(INVALID_PARAMS, format!("invalid params: {message}"))
}
