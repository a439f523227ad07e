//! `GET /session/{id}/events`: every progress event of a session, as Server-Sent Events.
//!
//! The stream is fed by the bounded receiver the session actor hands out on `Subscribe`; when
//! the client leaves, actix-web drops the stream, the receiver with it, and the session removes
//! the subscriber. Keep-alive comments hold idle streams open through proxies and reveal dead
//! peers.

use actix_web::{HttpRequest, Responder, web};
use actix_web_lab::sse::{self, Sse};
use construct_actors::Subscribe;
use futures::StreamExt as _;
use tokio_stream::wrappers::ReceiverStream;

use super::error::HttpError;
use super::{AppState, ask, auth};

/// Follows the session named in the path, authenticated by its bearer token.
pub async fn follow(
    req: HttpRequest,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<impl Responder, HttpError> {
    let token = auth::bearer(&req)?;
    let id = auth::path_session(&path)?;
    let (session, _) = auth::authenticate(&state, id, token).await?;
    let receiver = ask(&session, Subscribe)
        .await?
        .map_err(|err| HttpError::TooMany(err.to_string()))?;
    let events = ReceiverStream::new(receiver).map(|event| {
        sse::Event::Data(sse::Data::new(event.data.json().clone()).id(event.id.to_string()))
    });
    Ok(Sse::from_infallible_stream(events).with_keep_alive(state.config.server.keep_alive))
}
