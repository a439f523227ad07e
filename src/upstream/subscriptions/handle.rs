//! The handle on the keeper of resource subscriptions: what requests and streams ask of it,
//! each ask bounded (`ASK_TIMEOUT` to be taken, and the server's own time to answer).

use std::sync::Arc;

use construct_actors::ASK_TIMEOUT;
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::asks::{Ask, Key, Refusal, Subscriber, UPDATE_QUEUE};
use super::keeper::Keeper;
use crate::upstream::catalog::Catalog;
use crate::upstream::connection::Upstream;
use crate::upstream::error::UpstreamError;
use crate::upstream::handler::MAX_URI_BYTES;

/// Asks that may wait for the keeper; one more is refused as busy.
const MAILBOX: usize = 256;

/// A handle on the keeper of every resource subscription; clones share it.
#[derive(Clone)]
pub struct Subscriptions {
    mailbox: mpsc::Sender<Ask>,
}

impl Subscriptions {
    /// Starts the keeper on the current tokio runtime, following the servers of `catalog`. It
    /// stops when the last handle is dropped.
    pub fn start(catalog: watch::Receiver<Arc<Catalog>>) -> Self {
        let (mailbox, asks) = mpsc::channel(MAILBOX);
        tokio::spawn(Keeper::new(catalog).run(asks));
        Self { mailbox }
    }

    /// Subscribes `subscriber` to `uri` of `upstream` (the server a read of it goes to): done
    /// once the server holds the subscription (the first subscriber's ask subscribes it).
    pub async fn subscribe(
        &self,
        subscriber: Subscriber,
        upstream: &Upstream,
        uri: &str,
    ) -> Result<(), Refusal> {
        if uri.len() > MAX_URI_BYTES {
            return Err(Refusal::Limit(format!(
                "the URI is longer than {MAX_URI_BYTES} bytes, the most the daemon subscribes to"
            )));
        }
        let (reply, answer) = oneshot::channel();
        self.ask(Ask::Subscribe {
            subscriber,
            upstream: upstream.clone(),
            uri: Arc::from(uri),
            reply,
        })
        .await?;
        // At worst an unsubscribe in flight, then the subscribe, each bounded by the server's
        // call_timeout.
        let limit = 2 * (upstream.call_timeout() + ASK_TIMEOUT);
        match tokio::time::timeout(limit, answer).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(Refusal::Busy("the keeper of subscriptions stopped")),
            Err(_) => Err(Refusal::Upstream(UpstreamError::new(
                upstream.name(),
                "did not answer the subscription in time",
            ))),
        }
    }

    /// Ends `key`'s subscription to `uri`, if it has one; its server is unsubscribed when
    /// nobody else holds it (without waiting for that).
    pub async fn unsubscribe(&self, key: Key, uri: &str) -> Result<(), Refusal> {
        let uri = uri.to_owned();
        self.ask(Ask::Unsubscribe { key, uri }).await
    }

    /// A new standalone stream of the 2025-11-25 `session` (which ends with `ended`): the
    /// queue of the URIs updated among its subscriptions, from now on. `None` when the keeper
    /// is too busy to take it (the stream goes without updates).
    pub async fn attach(
        &self,
        session: Uuid,
        ended: CancellationToken,
    ) -> Option<mpsc::Receiver<Arc<str>>> {
        let (sink, updates) = mpsc::channel(UPDATE_QUEUE);
        let attach = Ask::Attach {
            session,
            ended,
            sink,
        };
        self.ask(attach).await.ok().map(|()| updates)
    }

    async fn ask(&self, ask: Ask) -> Result<(), Refusal> {
        self.mailbox
            .send_timeout(ask, ASK_TIMEOUT)
            .await
            .map_err(|_| Refusal::Busy("the keeper of subscriptions is busy; try again"))
    }
}
