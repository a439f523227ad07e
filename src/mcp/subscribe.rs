//! Resource subscriptions, in both eras: `resources/subscribe` and `resources/unsubscribe` of a
//! 2025-11-25 session (its updates go to its standalone stream), and the URIs a 2026-07-28
//! `subscriptions/listen` stream asks for (see `listen`).
//!
//! A URI goes where a `resources/read` of it would (`Resources::subscription_route`), and the
//! daemon's keeper of subscriptions holds it (`crate::upstream::Subscriptions`): the server is
//! subscribed once, by the first subscriber. What a client is answered: `-32602` for a URI no
//! server serves, or whose server does not take subscriptions; the server's own error (its
//! code kept) or `-32603` naming it when it refused or could not be asked; [`OVER_LIMIT`] past
//! the bounds (per session or listen stream, and in the whole daemon). Without servers the
//! methods are unknown, as they always were.

use serde_json::{Value, json};

use crate::mcp::forward::text_param;
use crate::mcp::jsonrpc::{self, INTERNAL_ERROR, INVALID_PARAMS, Request, RpcError};
use crate::mcp::reply::Reply;
use crate::mcp::scope::Scope;
use crate::upstream::{Catalog, Key, Refusal, Subscriber, Unsubscribable, Upstream};

/// The error of a subscription past the daemon's bounds (an implementation-defined code).
pub const OVER_LIMIT: i32 = -32000;

/// Answers `resources/subscribe` or `resources/unsubscribe` in a 2025-11-25 session.
pub async fn answer(scope: &Scope<'_>, request: &Request) -> Reply {
    let id = &request.id;
    if !scope.upstream.has_servers() {
        return Reply::Json(jsonrpc::method_not_found(id, &request.method));
    }
    let answered = match request.method.as_str() {
        "resources/subscribe" => subscribe(scope, request).await,
        _ => unsubscribe(scope, request).await,
    };
    Reply::Json(match answered {
        Ok(result) => jsonrpc::success(id, result),
        Err(error) => jsonrpc::failure(Some(id), &error),
    })
}

async fn subscribe(scope: &Scope<'_>, request: &Request) -> Result<Value, RpcError> {
    let uri = text_param(request.params.as_ref(), "uri")?;
    let upstream = route(&scope.upstream, uri)?;
    let subscriber = Subscriber::session(scope.session_id, scope.ended.clone());
    scope
        .upstreams
        .subscriptions()
        .subscribe(subscriber, upstream, uri)
        .await
        .map_err(refused)?;
    Ok(json!({}))
}

async fn unsubscribe(scope: &Scope<'_>, request: &Request) -> Result<Value, RpcError> {
    let uri = text_param(request.params.as_ref(), "uri")?;
    let key = Key::Session(scope.session_id);
    scope
        .upstreams
        .subscriptions()
        .unsubscribe(key, uri)
        .await
        .map_err(refused)?;
    Ok(json!({}))
}

/// The server a subscription to `uri` goes to; `-32602` when there is none that takes it.
pub fn route<'a>(catalog: &'a Catalog, uri: &str) -> Result<&'a Upstream, RpcError> {
    catalog
        .resources()
        .subscription_route(uri)
        .map_err(|why| match why {
            Unsubscribable::Unknown => RpcError::new(
                INVALID_PARAMS,
                format!("resource not found: no MCP server lists {uri:?} or has a template for it"),
            ),
            Unsubscribable::Refused(upstream) => RpcError::new(
                INVALID_PARAMS,
                format!(
                    "MCP server {} serves {uri:?} but takes no subscriptions",
                    upstream.name()
                ),
            ),
        })
}

/// A refused subscription as the client's error.
pub fn refused(refusal: Refusal) -> RpcError {
    match refusal {
        Refusal::Limit(reason) => RpcError::new(OVER_LIMIT, reason),
        Refusal::Upstream(error) => error.into(),
        Refusal::Busy(reason) => RpcError::new(INTERNAL_ERROR, reason),
    }
}
