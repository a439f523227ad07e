//! `/mcp`: the MCP endpoint, for Construct sessions and for standard MCP clients of both eras.
//!
//! A request's era comes from its `MCP-Protocol-Version` header (see `crate::mcp::version`; one
//! that is not visible ASCII is refused with `400`), its session from its credentials (see
//! [`Identity`]). Then:
//! - **legacy, with a session**: the session's methods (`crate::mcp::era::legacy`); streams of
//!   clients that negotiated 2025-11-25 or later can be resumed with `GET` + `Last-Event-ID`.
//! - **legacy, without one**: only `initialize`, which creates a session in the same registry as
//!   `POST /session` and returns its `Mcp-Session-Id`; anything else is `400`.
//! - **modern**: stateless requests (`crate::mcp::era::modern`), in the caller's Construct session
//!   or else in the daemon's stateless session (the default workspace).
//!
//! Credentials are checked before the body is read, so an unauthenticated client cannot make the
//! daemon buffer anything. Undecodable bodies get `400` with a JSON-RPC error whose id is `null`.

use std::sync::Arc;

use actix::Addr;
use actix_web::http::StatusCode;
use actix_web::http::header::{ContentType, HeaderName, TryIntoHeaderPair as _};
use actix_web::{HttpMessage as _, HttpRequest, HttpResponse, web};
use construct_actors::{Create, SessionActor, SessionInfo, SessionSettings, Stop, Subscribe};
use futures::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::error::HttpError;
use super::identity::{self, Identity};
use super::sse_body::{self, Gather, SseBody};
use super::{AppState, accept, ask, auth, body, stream_response};
use crate::mcp::client_info::{ClientInfo, MessageFacts};
use crate::mcp::era::legacy;
use crate::mcp::era::modern::{self, Headers};
use crate::mcp::jsonrpc::{self, Incoming};
use crate::mcp::meta::{self, MetaLimits};
use crate::mcp::relay::{self, Find, Resume};
use crate::mcp::reply::{Busy, Rejection, Reply};
use crate::mcp::scope::Scope;
use crate::mcp::standalone;
use crate::mcp::version::Era;
use crate::upstream::{Catalog, SessionRef};

/// The request headers read here, as they are looked up (lowercase names known at compile time
/// are found without building a name per request).
const PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");
const MCP_METHOD: HeaderName = HeaderName::from_static("mcp-method");
const MCP_NAME: HeaderName = HeaderName::from_static("mcp-name");

/// The answer to a session request that names no session.
const NO_SESSION: &str =
    "no session: send Mcp-Session-Id (or X-Construct-Session with its token), or initialize first";

/// `POST /mcp`: one JSON-RPC message.
pub async fn post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HttpError> {
    let era = Era::of(protocol_version(&req)?);
    let identity = Identity::of(&req, era)?;
    if !identity.is_construct() {
        accept::require_post(&req)?;
    }
    match era {
        Era::Legacy => legacy(&req, payload, &state, identity).await,
        Era::Modern => modern(&req, payload, &state, identity).await,
    }
}

/// `GET /mcp`: resume a stream (`Last-Event-ID`) or open the session's standalone stream, where
/// list changes and the session's resource updates are told.
pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, HttpError> {
    if Era::of(protocol_version(&req)?) == Era::Modern {
        return Err(HttpError::MethodNotAllowed(
            "stateless clients have no standalone stream; use POST",
        ));
    }
    let identity = Identity::of(&req, Era::Legacy)?;
    accept::require_stream(&req)?;
    let (session, info) = identity
        .open(&req)
        .await?
        .ok_or(HttpError::BadRequest(NO_SESSION.into()))?;
    let keep_alive = state.config.server.keep_alive;
    if let Some(last) = header(&req, &LAST_EVENT_ID) {
        let (stream, after) = relay::parse_event_id(last).ok_or_else(|| {
            HttpError::BadRequest("Last-Event-ID is not an event id of this daemon".into())
        })?;
        let relay = ask(
            &state.relays,
            Find {
                stream,
                session: info.id,
            },
        )
        .await?
        .ok_or_else(|| {
            HttpError::BadRequest("Last-Event-ID names no resumable stream of this session".into())
        })?;
        let connection = ask(&relay, Resume { after }).await?;
        return Ok(stream_response::resumable_response(&state, connection).await);
    }
    // List changes and the session's resource updates are sent here; the stream stays open,
    // with keep-alives, until the client leaves or the session ends (it holds one of the
    // session's follower places, whose end is the session's).
    let follower = ask(&session, Subscribe).await??;
    let session_ended = ReceiverStream::new(follower).for_each(|_| async {});
    let owner = owner(&info);
    let changes = standalone::messages(&state.upstreams, owner)
        .await
        .take_until(session_ended)
        .boxed_local();
    Ok(sse_body::response(SseBody::new(
        changes,
        Gather::Turn,
        keep_alive,
    )))
}

/// `DELETE /mcp`: end the caller's session now.
pub async fn delete(req: HttpRequest) -> Result<HttpResponse, HttpError> {
    if Era::of(protocol_version(&req)?) == Era::Modern {
        return Err(HttpError::MethodNotAllowed(
            "stateless clients have no session to end",
        ));
    }
    let identity = Identity::of(&req, Era::Legacy)?;
    let (session, info) = identity
        .open(&req)
        .await?
        .ok_or(HttpError::BadRequest(NO_SESSION.into()))?;
    ask(&session, Stop).await??;
    tracing::info!(session = %info.id, "session ended by DELETE /mcp");
    Ok(HttpResponse::NoContent().finish())
}

async fn legacy(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    identity: Identity,
) -> Result<HttpResponse, HttpError> {
    let opened = identity.open(req).await?;
    let incoming = read(req, payload, state, Era::Legacy).await?;
    let Some((session, info)) = opened else {
        return open_by_initialize(req, state, incoming).await;
    };
    let owner = owner(&info);
    let upstream = upstream_catalog(state, owner.clone(), &incoming).await;
    let scope = scope(state, &session, &owner, upstream);
    let reply = legacy::answer(&scope, &info.settings, incoming).await;
    respond(state, info.id, reply).await
}

async fn modern(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    identity: Identity,
) -> Result<HttpResponse, HttpError> {
    let (owner, session, cwd, ended, listeners) = match identity.open(req).await? {
        Some((session, info)) => (info.id, session, info.cwd, info.ended, &state.listeners),
        None => {
            // A revision this daemon does not speak is refused before the key is asked for:
            // the answer (the supported revisions) is no secret, and it tells a client built
            // for another revision, or for sessions, what went wrong.
            if let Some(requested) = header(req, &PROTOCOL_VERSION)
                .filter(|requested| !crate::mcp::version::ALL.contains(requested))
            {
                return Err(HttpError::Rpc(
                    StatusCode::BAD_REQUEST,
                    modern::unsupported_version(None, "Unsupported protocol version", requested),
                ));
            }
            let stateless = state.stateless.of(state.api_keys.require(req)?);
            (
                stateless.id,
                stateless.session.clone(),
                Arc::clone(&state.stateless.cwd),
                stateless.ended.clone(),
                &stateless.listeners,
            )
        }
    };
    let incoming = read(req, payload, state, Era::Modern).await?;
    let headers = Headers {
        protocol_version: header(req, &PROTOCOL_VERSION),
        method: header(req, &MCP_METHOD),
        name: header(req, &MCP_NAME),
    };
    let session_ref = SessionRef {
        id: owner,
        cwd,
        ended,
    };
    let upstream = upstream_catalog(state, session_ref.clone(), &incoming).await;
    let scope = scope(state, &session, &session_ref, upstream);
    let reply = modern::answer(&scope, headers, incoming, listeners).await;
    respond(state, owner, reply).await
}

/// A legacy message without a session: only `initialize`, which opens a new standard session,
/// is answered there like any `initialize`, and names it in `Mcp-Session-Id`.
async fn open_by_initialize(
    req: &HttpRequest,
    state: &AppState,
    incoming: Incoming,
) -> Result<HttpResponse, HttpError> {
    let request = match incoming {
        Incoming::Request(request) if request.method == "initialize" => request,
        _ => return Err(HttpError::BadRequest(NO_SESSION.into())),
    };
    state.api_keys.require(req)?;
    let created = ask(
        auth::directory(req)?,
        Create {
            cwd: Arc::clone(&state.stateless.cwd),
            label: ClientInfo::of(request.params.as_ref()).map(|client| client.name),
            by: super::creator(req),
            // The worker's directory starts it on this worker.
            home: None,
            // Many such clients only look and never send DELETE (see `mcp.initialize_idle_timeout`).
            unused_timeout: Some(state.config.mcp.initialize_idle_timeout),
        },
    )
    .await??;
    tracing::info!(session = %created.id, "session opened by initialize");
    // `initialize` takes no subscription: nothing needs the session's end here.
    let owner = SessionRef {
        id: created.id,
        cwd: Arc::clone(&state.stateless.cwd),
        ended: CancellationToken::new(),
    };
    let scope = scope(state, &created.session, &owner, state.upstreams.catalog());
    let settings = SessionSettings::default();
    let reply = legacy::answer(&scope, &settings, Incoming::Request(request)).await;
    let mut response = respond(state, created.id, reply).await?;
    let credential = identity::session_header_value(created.id, &created.token);
    let (name, value) = (identity::MCP_SESSION_ID, credential)
        .try_into_pair()
        .expect("a session id and its token are visible ASCII");
    response.headers_mut().insert(name, value);
    Ok(response)
}

/// The session `info` describes, as its own servers know it.
fn owner(info: &SessionInfo) -> SessionRef {
    SessionRef {
        id: info.id,
        cwd: Arc::clone(&info.cwd),
        ended: info.ended.clone(),
    }
}

fn scope<'a>(
    state: &'a AppState,
    session: &'a Addr<SessionActor>,
    owner: &SessionRef,
    upstream: Arc<Catalog>,
) -> Scope<'a> {
    Scope {
        session_id: owner.id,
        ended: owner.ended.clone(),
        answers: &state.answers,
        tools: &state.tools,
        upstreams: &state.upstreams,
        upstream,
        session,
        workspace: state.workspace_roots.workspace(Arc::clone(&owner.cwd)),
        call_queue: state.config.sessions.call_queue,
        call_slots: &state.call_slots,
        stopping: &state.stopping,
    }
}

/// The upstream tools, resources and prompts `incoming` may reach in `session`: for a request
/// about them (`tools/…`, `resources/…`, `prompts/…`), the session's own servers' too (started
/// on its first such request, which waits for them to start); for anything else, or with no
/// session-scoped server configured, the shared servers' snapshot, asking nobody.
async fn upstream_catalog(
    state: &AppState,
    session: SessionRef,
    incoming: &Incoming,
) -> Arc<Catalog> {
    match incoming {
        Incoming::Request(request) if reaches_servers(&request.method) => {
            state.upstreams.session_catalog(session).await
        }
        _ => state.upstreams.catalog(),
    }
}

/// Whether `method` is about what servers offer: tools, resources or prompts (a listen stream
/// may subscribe to resources).
fn reaches_servers(method: &str) -> bool {
    method == "subscriptions/listen"
        || ["tools/", "resources/", "prompts/"]
            .iter()
            .any(|family| method.starts_with(family))
}

/// Reads and decodes the body; an undecodable one is a `400` with a JSON-RPC error. A message
/// whose `_meta` is over its limits (`crate::mcp::meta`) is refused before any method sees it:
/// `-32602`, as a `200` response in a legacy session (as the method itself would answer), and
/// `400` for stateless requests (the status their request checks give `-32602`) and notifications.
async fn read(
    req: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
    era: Era,
) -> Result<Incoming, HttpError> {
    let bytes = body::read(req, payload, state.config.server.max_body_bytes).await?;
    let incoming = jsonrpc::decode(&bytes)
        .map_err(|error| HttpError::Rpc(StatusCode::BAD_REQUEST, jsonrpc::failure(None, &error)))?;
    // For the request log (`super::request_log`), which writes its line once the answer is ready.
    if MessageFacts::wanted() {
        req.extensions_mut().insert(MessageFacts::of(&incoming));
    }
    let limits = MetaLimits {
        max_meta_bytes: state.config.mcp.max_meta_bytes,
        max_progress_token_bytes: state.config.mcp.max_progress_token_bytes,
    };
    if let Err(error) = meta::check(&incoming, limits) {
        return Err(match (&incoming, era) {
            (Incoming::Request(request), Era::Legacy) => {
                HttpError::Rpc(StatusCode::OK, jsonrpc::failure(Some(&request.id), &error))
            }
            (Incoming::Request(request), Era::Modern) => HttpError::Rpc(
                StatusCode::BAD_REQUEST,
                jsonrpc::failure(Some(&request.id), &error),
            ),
            _ => HttpError::Rpc(StatusCode::BAD_REQUEST, jsonrpc::failure(None, &error)),
        });
    }
    Ok(incoming)
}

/// Turns the MCP layer's reply into HTTP. `session` owns any resumable stream.
async fn respond(state: &AppState, session: Uuid, reply: Reply) -> Result<HttpResponse, HttpError> {
    Ok(match reply {
        Reply::Json(text) => HttpResponse::Ok()
            .content_type(ContentType::json())
            .body(text),
        Reply::Accepted => HttpResponse::Accepted().finish(),
        Reply::Busy(Busy::Session(reason)) => return Err(HttpError::TooMany(reason)),
        Reply::Busy(Busy::Daemon(reason)) => return Err(HttpError::Unavailable(reason)),
        Reply::Rejected { status, body } => {
            let status = match status {
                Rejection::BadRequest => StatusCode::BAD_REQUEST,
                Rejection::NotFound => StatusCode::NOT_FOUND,
            };
            return Err(HttpError::Rpc(status, body));
        }
        Reply::Stream { frames, resumable } => {
            stream_response::respond(state, session, frames, resumable).await
        }
    })
}

/// The `MCP-Protocol-Version` header, when present.
///
/// One that is not visible ASCII names no revision, so it is refused as an unsupported revision
/// is (`400`, `-32022`, listing the supported ones) rather than taken as absent, which would
/// silently serve the request in the legacy era. It is judged before the body is read, so the
/// error's id is `null`.
fn protocol_version(req: &HttpRequest) -> Result<Option<&str>, HttpError> {
    let Some(value) = req.headers().get(PROTOCOL_VERSION) else {
        return Ok(None);
    };
    value.to_str().map(Some).map_err(|_| {
        HttpError::Rpc(
            StatusCode::BAD_REQUEST,
            modern::unsupported_version(
                None,
                "Unsupported protocol version: the MCP-Protocol-Version header is not visible ASCII",
                &String::from_utf8_lossy(value.as_bytes()),
            ),
        )
    })
}

/// A header's value as text, when present and readable.
fn header<'a>(req: &'a HttpRequest, name: &HeaderName) -> Option<&'a str> {
    req.headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}
