//! Asking an actor from a handler: every wait bounded, every silence a `503`.

use actix::dev::ToEnvelope;
use actix::prelude::*;
use construct_actors::ASK_TIMEOUT;

use super::error::HttpError;

/// Sends `msg` to an actor and waits, at most [`ASK_TIMEOUT`], for its reply.
pub async fn ask<A, M>(addr: &Addr<A>, msg: M) -> Result<M::Result, HttpError>
where
    A: Actor + Handler<M>,
    A::Context: ToEnvelope<A, M>,
    M: Message + Send + 'static,
    M::Result: Send,
{
    addr.send(msg)
        .timeout(ASK_TIMEOUT)
        .await
        .map_err(unanswered)
}

/// The answer when an actor did not reply: it is overloaded, or the daemon is shutting down.
pub fn unanswered(err: MailboxError) -> HttpError {
    tracing::warn!(%err, "actor did not answer");
    HttpError::Unavailable("the daemon is busy or shutting down; try again".into())
}
