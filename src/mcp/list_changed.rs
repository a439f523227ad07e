//! `notifications/tools/list_changed`: what tells a client that `tools/list` would now answer
//! differently, because one of the user's MCP servers became ready, failed, or changed its
//! tools. The built-in tools never change.
//!
//! Where it travels depends on the era: a 2025-11-25 session's standalone stream (`GET /mcp`),
//! or, in 2026-07-28, a `subscriptions/listen` stream that asked for `toolsListChanged`, each
//! message tagged with that request's id. Changes that come in a burst may be told once: the
//! notification only says "list again".

use futures::{Stream, StreamExt as _};
use serde_json::{Value, json};

use crate::upstream::Upstreams;

/// The method of the notification.
pub const TOOLS_LIST_CHANGED: &str = "notifications/tools/list_changed";

/// The notification, as text, each time the tools on offer change; `meta` (the listen stream's
/// subscription id) is its `params._meta` when given.
pub fn tool_list_changes(
    upstreams: &Upstreams,
    meta: Option<Value>,
) -> impl Stream<Item = String> + 'static {
    let params = match meta {
        Some(meta) => json!({"_meta": meta}),
        None => json!({}),
    };
    let message =
        json!({"jsonrpc": "2.0", "method": TOOLS_LIST_CHANGED, "params": params}).to_string();
    upstreams.tool_list_changes().map(move |()| message.clone())
}
