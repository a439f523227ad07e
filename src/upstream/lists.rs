//! What a server offers besides tools: its resources, resource templates and prompts, listed
//! when its connection opens (when it declares the capability) and again when it sends
//! `notifications/resources/list_changed` or `notifications/prompts/list_changed`.
//!
//! A server that goes down keeps its last lists, marked down: its prompts keep their names and
//! its URIs their server, so that requests for them are answered as the server being down
//! (`-32603` naming it) rather than as unknown, while the lists clients see leave them out.
//!
//! A list that fails (an error, no answer within the limit) is logged and left empty: the
//! server's tools, and its other lists, are offered all the same, and its next list-changed
//! notification tries again.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use rmcp::model::{ErrorCode, Prompt, ProtocolVersion, Resource, ResourceTemplate};
use rmcp::service::{Peer, RoleClient, ServiceError};

use super::pages;

/// A server's resources, resource templates and prompts: as it listed them when it was last
/// ready (none if it never was).
#[derive(Debug, Default, Clone)]
pub struct Lists {
    /// Whether the server is ready now: only then are its lists shown to clients.
    pub up: bool,
    /// Whether it declares the `resources` capability: `resources/read` may go to it.
    pub offers_resources: bool,
    /// Whether it takes subscriptions to its resources: it declares `resources.subscribe`.
    pub subscribable: bool,
    /// Whether it speaks 2026-07-28, where a subscription goes on the connection's
    /// `subscriptions/listen` stream (see `listen`) rather than in a `resources/subscribe`.
    pub listens: bool,
    /// Its resources, as it lists them.
    pub resources: Vec<Resource>,
    /// Its resource templates.
    pub templates: Vec<ResourceTemplate>,
    /// Its prompts, under its own names.
    pub prompts: Vec<Prompt>,
}

/// A server's lists as they are now, shared with whoever merges them.
pub type SharedLists = Arc<Lists>;

/// Every page of each list the server `peer` declares, each within `limit`.
pub async fn fetch(server: &str, peer: &Peer<RoleClient>, limit: Duration) -> Lists {
    let info = peer.peer_info();
    let capabilities = info
        .as_ref()
        .map(|info| info.capabilities.clone())
        .unwrap_or_default();
    let offers_resources = capabilities.resources.is_some();
    let listens = info.is_some_and(|info| info.protocol_version >= ProtocolVersion::V_2026_07_28);
    let subscribable = capabilities
        .resources
        .as_ref()
        .is_some_and(|resources| resources.subscribe == Some(true));
    let offers_prompts = capabilities.prompts.is_some();
    let (resources, templates, prompts) = tokio::join!(
        listed(
            server,
            "resources/list",
            offers_resources,
            limit,
            pages::all(server, "resources/list", |params| peer
                .list_resources(params))
        ),
        listed(
            server,
            "resources/templates/list",
            offers_resources,
            limit,
            pages::all(server, "resources/templates/list", |params| {
                peer.list_resource_templates(params)
            })
        ),
        listed(
            server,
            "prompts/list",
            offers_prompts,
            limit,
            pages::all(server, "prompts/list", |params| peer.list_prompts(params))
        ),
    );
    Lists {
        up: true,
        offers_resources,
        subscribable,
        listens,
        resources,
        templates,
        prompts,
    }
}

impl Lists {
    /// The same lists, of a server that went down.
    pub fn down(&self) -> Self {
        Self {
            up: false,
            ..self.clone()
        }
    }
}

/// The items `list` gives within `limit`, when the server offers them (`wanted`); none otherwise.
async fn listed<T>(
    server: &str,
    method: &str,
    wanted: bool,
    limit: Duration,
    list: impl Future<Output = Result<Vec<T>, ServiceError>>,
) -> Vec<T> {
    if !wanted {
        return Vec::new();
    }
    match tokio::time::timeout(limit, list).await {
        Ok(Ok(items)) => items,
        // A server may offer resources without templates, and say so this way.
        Ok(Err(ServiceError::McpError(error))) if error.code == ErrorCode::METHOD_NOT_FOUND => {
            tracing::debug!(server, method, "not implemented by the server");
            Vec::new()
        }
        Ok(Err(err)) => {
            tracing::warn!(server, method, %err, "list failed; offered empty");
            Vec::new()
        }
        Err(_) => {
            tracing::warn!(server, method, ?limit, "list took too long; offered empty");
            Vec::new()
        }
    }
}
