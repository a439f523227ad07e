//! `POST /mcp`: JSON-RPC in, JSON or an SSE stream out, for Construct sessions.
//!
//! Credentials are checked before the body is read, so an unauthenticated client cannot make the
//! daemon buffer anything. Messages that cannot be decoded are answered `400` with a JSON-RPC
//! error whose id is `null`; everything decodable is answered `200` (or `202` for notifications),
//! errors included, as JSON-RPC over HTTP expects.

use actix_web::http::header::ContentType;
use actix_web::{HttpRequest, HttpResponse, Responder as _, web};
use actix_web_lab::sse::{self, Sse};
use futures::StreamExt as _;

use super::error::HttpError;
use super::{AppState, auth, body};
use crate::mcp::dispatch::{self, Busy, Reply, Scope};
use crate::mcp::jsonrpc;
use crate::tools::Workspace;

/// Handles one JSON-RPC message.
pub async fn post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HttpError> {
    let token = auth::bearer(&req)?;
    let id = auth::session_header(&req)?;
    let (session, info) = auth::authenticate(&state, id, token).await?;
    let bytes = body::read(payload, state.config.server.max_body_bytes).await?;
    let incoming = match jsonrpc::decode(&bytes) {
        Ok(incoming) => incoming,
        Err(error) => {
            return Ok(HttpResponse::BadRequest()
                .content_type(ContentType::json())
                .body(jsonrpc::failure(None, &error)));
        }
    };
    let scope = Scope {
        tools: &state.tools,
        session: &session,
        workspace: Workspace::new(info.cwd, state.workspace_roots.clone()),
        call_queue: state.config.sessions.call_queue,
        call_slots: &state.call_slots,
    };
    Ok(match dispatch::dispatch(&scope, incoming).await {
        Reply::Busy(Busy::Session(reason)) => return Err(HttpError::TooMany(reason)),
        Reply::Busy(Busy::Daemon(reason)) => return Err(HttpError::Unavailable(reason)),
        Reply::Json(text) => HttpResponse::Ok()
            .content_type(ContentType::json())
            .body(text),
        Reply::Accepted => HttpResponse::Accepted().finish(),
        Reply::Stream(messages) => {
            let events = messages.map(|text| sse::Event::Data(sse::Data::new(text)));
            Sse::from_infallible_stream(events)
                .with_keep_alive(state.config.server.keep_alive)
                .respond_to(&req)
                .map_into_boxed_body()
        }
    })
}
