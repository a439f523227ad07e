//! What the keeper follows of each server it subscribes: the URIs of its
//! `notifications/resources/updated`, each new connection (whose subscriptions must be made
//! again) and its stopping for good; and how it asks the server to subscribe or unsubscribe.

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

/// Sends `op` to `upstream` and waits for its answer (within the server's `call_timeout`).
pub async fn send(upstream: Upstream, op: &Op) -> Result<(), UpstreamError> {
    let uri = op.target.uri.to_string();
    // The 2025-11-25 requests, deprecated by 2026-07-28: only servers speaking 2025-11-25 are
    // asked (see `Lists::subscribable`).
    #[allow(deprecated)]
    let request = match op.upward {
        Upward::Subscribe => {
            ClientRequest::SubscribeRequest(SubscribeRequest::new(SubscribeRequestParams::new(uri)))
        }
        Upward::Unsubscribe => ClientRequest::UnsubscribeRequest(UnsubscribeRequest::new(
            UnsubscribeRequestParams::new(uri),
        )),
    };
    upstream.forward(request).await.map(drop)
}
