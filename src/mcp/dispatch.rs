//! Method dispatch: what each MCP method answers, given an authenticated session.

use std::path::Path;
use std::sync::Arc;

use actix::Addr;
use construct_actors::{ProgressToken, SessionActor};
use serde_json::{Map, Value, json};

use super::call::{self, Call, CallStream, Venue};
use super::jsonrpc::{self, INVALID_PARAMS, Incoming, METHOD_NOT_FOUND, Request, RpcError};
use super::version;
use crate::tools::ToolRegistry;

/// What the HTTP layer must send back.
pub enum Reply {
    /// A JSON-RPC response, as text.
    Json(String),
    /// Nothing but `202 Accepted` (notifications and client responses).
    Accepted,
    /// A `tools/call`: progress messages then the final response, as a stream.
    Stream(CallStream),
}

/// What a method may use: the tools and the session the request authenticated as.
pub struct Scope<'a> {
    /// The enabled tools.
    pub tools: &'a ToolRegistry,
    /// The caller's session.
    pub session: &'a Addr<SessionActor>,
    /// The session's working directory.
    pub cwd: &'a Arc<Path>,
    /// Bound of each call's own progress queue.
    pub call_queue: usize,
}

/// Answers one incoming message.
pub fn dispatch(scope: &Scope<'_>, incoming: Incoming) -> Reply {
    let request = match incoming {
        Incoming::Request(request) => request,
        Incoming::Notification(_) | Incoming::Response => return Reply::Accepted,
    };
    let id = &request.id;
    match request.method.as_str() {
        "initialize" => Reply::Json(jsonrpc::success(id, initialize(request.params.as_ref()))),
        "ping" => Reply::Json(jsonrpc::success(id, json!({}))),
        "tools/list" => Reply::Json(jsonrpc::success(
            id,
            json!({"tools": scope.tools.describe()}),
        )),
        "tools/call" => Reply::Stream(tools_call(scope, request)),
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

fn tools_call(scope: &Scope<'_>, request: Request) -> CallStream {
    match prepare(scope, &request) {
        Ok(prepared) => call::start(
            prepared,
            Venue {
                session: scope.session.clone(),
                cwd: Arc::clone(scope.cwd),
                queue: scope.call_queue,
            },
        ),
        Err(error) => call::refused(&request.id, &error),
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
