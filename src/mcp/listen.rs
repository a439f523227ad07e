//! `subscriptions/listen` (2026-07-28): one long-lived stream of the notifications a client
//! opted into, each tagged with the listen request's id. It replaces that revision's standalone
//! stream and `resources/subscribe`.
//!
//! Honoured: `toolsListChanged`, and when servers are configured `promptsListChanged`,
//! `resourcesListChanged` and `resourceSubscriptions` (the updates of those resources, which
//! the daemon subscribes to for this stream alone, see `subscribe`). Anything else is left out
//! of the acknowledgement, as the specification asks. The URIs are taken all or none: one that
//! cannot be subscribed fails the request with that URI's error, before any stream opens. The
//! stream stays open until the client leaves or the daemon stops; its subscriptions end with
//! it.

use std::collections::HashSet;
use std::sync::Arc;

use futures::future::try_join_all;
use futures::{StreamExt as _, stream};
use serde_json::{Map, Value, json};
use tokio::sync::{Semaphore, mpsc};

use crate::mcp::changes;
use crate::mcp::jsonrpc::{self, INVALID_PARAMS, Request, RpcError};
use crate::mcp::reply::{Busy, Frame, Reply};
use crate::mcp::scope::Scope;
use crate::mcp::subscribe::{self, OVER_LIMIT};
use crate::upstream::{Listing, PER_SUBSCRIBER, Subscriber};

/// The `_meta` key that tags every message of a listen stream with its request's id.
const SUBSCRIPTION_ID: &str = "io.modelcontextprotocol/subscriptionId";

/// Answers `subscriptions/listen`; `listeners` bounds the open streams.
pub async fn answer(scope: &Scope<'_>, request: &Request, listeners: &Arc<Semaphore>) -> Reply {
    let Ok(permit) = Arc::clone(listeners).try_acquire_owned() else {
        return Reply::Busy(Busy::Daemon(
            "the daemon already holds its maximum of listen streams".into(),
        ));
    };
    let empty = Map::new();
    let wanted = request
        .params
        .as_ref()
        .and_then(|params| params.get("notifications"))
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let servers = scope.upstream.has_servers();
    let mut honored = Map::new();
    let tag = json!({SUBSCRIPTION_ID: request.id});
    let mut messages = Vec::new();
    for (flag, listing, offered) in [
        ("toolsListChanged", Listing::Tools, true),
        ("promptsListChanged", Listing::Prompts, servers),
        ("resourcesListChanged", Listing::Resources, servers),
    ] {
        if offered && wanted.get(flag).and_then(Value::as_bool) == Some(true) {
            honored.insert(flag.into(), json!(true));
            let session = Some(scope.owner());
            messages
                .push(changes::list_changes(scope.upstreams, listing, session, Some(&tag)).boxed());
        }
    }
    match wanted.get("resourceSubscriptions") {
        Some(uris) if servers => match subscribe_all(scope, uris).await {
            Ok(Some((uris, updates))) => {
                honored.insert("resourceSubscriptions".into(), uris);
                messages.push(changes::resource_updates(updates, Some(tag.clone())).boxed());
            }
            Ok(None) => {}
            Err(error) => return Reply::Json(jsonrpc::failure(Some(&request.id), &error)),
        },
        _ => {}
    }
    let ack = json!({
        "jsonrpc": "2.0",
        "method": "notifications/subscriptions/acknowledged",
        "params": {"_meta": tag, "notifications": honored},
    });
    let frames = stream::once(async move { Frame::Message(ack.to_string()) })
        .chain(stream::select_all(messages).map(Frame::Message))
        .chain(stream::pending())
        .map(move |frame| {
            // Held while the stream is open: one listener's place.
            let _ = &permit;
            frame
        })
        .boxed_local();
    Reply::Stream {
        frames,
        resumable: false,
    }
}

/// Subscribes a new stream to each of `uris` (a JSON array of URIs): the URIs, and the queue
/// of their updates; `None` when there are none. The first that fails fails them all: the
/// others end as the queue is dropped.
async fn subscribe_all(
    scope: &Scope<'_>,
    uris: &Value,
) -> Result<Option<(Value, mpsc::Receiver<Arc<str>>)>, RpcError> {
    let not_uris = || {
        RpcError::new(
            INVALID_PARAMS,
            "params.notifications.resourceSubscriptions must be an array of URIs",
        )
    };
    let mut seen = HashSet::new();
    let mut uris = uris
        .as_array()
        .ok_or_else(not_uris)?
        .iter()
        .map(|uri| uri.as_str().ok_or_else(not_uris))
        .collect::<Result<Vec<&str>, _>>()?;
    // Each once, in the client's order.
    uris.retain(|uri| seen.insert(*uri));
    if uris.is_empty() {
        return Ok(None);
    }
    if uris.len() > PER_SUBSCRIBER {
        return Err(RpcError::new(
            OVER_LIMIT,
            format!(
                "too many resource subscriptions: {} asked, at most {PER_SUBSCRIBER} per listen stream",
                uris.len()
            ),
        ));
    }
    let routes = uris
        .iter()
        .map(|uri| Ok((subscribe::route(&scope.upstream, uri)?, *uri)))
        .collect::<Result<Vec<_>, RpcError>>()?;
    let (subscriber, updates) = Subscriber::stream(scope.session_id, scope.ended.clone());
    let subscriptions = scope.upstreams.subscriptions();
    try_join_all(
        routes
            .into_iter()
            .map(|(upstream, uri)| subscriptions.subscribe(subscriber.clone(), upstream, uri)),
    )
    .await
    .map_err(subscribe::refused)?;
    Ok(Some((json!(uris), updates)))
}
