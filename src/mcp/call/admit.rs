//! Admitting a `tools/call`: checking its parameters and finding its tool, then taking its places.
//!
//! A call is admitted before it runs: under the daemon-wide limit (a semaphore, the only shared
//! counter, holding no session state) and by the session's actor, which enforces the per-session
//! limit and records the call so that `notifications/cancelled`, or the session's end, reach it.

use std::sync::Arc;

use construct_actors::{BeginCall, BeginCallError, ProgressToken};
use serde_json::{Map, Value};
use tokio_util::sync::CancellationToken;

use super::callee::Callee;
use super::options::CallOptions;
use super::run::{self, Admission, Call};
use crate::mcp::jsonrpc::{INVALID_PARAMS, INVALID_REQUEST, Request, RequestId, RpcError};
use crate::mcp::reply::{Busy, Reply};
use crate::mcp::scope::Scope;
use crate::metrics_recorder::{self, Outcome};

/// Checks a `tools/call`'s parameters and finds its tool: the call, ready to run once admitted.
/// A built-in tool's arguments are checked against its schema here; an upstream tool's are the
/// server's to check.
///
/// The arguments are taken out of `request`, not copied: nothing reads them there afterwards.
pub fn check(
    scope: &Scope<'_>,
    request: &mut Request,
    options: &CallOptions,
) -> Result<Call, RpcError> {
    let params = request
        .params
        .as_mut()
        .ok_or_else(|| invalid_params("tools/call needs params"))?;
    let name = params
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid_params("params.name must be a string"))?;
    let tool = find(scope, name).ok_or_else(|| unknown_tool(scope, name))?;
    let args = match params.get_mut("arguments").map(Value::take) {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(args @ Value::Object(_)) => args,
        Some(_) => return Err(invalid_params("params.arguments must be an object")),
    };
    if let Callee::Builtin(builtin) = &tool {
        scope
            .tools
            .validate(builtin.name(), &args)
            .map_err(|err| invalid_params(&err))?;
    }
    // `_meta` is an object in MCP's schema; anything else is refused rather than ignored, as a
    // wrong-typed `progressToken` inside it is (the modern era's request check says the same).
    let meta = match params.get("_meta") {
        None | Some(Value::Null) => None,
        Some(Value::Object(meta)) => Some(meta),
        Some(_) => return Err(invalid_params("params._meta must be an object")),
    };
    let progress_token = match meta.and_then(|meta| meta.get("progressToken")) {
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
        log_level: options.log_level,
        era: options.era,
        caller: options.caller,
    })
}

/// Takes a daemon-wide slot for the call with request `id` and registers it with its session
/// under `key`; a limit reached, or a request id already running, is the reply instead.
pub async fn admit(scope: &Scope<'_>, id: &RequestId, key: String) -> Result<Admission, Reply> {
    let permit = Arc::clone(scope.call_slots)
        .try_acquire_owned()
        .map_err(|_| {
            Reply::Busy(Busy::Daemon(
                "the daemon already runs its maximum of tool calls; try again shortly".into(),
            ))
        })?;
    let cancel = CancellationToken::new();
    let begin = BeginCall {
        key: key.clone(),
        cancel: cancel.clone(),
    };
    match scope
        .session
        .send(begin)
        .timeout(construct_actors::ASK_TIMEOUT)
        .await
    {
        Ok(Ok(())) => Ok(Admission {
            permit,
            key,
            cancel,
        }),
        Ok(Err(err @ BeginCallError::TooManyCalls(_))) => {
            Err(Reply::Busy(Busy::Session(err.to_string())))
        }
        Ok(Err(err @ BeginCallError::DuplicateId(_))) => Err(Reply::Stream {
            frames: run::refused(
                id,
                &RpcError::new(INVALID_REQUEST, format!("invalid request: {err}")),
            ),
            resumable: false,
        }),
        Err(_) => Err(Reply::Busy(Busy::Daemon(
            "the session did not answer; try again shortly".into(),
        ))),
    }
}

/// The tool clients call `name`: a built-in one, else an upstream one on offer now.
fn find(scope: &Scope<'_>, name: &str) -> Option<Callee> {
    match scope.tools.get(name) {
        Some(tool) => Some(Callee::Builtin(tool)),
        None => scope.upstream.get(name).map(Callee::Upstream),
    }
}

/// Why no tool called `name` can run: a server the session may not reach now (`-32603`, saying
/// why), or no such tool (`-32602`).
fn unknown_tool(scope: &Scope<'_>, name: &str) -> RpcError {
    match scope.upstream.refusal(name) {
        Some(refused) => refused.clone().into(),
        None => invalid_params(&format!("unknown tool: {name}")),
    }
}

/// Counts a `tools/call` refused before it ran: under its tool when it names one on offer,
/// under [`metrics_recorder::UNKNOWN_TOOL`] otherwise (a client's string never becomes a label).
pub fn count_refused(scope: &Scope<'_>, request: &Request) {
    let callee = request
        .params
        .as_ref()
        .and_then(|params| params.get("name"))
        .and_then(Value::as_str)
        .and_then(|name| find(scope, name));
    match callee {
        Some(callee) => callee.count(Outcome::InvalidParams, None),
        None => metrics_recorder::tool_call(
            metrics_recorder::UNKNOWN_TOOL,
            Outcome::InvalidParams,
            None,
        ),
    }
}

/// An invalid-params error with a one-line reason.
pub fn invalid_params(message: &str) -> RpcError {
    RpcError::new(INVALID_PARAMS, format!("invalid params: {message}"))
}
