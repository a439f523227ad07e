//! The modern era (revision 2026-07-28): stateless requests, each carrying its protocol revision,
//! client capabilities and routing headers.
//!
//! Every request passes the same checks before its method runs, in the order the conformance
//! probes expect: its `_meta` must name a revision and the client's capabilities (`-32602`, HTTP
//! 400); the `MCP-Protocol-Version`, `Mcp-Method` and (for `tools/call`) `Mcp-Name` headers must
//! match the body (`-32020`, 400); the revision must be one this daemon implements (`-32022`,
//! 400, listing the supported ones); the method must exist in this era (`-32601`, 404). Every
//! result says `"resultType": "complete"` and names the server in `_meta`; list results carry
//! caching hints. Closing a request's stream cancels it; nothing here can be resumed.

use std::sync::Arc;

use serde_json::{Map, Value, json};
use tokio::sync::Semaphore;

use crate::mcp::call::caller::CallerCan;
use crate::mcp::call::{self, CallKey, CallOptions};
use crate::mcp::forward;
use crate::mcp::jsonrpc::{self, INVALID_PARAMS, Incoming, Request, RequestId, RpcError};
use crate::mcp::listen;
use crate::mcp::reply::{Rejection, Reply};
use crate::mcp::scope::Scope;
use crate::mcp::version::{self, Era};
use crate::tools::LogLevel;

/// The header mismatch error (`HeaderMismatch`).
pub const HEADER_MISMATCH: i32 = -32020;
/// The unsupported protocol version error (`UnsupportedProtocolVersion`).
pub const UNSUPPORTED_VERSION: i32 = -32022;

/// How long clients may cache list results (and `server/discover`'s). The lists change while
/// the daemon runs: the user's servers start, restart and change their own lists, and a reload
/// adds or removes servers. Clients that listen are told at once (`*/list_changed`); this bounds
/// how stale a client that does not listen may be, for a re-list a minute at most.
const LIST_TTL_MS: u64 = 60_000;

const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
const META_LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";

/// The routing headers of a modern request.
#[derive(Debug, Clone, Copy, Default)]
pub struct Headers<'a> {
    /// `MCP-Protocol-Version`.
    pub protocol_version: Option<&'a str>,
    /// `Mcp-Method`.
    pub method: Option<&'a str>,
    /// `Mcp-Name`.
    pub name: Option<&'a str>,
}

/// Answers one modern-era message. `listeners` bounds open `subscriptions/listen` streams.
pub async fn answer(
    scope: &Scope<'_>,
    headers: Headers<'_>,
    incoming: Incoming,
    listeners: &Arc<Semaphore>,
) -> Reply {
    let request = match incoming {
        Incoming::Request(request) => request,
        // No client notification means anything over HTTP in this revision; accept and move on.
        Incoming::Notification(_) | Incoming::Response(_) => return Reply::Accepted,
    };
    let log_level = match check_request(headers, &request) {
        Ok(log_level) => log_level,
        Err(rejection) => return rejection,
    };
    let id = &request.id;
    let complete = |result| Reply::Json(jsonrpc::success(id, Era::Modern.complete(result)));
    match request.method.as_str() {
        "server/discover" => {
            let mut capabilities = json!({"tools": {"listChanged": true}});
            let configured = scope.upstreams.any_configured();
            forward::declare(configured, &scope.upstream, &mut capabilities);
            complete(json!({
                "supportedVersions": version::ALL,
                "capabilities": capabilities,
                "serverInfo": version::server_info(),
                "ttlMs": LIST_TTL_MS,
                "cacheScope": "public",
            }))
        }
        "tools/list" => complete(json!({
            "tools": scope.tool_list(),
            "ttlMs": LIST_TTL_MS,
            "cacheScope": "public",
        })),
        "tools/call" => {
            // A stateless request's stream cannot carry a request back to its client: an
            // upstream server's sampling or elicitation is refused.
            let options = CallOptions {
                era: Era::Modern,
                log_level,
                key: CallKey::Unique,
                resumable: false,
                caller: CallerCan::default(),
            };
            call::start(scope, request, options).await
        }
        "subscriptions/listen" => listen::answer(scope, &request, listeners).await,
        other => match forward::answer(&scope.upstream, &request).await {
            Some(Ok(answered)) if answered.list => complete(cached(answered.result)),
            Some(Ok(answered)) => complete(answered.result),
            Some(Err(error)) => Reply::Json(jsonrpc::failure(Some(id), &error)),
            None => Reply::Rejected {
                status: Rejection::NotFound,
                body: jsonrpc::method_not_found(id, other),
            },
        },
    }
}

/// `result` (a list) with the caching hints every list result carries.
fn cached(mut result: Value) -> Value {
    if let Value::Object(fields) = &mut result {
        fields.insert("ttlMs".into(), json!(LIST_TTL_MS));
        fields.insert("cacheScope".into(), json!("public"));
    }
    result
}

/// Checks `_meta`, the routing headers and the revision; returns the requested log level.
fn check_request(headers: Headers<'_>, request: &Request) -> Result<Option<LogLevel>, Reply> {
    let reject = |error: RpcError| Reply::Rejected {
        status: Rejection::BadRequest,
        body: jsonrpc::failure(Some(&request.id), &error),
    };
    let empty = Map::new();
    let params = request.params.as_ref().unwrap_or(&empty);
    let (meta, requested) = check_meta(params).map_err(reject)?;
    check_headers(headers, request, params, requested).map_err(reject)?;
    if requested != version::MODERN {
        return Err(Reply::Rejected {
            status: Rejection::BadRequest,
            body: unsupported_version(Some(&request.id), "Unsupported protocol version", requested),
        });
    }
    Ok(meta
        .get(META_LOG_LEVEL)
        .and_then(Value::as_str)
        .and_then(LogLevel::parse))
}

/// The request's `_meta` and the revision it names; `-32602` unless it is an object naming a
/// revision and the client's capabilities.
fn check_meta(params: &Map<String, Value>) -> Result<(&Map<String, Value>, &str), RpcError> {
    let invalid = |message: String| RpcError::new(INVALID_PARAMS, message);
    // Worded as `call::admit::check` words a non-object `_meta` in the legacy era, so that both
    // eras name the same mistake the same way.
    let meta = match params.get("_meta") {
        Some(Value::Object(meta)) => meta,
        None | Some(Value::Null) => {
            return Err(invalid("invalid params: params._meta is required".into()));
        }
        Some(_) => {
            return Err(invalid(
                "invalid params: params._meta must be an object".into(),
            ));
        }
    };
    let Some(requested) = meta.get(META_VERSION).and_then(Value::as_str) else {
        return Err(invalid(format!(
            "invalid params: _meta[\"{META_VERSION}\"] must be a string"
        )));
    };
    if !meta.get(META_CAPABILITIES).is_some_and(Value::is_object) {
        return Err(invalid(format!(
            "invalid params: _meta[\"{META_CAPABILITIES}\"] must be an object"
        )));
    }
    Ok((meta, requested))
}

/// `-32020` unless the routing headers say what the body says: the revision it `requested`, its
/// method, and for `tools/call`, `prompts/get` and `resources/read` the name or URI.
fn check_headers(
    headers: Headers<'_>,
    request: &Request,
    params: &Map<String, Value>,
    requested: &str,
) -> Result<(), RpcError> {
    let mismatch = |header: &str, sent: Option<&str>, body: &str| {
        RpcError::new(
            HEADER_MISMATCH,
            format!(
                "Header mismatch: {header} header value '{}' does not match body value '{body}'",
                sent.unwrap_or("")
            ),
        )
    };
    if headers.protocol_version != Some(requested) {
        return Err(mismatch(
            "MCP-Protocol-Version",
            headers.protocol_version,
            requested,
        ));
    }
    if headers.method != Some(request.method.as_str()) {
        return Err(mismatch("Mcp-Method", headers.method, &request.method));
    }
    // The specification's routing header: the tool's or prompt's name, the resource's URI.
    let named_by = match request.method.as_str() {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    };
    if let Some(key) = named_by {
        let name = params.get(key).and_then(Value::as_str).unwrap_or("");
        if headers.name.map(str::trim) != Some(name) {
            return Err(mismatch("Mcp-Name", headers.name, name));
        }
    }
    Ok(())
}

/// The `-32022` answer to a request for a revision this daemon does not implement: `message`,
/// and in `data` the revisions it does implement and the one asked for. `id` is `None` when the
/// request is refused before its body is read (an unreadable `MCP-Protocol-Version` header).
pub fn unsupported_version(id: Option<&RequestId>, message: &str, requested: &str) -> String {
    jsonrpc::failure_with_data(
        id,
        &RpcError::new(UNSUPPORTED_VERSION, message),
        Some(json!({"supported": version::ALL, "requested": requested})),
    )
}
