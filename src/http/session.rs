//! `POST /session` creates a session; `GET /session/{id}` describes one to its token holder;
//! `DELETE /session/{id}` ends one for its token holder.
//!
//! Creation is limited per client address (the TCP peer) and daemon-wide; a session then lives
//! until it is deleted or has been idle for `sessions.idle_timeout`.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};
use construct_actors::{Create, MAX_LABEL_CHARS, Stop};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::cwd_lookup::LOOKUPS;
use super::error::HttpError;
use super::{AppState, ask, auth, body, creator};

/// The optional body of `POST /session`. Unknown fields are ignored, for clients newer than us.
#[derive(Debug, Default, Deserialize)]
struct CreateBody {
    cwd: Option<String>,
    label: Option<String>,
}

/// The answer to `POST /session`, serialized straight from the struct (no intermediate map).
#[derive(Serialize)]
struct CreatedBody<'a> {
    session_id: uuid::Uuid,
    token: &'a str,
    cwd: std::borrow::Cow<'a, str>,
}

/// `POST /session` → `{"session_id", "token", "cwd"}`.
pub async fn create(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HttpError> {
    state.api_keys.require(&req)?;
    let bytes = body::read(&req, payload, state.config.server.max_body_bytes).await?;
    let request: CreateBody = if bytes.iter().all(u8::is_ascii_whitespace) {
        CreateBody::default()
    } else {
        serde_json::from_slice(&bytes)
            .map_err(|err| HttpError::BadRequest(format!("invalid session request: {err}")))?
    };
    if let Some(label) = &request.label
        && label.chars().count() > MAX_LABEL_CHARS
    {
        return Err(HttpError::BadRequest(format!(
            "label is longer than {MAX_LABEL_CHARS} characters"
        )));
    }
    let cwd = match request.cwd {
        Some(requested) => LOOKUPS.resolve(requested).await?,
        None => Arc::clone(&state.started.cwd),
    };
    state
        .workspace_roots
        .admit(&cwd)
        .map_err(HttpError::BadRequest)?;
    // Through this worker's directory: the session runs on this worker, where its client's
    // connection is, and is usually made here without asking the registry's thread.
    let created = ask(
        auth::directory(&req)?,
        Create {
            cwd,
            label: request.label,
            by: creator(&req),
            home: None,
            // A session made for a CLI to use later keeps the idle timeout from the start.
            unused_timeout: None,
        },
    )
    .await??;
    tracing::info!(session = %created.id, cwd = %created.cwd.display(), "session created");
    Ok(HttpResponse::Ok().json(CreatedBody {
        session_id: created.id,
        token: &created.token,
        cwd: created.cwd.to_string_lossy(),
    }))
}

/// `GET /session/{id}` with the session's token → what the session is and who follows it.
pub async fn describe(
    req: HttpRequest,
    path: web::Path<String>,
) -> Result<HttpResponse, HttpError> {
    let (_, info) = auth::authenticate_path(&req, &path).await?;
    Ok(HttpResponse::Ok().json(json!({
        "session_id": info.id,
        "cwd": info.cwd.to_string_lossy(),
        "label": info.label.as_deref(),
        "created_at": info.created_at,
        "last_activity": info.last_activity,
        "subscribers": info.subscribers,
        "running_calls": info.running_calls,
    })))
}

/// `DELETE /session/{id}` with the session's token → `204`: the session ends at once. Its
/// followers get `event: session-ended`, its running calls are cancelled, and its id and token
/// are answered `401` from then on.
pub async fn end(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, HttpError> {
    let (session, info) = auth::authenticate_path(&req, &path).await?;
    auth::ask_session(&session, Stop).await??;
    tracing::info!(session = %info.id, "session ended by DELETE /session");
    Ok(HttpResponse::NoContent().finish())
}
