//! What the daemon tells clients on its own, that something changed: a list
//! (`notifications/tools/list_changed`, and the same of prompts and resources: one of the user's
//! MCP servers became ready, failed, or changed what it offers; the built-in tools never
//! change), or a resource a client subscribed to (`notifications/resources/updated`).
//!
//! Where they travel depends on the era: a 2025-11-25 session's standalone stream (`GET /mcp`,
//! see `standalone`), or, in 2026-07-28, a `subscriptions/listen` stream that asked for them
//! (see `listen`), each message tagged with that request's id. List changes that come in a
//! burst may be told once: the notification only says "list again".

use std::sync::Arc;

use futures::{Stream, StreamExt as _};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::upstream::{Listing, SessionRef, Upstreams};

/// The method of the notification that `listing` changed.
pub fn method(listing: Listing) -> &'static str {
    match listing {
        Listing::Tools => "notifications/tools/list_changed",
        Listing::Prompts => "notifications/prompts/list_changed",
        Listing::Resources => "notifications/resources/list_changed",
    }
}

/// The notification, as text, each time `listing` changes for `session` (its own servers'
/// lists too), or in the daemon's catalog without one; `meta` (the listen stream's subscription
/// id) is its `params._meta` when given.
pub fn list_changes(
    upstreams: &Upstreams,
    listing: Listing,
    session: Option<SessionRef>,
    meta: Option<&Value>,
) -> impl Stream<Item = String> + 'static {
    let message = notification(method(listing), json!({}), meta);
    upstreams
        .list_changes(listing, session)
        .map(move |()| message.clone())
}

/// `notifications/resources/updated`, as text, for each URI `updates` gives; tagged with `meta`
/// when given.
pub fn resource_updates(
    updates: mpsc::Receiver<Arc<str>>,
    meta: Option<Value>,
) -> impl Stream<Item = String> + 'static {
    ReceiverStream::new(updates).map(move |uri| {
        let params = json!({ "uri": &*uri });
        notification("notifications/resources/updated", params, meta.as_ref())
    })
}

/// The notification `method` with `params`, and `meta` as its `params._meta` when given.
fn notification(method: &str, mut params: Value, meta: Option<&Value>) -> String {
    if let Some(meta) = meta {
        params["_meta"] = meta.clone();
    }
    json!({"jsonrpc": "2.0", "method": method, "params": params}).to_string()
}
