//! Construct credentials: `Authorization: Bearer <token>` plus the session id, checked by the
//! session's own actor.
//!
//! Unknown sessions and wrong tokens get the very same answer, so a caller cannot probe which
//! session ids exist; the token comparison itself is constant-time (in the actor crate). A
//! session that ends while a request is on its way to it is answered the same way too.

use actix::prelude::*;
use actix_web::HttpRequest;
use actix_web::web::Data;
use construct_actors::{
    ASK_TIMEOUT, AuthError, Authenticate, Authorize, Authorized, KnownSessions, SessionActor,
    SessionDirectory, SessionInfo,
};
use uuid::Uuid;

use super::error::{HttpError, REJECTED};
use super::{ask, unanswered};
use crate::headers::SESSION_HEADER_NAME;

/// The bearer token of the request.
pub fn bearer(req: &HttpRequest) -> Result<&str, HttpError> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or(HttpError::Unauthorized("missing Authorization header"))?;
    let text = value
        .to_str()
        .map_err(|_| HttpError::Unauthorized("Authorization header is not visible ASCII"))?;
    match text.split_once(' ') {
        Some((scheme, token))
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() =>
        {
            Ok(token.trim())
        }
        _ => Err(HttpError::Unauthorized(
            "Authorization header must be \"Bearer <token>\"",
        )),
    }
}

/// The session id of the `X-Construct-Session` header.
pub fn session_header(req: &HttpRequest) -> Result<Uuid, HttpError> {
    let value = req
        .headers()
        .get(SESSION_HEADER_NAME)
        .ok_or(HttpError::Unauthorized(
            "missing X-Construct-Session header",
        ))?;
    value
        .to_str()
        .ok()
        .and_then(|text| Uuid::try_parse(text.trim()).ok())
        .ok_or(HttpError::Unauthorized(
            "X-Construct-Session header is not a session id",
        ))
}

/// A session id taken from a URL path; a malformed one is answered like an unknown one.
pub fn path_session(text: &str) -> Result<Uuid, HttpError> {
    Uuid::try_parse(text).map_err(|_| HttpError::Unauthorized(REJECTED))
}

/// The session named in a URL path, authenticated by the request's bearer token: the check
/// every `/session/{id}/…` route makes.
pub async fn authenticate_path(
    req: &HttpRequest,
    path: &str,
) -> Result<(Addr<SessionActor>, SessionInfo), HttpError> {
    let token = bearer(req)?;
    let id = path_session(path)?;
    authenticate(req, id, token).await
}

/// The session directory of the worker handling `req`: how its requests find sessions, and
/// create them.
pub fn directory(req: &HttpRequest) -> Result<&Addr<SessionDirectory>, HttpError> {
    req.app_data::<Data<Addr<SessionDirectory>>>()
        .map(|directory| &***directory)
        .ok_or_else(|| HttpError::Unavailable("this worker has no session directory".into()))
}

/// Finds session `id` and checks `token` against it: straight with the session when this worker
/// has met it (see [`KnownSessions`]), through the worker's directory otherwise.
pub async fn authenticate(
    req: &HttpRequest,
    id: Uuid,
    token: &str,
) -> Result<(Addr<SessionActor>, SessionInfo), HttpError> {
    let token = token.to_owned();
    let known = req.app_data::<KnownSessions>();
    if let Some(session) = known.and_then(|known| known.session(id)) {
        let info = ask_session(&session, Authenticate { token })
            .await?
            .map_err(refused)?;
        return Ok((session, info));
    }
    let Authorized { session, info } = ask(directory(req)?, Authorize { id, token })
        .await?
        .map_err(refused)?;
    Ok((session, info))
}

/// The answer to credentials a session, or the directory, refused.
fn refused(err: AuthError) -> HttpError {
    match err {
        AuthError::Unauthorized => HttpError::Unauthorized(REJECTED),
        AuthError::Unavailable(unavailable) => unavailable.into(),
    }
}

/// Like [`ask`], for a session: one that has ended meanwhile is answered like an unknown one.
pub async fn ask_session<M>(session: &Addr<SessionActor>, msg: M) -> Result<M::Result, HttpError>
where
    SessionActor: Handler<M>,
    M: Message + Send + 'static,
    M::Result: Send,
{
    match session.send(msg).timeout(ASK_TIMEOUT).await {
        Err(MailboxError::Closed) => Err(HttpError::Unauthorized(REJECTED)),
        reply => reply.map_err(unanswered),
    }
}
