//! What an upstream server's connection does with what the server sends on its own: a changed
//! tool, resource or prompt list, an updated resource (for `subscriptions` to relay), requests
//! for the caller of a call (sampling, elicitation: see `ask`), and `roots/list`, answered with
//! the connection's own `roots`. (Progress and log
//! messages are taken off the transport before rmcp sees them, to keep their order: see
//! `in_order`.) A 2026-07-28 server sends its changes on a `subscriptions/listen` stream
//! instead, whose messages go the same way, through the same [`Signals`] (see `listen`).
//!
//! rmcp runs this handler inside the connection's service task, which must never wait on the
//! daemon: a changed list is a coalescing signal, so that however many arrive, the owner
//! refreshes once and none is lost; an updated resource goes to a bounded broadcast that drops
//! the oldest when its reader is behind.

use std::sync::Arc;

use rmcp::ClientHandler;
use rmcp::model::{
    ClientConfig, ElicitRequestParams, ElicitResult, ElicitationCapability, ErrorData,
    FormElicitationCapability, Implementation, ResourceUpdatedNotificationParam,
    SamplingCapability,
};
#[allow(deprecated)]
use rmcp::model::{
    CreateMessageRequestParams, CreateMessageResult, ListRootsResult, RootsCapabilities,
};
use rmcp::service::{NotificationContext, RequestContext, RoleClient};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{Notify, broadcast, mpsc, oneshot};

use super::ask::ServerAsk;
use super::roots::Roots;

/// The longest resource URI the daemon subscribes to or relays the updates of: a longer one in
/// a server's `notifications/resources/updated` is dropped (nobody can have subscribed to it).
pub const MAX_URI_BYTES: usize = 4096;

/// Where a server's changes go, whichever way they come: as notifications of their own
/// (2025-11-25, through [`UpstreamHandler`]) or on its `subscriptions/listen` stream
/// (2026-07-28, see `listen`).
#[derive(Clone)]
pub struct Signals {
    tools_changed: Arc<Notify>,
    lists_changed: Arc<Notify>,
    updates: broadcast::Sender<Arc<str>>,
}

impl Signals {
    /// The server's tool list changed.
    pub fn tools_changed(&self) {
        self.tools_changed.notify_one();
    }

    /// Its resource or prompt list changed.
    pub fn lists_changed(&self) {
        self.lists_changed.notify_one();
    }

    /// The resource `uri` was updated: relayed to whoever follows the server's updates, unless
    /// the URI is too long for anyone to have subscribed to it.
    pub fn resource_updated(&self, uri: String) {
        if uri.len() > MAX_URI_BYTES {
            tracing::debug!(
                bytes = uri.len(),
                "resource update dropped: its URI is too long"
            );
            return;
        }
        // Nobody following (no subscription anywhere) is no error.
        let _ = self.updates.send(Arc::from(uri));
    }
}

/// The upstream side of one connection, as rmcp calls it.
pub struct UpstreamHandler {
    signals: Signals,
    asks: mpsc::Sender<ServerAsk>,
    roots: Roots,
}

impl UpstreamHandler {
    /// A handler that signals tool-list changes to its owner on `tools_changed`, resource or
    /// prompt list changes on `lists_changed`, and hands the server's requests for a caller
    /// (sampling, elicitation) to it on `asks`; it answers `roots/list` with `roots`, and
    /// puts the URIs of updated resources on `updates`.
    pub fn new(
        tools_changed: Arc<Notify>,
        lists_changed: Arc<Notify>,
        asks: mpsc::Sender<ServerAsk>,
        roots: Roots,
        updates: broadcast::Sender<Arc<str>>,
    ) -> Self {
        Self {
            signals: Signals {
                tools_changed,
                lists_changed,
                updates,
            },
            asks,
            roots,
        }
    }

    /// Where the server's changes go: also where its listen stream's go.
    pub fn signals(&self) -> Signals {
        self.signals.clone()
    }

    /// Relays the server's request `method` to the caller of the call in flight; the answer
    /// comes back as `T`. Bounded: a full queue is refused at once, and the wait ends with the
    /// call (whose end drops the reply).
    async fn relay<T: DeserializeOwned>(
        &self,
        method: &'static str,
        params: impl Serialize,
    ) -> Result<T, ErrorData> {
        let params = serde_json::to_value(params)
            .map_err(|err| ErrorData::internal_error(err.to_string(), None))?;
        let (reply, answer) = oneshot::channel();
        let ask = ServerAsk {
            method,
            params,
            reply,
        };
        if self.asks.try_send(ask).is_err() {
            return Err(ErrorData::internal_error(
                format!("{method}: the daemon is busy with this server's requests"),
                None,
            ));
        }
        let result = answer.await.map_err(|_| {
            ErrorData::internal_error(format!("{method}: the call it belonged to ended"), None)
        })??;
        serde_json::from_value(result).map_err(|err| {
            ErrorData::internal_error(format!("{method}: the client's answer: {err}"), None)
        })
    }
}

impl ClientHandler for UpstreamHandler {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.signals.tools_changed();
    }

    async fn on_resource_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.signals.lists_changed();
    }

    async fn on_prompt_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.signals.lists_changed();
    }

    async fn on_resource_updated(
        &self,
        params: ResourceUpdatedNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        self.signals.resource_updated(params.uri);
    }

    // Sampling is deprecated by the 2026-07-28 revision (SEP-2577, and rmcp with it), but
    // servers on 2025-11-25 still ask for it, and their callers still answer it.
    #[allow(deprecated)]
    async fn create_message(
        &self,
        params: CreateMessageRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<CreateMessageResult, ErrorData> {
        self.relay("sampling/createMessage", params).await
    }

    async fn create_elicitation(
        &self,
        params: ElicitRequestParams,
        _context: RequestContext<RoleClient>,
    ) -> Result<ElicitResult, ErrorData> {
        self.relay("elicitation/create", params).await
    }

    // Roots are deprecated by the 2026-07-28 revision too; servers on 2025-11-25 still ask.
    #[allow(deprecated)]
    async fn list_roots(
        &self,
        _context: RequestContext<RoleClient>,
    ) -> Result<ListRootsResult, ErrorData> {
        Ok(self.roots.listing())
    }

    /// Declares sampling and elicitation: the daemon relays them to callers that can answer
    /// (and tells the server when the caller cannot); and roots, when it has some to give.
    #[allow(deprecated)]
    fn get_info(&self) -> ClientConfig {
        let mut info = ClientConfig::default();
        info.client_info = Implementation::new("construct-actor", env!("CARGO_PKG_VERSION"));
        info.capabilities.sampling = Some(SamplingCapability::default());
        let mut elicitation = ElicitationCapability::default();
        elicitation.form = Some(FormElicitationCapability::default());
        info.capabilities.elicitation = Some(elicitation);
        // Roots, when it has some to give: they never change while connected.
        if !self.roots.is_empty() {
            let mut roots = RootsCapabilities::default();
            roots.list_changed = Some(false);
            info.capabilities.roots = Some(roots);
        }
        info
    }
}
