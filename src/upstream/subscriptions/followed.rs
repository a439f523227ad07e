//! What the keeper follows of each server it subscribes: the URIs of its
//! `notifications/resources/updated`, each new connection (whose subscriptions must be made
//! again) and its stopping for good; and how it asks the server to subscribe or unsubscribe
//! (through its listen stream when it speaks 2026-07-28).

use std::sync::Arc;

use futures::StreamExt as _;
use futures::stream::BoxStream;
#[allow(deprecated)]
use rmcp::model::{
    ClientRequest, SubscribeRequest, SubscribeRequestParams, UnsubscribeRequest,
    UnsubscribeRequestParams,
};
use tokio::sync::broadcast::error::RecvError;

use super::book::{Op, Upward};
use crate::upstream::connection::Upstream;
use crate::upstream::error::UpstreamError;

/// Something a followed server did.
#[derive(Debug)]
pub enum ServerEvent {
    /// It said this resource was updated.
    Updated(Arc<str>),
    /// This many of its updates were lost: the keeper fell behind.
    Lagged(u64),
    /// It has a new connection (the number of times it became ready).
    Readied(u64),
    /// Its connection stopped for good (removed, or its session ended).
    Stopped,
}

/// `upstream`'s events, for as long as it is followed.
pub fn events(upstream: &Upstream) -> BoxStream<'static, ServerEvent> {
    let updates = futures::stream::unfold(upstream.resource_updates(), |mut updates| async {
        let event = match updates.recv().await {
            Ok(uri) => ServerEvent::Updated(uri),
            Err(RecvError::Lagged(lost)) => ServerEvent::Lagged(lost),
            Err(RecvError::Closed) => return None,
        };
        Some((event, updates))
    });
    let readied = futures::stream::unfold(Some(upstream.readied()), |readied| async {
        let mut readied = readied?;
        if readied.changed().await.is_err() {
            return Some((ServerEvent::Stopped, None));
        }
        let times = *readied.borrow_and_update();
        Some((ServerEvent::Readied(times), Some(readied)))
    });
    futures::stream::select(updates, readied).boxed()
}

/// Sends `op` to `upstream` and waits for its answer (within the server's `call_timeout`): to a
/// 2026-07-28 server, as a change to its listen stream; to an older one, as a request.
pub async fn send(upstream: Upstream, op: &Op) -> Result<(), UpstreamError> {
    let on = op.upward == Upward::Subscribe;
    if upstream.lists().borrow().listens {
        return upstream.listen_for(Arc::clone(&op.target.uri), on).await;
    }
    let uri = op.target.uri.to_string();
    // The 2025-11-25 requests, deprecated by 2026-07-28: only servers speaking 2025-11-25 are
    // asked.
    #[allow(deprecated)]
    let request = match on {
        true => {
            ClientRequest::SubscribeRequest(SubscribeRequest::new(SubscribeRequestParams::new(uri)))
        }
        false => ClientRequest::UnsubscribeRequest(UnsubscribeRequest::new(
            UnsubscribeRequestParams::new(uri),
        )),
    };
    upstream.forward(request).await.map(drop)
}
