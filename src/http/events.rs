//! `GET /session/{id}/events`: every progress event of a session, as Server-Sent Events.
//!
//! The stream is fed by the bounded receiver the session actor hands out on `Subscribe`; when
//! the client leaves, actix-web drops the stream, the receiver with it, and the session removes
//! the subscriber. Keep-alive comments hold idle streams open through proxies and reveal dead
//! peers, and the `retry:` field tells clients how soon to reconnect.
//!
//! Nothing is lost without a word. Every event carries its `id:`; a client reconnecting with
//! `Last-Event-ID` is replayed what it missed from the session's history, then the live events.
//! Events a follower cannot get (its queue overflowed, or they are older than the history) are
//! counted in an `event: lagged` with data `{"missed": N}`, and a session that ends sends
//! `event: session-ended` with data `{"reason": "expired" | "closed"}` before the stream closes.
//!
//! Browsers' `EventSource` sends no headers of its own choosing, so two query parameters stand in
//! for them: `ticket`, a single-use stream ticket (see [`super::ticket`]) in place of the
//! `Authorization` header, and `last_event_id`, honoured like the `Last-Event-ID` header (which
//! wins when both are sent: `EventSource` sets it on its own reconnections).

use std::time::Duration;

use actix_web::http::header::HeaderValue;
use actix_web::web::BytesMut;
use actix_web::{HttpRequest, HttpResponse, web};
use construct_actors::{StreamItem, Subscribe, SubscribeAfter};
use serde::Deserialize;
use serde_json::json;
use tokio_stream::wrappers::ReceiverStream;

use super::error::HttpError;
use super::sse_body::{self, Gather, SseBody, SseEvent, put_event, put_numbered};
use super::{AppState, auth, ticket};

/// The header through which a reconnecting client names the last event it received.
const LAST_EVENT_ID: &str = "Last-Event-ID";

/// How a follower's events are gathered into writes (see [`super::sse_body`]): while it is
/// busy, each write waits 1 ms for more, so a burst leaves in a few writes; an event after 10 ms
/// of quiet leaves at once. Measured against a fixed 1 ms wait (BENCHMARKS.md, fan-out): the same
/// burst cost within noise, and 5-7% less CPU per delivery at one event per 20 ms.
const FOLLOWER_GATHER: Gather = Gather::WhenBusy {
    wait: Duration::from_millis(1),
    recent: Duration::from_millis(10),
};

/// The query parameters a browser uses instead of headers.
#[derive(Debug, Default, Deserialize)]
struct FollowQuery {
    /// A stream ticket, in place of `Authorization`.
    ticket: Option<String>,
    /// In place of the `Last-Event-ID` header.
    last_event_id: Option<String>,
}

/// Follows the session named in the path, authenticated by its bearer token or a stream ticket.
pub async fn follow(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, HttpError> {
    let query = web::Query::<FollowQuery>::from_query(req.query_string())
        .map_err(|err| HttpError::BadRequest(format!("invalid query: {err}")))?
        .into_inner();
    // Checked before a ticket is spent on a request that would fail anyway.
    let resume = last_event_id(&req, query.last_event_id.as_deref())?;
    let session = match &query.ticket {
        Some(presented) => {
            let id = auth::path_session(&path)?;
            ticket::redeem(&state, id, presented).await?
        }
        None => auth::authenticate_path(&req, &path).await?.0,
    };
    let receiver = match resume {
        Some(seen) => auth::ask_session(&session, SubscribeAfter(seen)).await?,
        None => auth::ask_session(&session, Subscribe).await?,
    }?;
    let events = SseBody::new(
        ReceiverStream::new(receiver),
        FOLLOWER_GATHER,
        state.config.server.keep_alive,
    )
    .with_retry(state.config.sessions.retry);
    Ok(sse_body::response(events))
}

/// The `Last-Event-ID` of the request, if it has one: its header, else its `last_event_id`
/// query parameter (`query`).
fn last_event_id(req: &HttpRequest, query: Option<&str>) -> Result<Option<u64>, HttpError> {
    if let Some(value) = req.headers().get(LAST_EVENT_ID) {
        return parse_last_event_id(value).map(Some).ok_or_else(|| {
            HttpError::BadRequest(
                "Last-Event-ID must be the decimal id of an event of this stream".into(),
            )
        });
    }
    let Some(text) = query else {
        return Ok(None);
    };
    text.trim().parse().map(Some).map_err(|_| {
        HttpError::BadRequest(
            "last_event_id must be the decimal id of an event of this stream".into(),
        )
    })
}

/// The event id a `Last-Event-ID` header value names: a decimal `u64`, surrounding whitespace
/// allowed; `None` for anything else. Public for the fuzz target.
pub fn parse_last_event_id(value: &HeaderValue) -> Option<u64> {
    value.to_str().ok()?.trim().parse().ok()
}

impl SseEvent for StreamItem {
    /// An event with its id, its JSON written as the session serialized it once for all of its
    /// followers; the notices as named events.
    fn put(&self, body: &mut BytesMut) {
        match self {
            StreamItem::Event(event) => put_numbered(body, "", event.id, event.data.json()),
            StreamItem::Lagged { missed } => {
                let data = json!({ "missed": missed }).to_string();
                put_event(body, None, Some("lagged"), &data);
            }
            StreamItem::SessionEnded(reason) => {
                let data = json!({ "reason": reason.as_str() }).to_string();
                put_event(body, None, Some("session-ended"), &data);
            }
        }
    }
}
