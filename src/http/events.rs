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

use actix_web::{HttpRequest, Responder, web};
use actix_web_lab::sse::{self, Sse};
use construct_actors::{StreamItem, Subscribe, SubscribeAfter};
use futures::StreamExt as _;
use serde_json::json;
use tokio_stream::wrappers::ReceiverStream;

use super::error::HttpError;
use super::{AppState, auth};

/// The header through which a reconnecting client names the last event it received.
const LAST_EVENT_ID: &str = "Last-Event-ID";

/// Follows the session named in the path, authenticated by its bearer token.
pub async fn follow(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<impl Responder, HttpError> {
    let token = auth::bearer(&req)?;
    let id = auth::path_session(&path)?;
    let (session, _) = auth::authenticate(&state, id, token).await?;
    let receiver = match last_event_id(&req)? {
        Some(seen) => auth::ask_session(&session, SubscribeAfter(seen)).await?,
        None => auth::ask_session(&session, Subscribe).await?,
    }
    .map_err(|err| HttpError::TooMany(err.to_string()))?;
    let events = ReceiverStream::new(receiver).map(sse_event);
    Ok(Sse::from_infallible_stream(events)
        .with_retry_duration(state.config.sessions.retry)
        .with_keep_alive(state.config.server.keep_alive))
}

/// The `Last-Event-ID` of the request, if it has one.
fn last_event_id(req: &HttpRequest) -> Result<Option<u64>, HttpError> {
    let Some(value) = req.headers().get(LAST_EVENT_ID) else {
        return Ok(None);
    };
    value
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .map(Some)
        .ok_or_else(|| {
            HttpError::BadRequest(
                "Last-Event-ID must be the decimal id of an event of this stream".into(),
            )
        })
}

/// One item of a subscription as an SSE event.
fn sse_event(item: StreamItem) -> sse::Event {
    let data = match item {
        StreamItem::Event(event) => {
            sse::Data::new(event.data.json().clone()).id(event.id.to_string())
        }
        StreamItem::Lagged { missed } => {
            sse::Data::new(json!({ "missed": missed }).to_string()).event("lagged")
        }
        StreamItem::SessionEnded(reason) => {
            sse::Data::new(json!({ "reason": reason.as_str() }).to_string()).event("session-ended")
        }
    };
    sse::Event::Data(data)
}
