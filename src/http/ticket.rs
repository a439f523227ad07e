//! `POST /session/{id}/ticket`: a short-lived, single-use stream ticket, for followers that cannot
//! send an `Authorization` header (a browser's `EventSource`).
//!
//! The caller proves its right to the session with the session's token or the admin token, and
//! gets `{"ticket", "expires_in_ms"}`; `GET /session/{id}/events?ticket=<ticket>` then lets it in
//! once, for that session only, within `sessions.ticket_ttl`. Long-lived tokens never go into a
//! URL, where logs and browser history would keep them; a ticket that ends up there is spent.
//! The tickets themselves are kept by [`TicketBook`](construct_actors::TicketBook) actors: one
//! for session holders and one for the administrator, so that however many tickets sessions
//! take, the dashboard can still get its own.

use actix::Addr;
use actix_web::http::header::{CACHE_CONTROL, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse, web};
use construct_actors::{IssueTicket, Lookup, RedeemTicket, SessionActor, TicketError};
use serde_json::json;
use uuid::Uuid;

use super::error::HttpError;
use super::{AppState, ask, auth};

/// The one answer for a ticket that is unknown, used, expired or for another session.
const REFUSED: &str =
    "invalid stream ticket (unknown, already used, expired, or for another session); get a new one";

/// `POST /session/{id}/ticket` with the session's token or the admin token → a ticket.
pub async fn issue(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HttpError> {
    let token = auth::bearer(&req)?;
    let id = auth::path_session(&path)?;
    let book = if state.is_admin(token) {
        session(&state, id).await?;
        &state.admin_tickets
    } else {
        auth::authenticate(&req, id, token).await?;
        &state.tickets
    };
    let issued = ask(book, IssueTicket(id)).await?.map_err(|err| match err {
        TicketError::TooManyForSession(_) => HttpError::TooMany(err.to_string()),
        TicketError::TooMany(_) => HttpError::Unavailable(err.to_string()),
    })?;
    let expires_in_ms = u64::try_from(issued.expires_in.as_millis()).unwrap_or(u64::MAX);
    Ok(HttpResponse::Ok()
        .insert_header((CACHE_CONTROL, CacheControl(vec![CacheDirective::NoStore])))
        .json(json!({ "ticket": issued.ticket, "expires_in_ms": expires_in_ms })))
}

/// Redeems `ticket` for session `id`: the session's actor when the ticket lets the holder in.
/// The ticket is used up whatever the answer.
pub async fn redeem(
    state: &AppState,
    id: Uuid,
    ticket: &str,
) -> Result<Addr<SessionActor>, HttpError> {
    let redeem = || RedeemTicket {
        ticket: ticket.to_owned(),
        session: id,
    };
    // A ticket lives in one book; presenting it spends it there, right or wrong.
    let admitted =
        ask(&state.tickets, redeem()).await? || ask(&state.admin_tickets, redeem()).await?;
    if !admitted {
        return Err(HttpError::Unauthorized(REFUSED));
    }
    session(state, id).await
}

/// The actor of session `id`, answered like a wrong token when there is none.
async fn session(state: &AppState, id: Uuid) -> Result<Addr<SessionActor>, HttpError> {
    ask(&state.registry, Lookup(id))
        .await?
        .ok_or(HttpError::Unauthorized("unknown session or wrong token"))
}
