//! The legacy era (revision 2025-11-25 and before): what each method answers inside a session,
//! whether the session was made by `POST /session` (Construct) or by `initialize` (standard).
//! `initialize` is answered here in both cases; without a session, the HTTP layer first opens
//! one for it.

use construct_actors::{CancelCall, SessionSettings, UpdateSettings};
use serde_json::{Map, Value, json};

use crate::mcp::answers::Deliver;
use crate::mcp::call::caller::CallerCan;
use crate::mcp::call::{self, CallKey, CallOptions, admit::invalid_params};
use crate::mcp::client_info::ClientInfo;
use crate::mcp::forward;
use crate::mcp::jsonrpc::{self, Incoming, Notification, Request, RequestId};
use crate::mcp::reply::{Busy, Reply};
use crate::mcp::scope::Scope;
use crate::mcp::subscribe;
use crate::mcp::version::{self, Era};
use crate::tools::LogLevel;

/// Answers one incoming message in a session with `settings`.
pub async fn answer(scope: &Scope<'_>, settings: &SessionSettings, incoming: Incoming) -> Reply {
    let request = match incoming {
        Incoming::Request(request) => request,
        Incoming::Notification(notification) => {
            notify(scope, notification).await;
            return Reply::Accepted;
        }
        Incoming::Response(response) => {
            // An answer to a request a call's server asked this client: to whoever waits for it.
            let deliver = Deliver {
                session: scope.session_id,
                response,
            };
            let delivered = scope
                .answers
                .send(deliver)
                .timeout(construct_actors::ASK_TIMEOUT)
                .await;
            return match delivered {
                Ok(()) => Reply::Accepted,
                Err(_) => Reply::Busy(Busy::Daemon(
                    "the answer could not be taken now; send it again".into(),
                )),
            };
        }
    };
    let id = &request.id;
    match request.method.as_str() {
        "initialize" => initialize(scope, &request).await,
        "ping" => Reply::Json(jsonrpc::success(id, json!({}))),
        "logging/setLevel" => set_level(scope, &request).await,
        "tools/list" => Reply::Json(jsonrpc::success(id, json!({"tools": scope.tool_list()}))),
        "tools/call" => {
            let level = settings.log_level.as_deref().and_then(LogLevel::parse);
            let resumable = settings
                .protocol_version
                .as_deref()
                .is_some_and(version::resumable);
            let options = CallOptions {
                era: Era::Legacy,
                log_level: level,
                key: CallKey::RequestId,
                resumable,
                caller: CallerCan {
                    sampling: settings.client_can("sampling"),
                    elicitation: settings.client_can("elicitation"),
                },
            };
            call::start(scope, request, options).await
        }
        "resources/subscribe" | "resources/unsubscribe" => subscribe::answer(scope, &request).await,
        other => match forward::answer(&scope.upstream, &request).await {
            Some(Ok(answered)) => Reply::Json(jsonrpc::success(id, answered.result)),
            Some(Err(error)) => Reply::Json(jsonrpc::failure(Some(id), &error)),
            None => Reply::Json(jsonrpc::method_not_found(id, other)),
        },
    }
}

/// `initialize`: negotiates the revision, records it and the client in the session, and answers
/// with what this daemon offers.
async fn initialize(scope: &Scope<'_>, request: &Request) -> Reply {
    let params = request.params.as_ref();
    let requested = params
        .and_then(|p| p.get("protocolVersion"))
        .and_then(Value::as_str);
    let version = version::negotiate(requested);
    tracing::debug!(version, "initialize: revision negotiated");
    // `listChanged: true`: the user's own MCP servers come and go, and with them their tools;
    // `notifications/tools/list_changed` is sent on the session's standalone stream (`GET /mcp`).
    let mut result = json!({
        "protocolVersion": version,
        "capabilities": {"tools": {"listChanged": true}, "logging": {}},
        "serverInfo": version::server_info(),
    });
    forward::declare(
        scope.upstreams.any_configured(),
        &scope.upstream,
        &mut result["capabilities"],
    );
    update(scope, established(version, params)).await;
    Reply::Json(jsonrpc::success(&request.id, result))
}

/// What a client's `initialize` with `params` establishes for its session: the revision
/// negotiated (`version`) and the client's name and version from `clientInfo`.
fn established(version: &str, params: Option<&Map<String, Value>>) -> SessionSettings {
    let client = ClientInfo::of(params);
    SessionSettings {
        protocol_version: Some(version.into()),
        client_name: client.as_ref().map(|client| client.name.as_str().into()),
        client_version: client.and_then(|client| client.version).map(Into::into),
        client_capabilities: Some(capability_names(params).into()),
        ..SessionSettings::default()
    }
}

/// The names of the capabilities a client's `initialize` declares, sorted, comma-separated:
/// only names of letters, digits, `_` and `-`, at most [`construct_actors::MAX_LABEL_CHARS`]
/// characters in all (what the daemon may ask of the client; the rest it never needs).
fn capability_names(params: Option<&Map<String, Value>>) -> String {
    let mut names: Vec<&str> = params
        .and_then(|params| params.get("capabilities"))
        .and_then(Value::as_object)
        .map(|capabilities| {
            capabilities
                .iter()
                .filter(|(_, value)| value.is_object())
                .map(|(name, _)| name.as_str())
                .filter(|name| {
                    name.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                })
                .collect()
        })
        .unwrap_or_default();
    names.sort_unstable();
    let mut joined = String::new();
    for name in names {
        if joined.len() + name.len() + 1 > construct_actors::MAX_LABEL_CHARS {
            break;
        }
        if !joined.is_empty() {
            joined.push(',');
        }
        joined.push_str(name);
    }
    joined
}

async fn set_level(scope: &Scope<'_>, request: &Request) -> Reply {
    let level = request
        .params
        .as_ref()
        .and_then(|params| params.get("level"))
        .and_then(Value::as_str);
    match level.filter(|name| LogLevel::parse(name).is_some()) {
        Some(level) => {
            let level = SessionSettings {
                log_level: Some(level.into()),
                ..SessionSettings::default()
            };
            update(scope, level).await;
            Reply::Json(jsonrpc::success(&request.id, json!({})))
        }
        None => Reply::Json(jsonrpc::failure(
            Some(&request.id),
            &invalid_params(
                "params.level must be one of debug, info, notice, warning, error, critical, alert, emergency",
            ),
        )),
    }
}

async fn update(scope: &Scope<'_>, settings: SessionSettings) {
    let update = UpdateSettings(settings);
    if scope
        .session
        .send(update)
        .timeout(construct_actors::ASK_TIMEOUT)
        .await
        .is_err()
    {
        tracing::warn!("session settings not recorded: the session did not answer");
    }
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
    let cancel = CancelCall { key: id.key() };
    // Unknown or already finished requests are ignored, as the specification asks.
    let _ = scope
        .session
        .send(cancel)
        .timeout(construct_actors::ASK_TIMEOUT)
        .await;
}
