//! What an upstream server's connection does with what the server sends on its own: a changed
//! tool list. (Progress is taken off the transport before rmcp sees it, to keep its order: see
//! `in_order`. Log messages, roots, sampling and elicitation are later work: rmcp's defaults
//! answer them meanwhile.)
//!
//! rmcp runs this handler inside the connection's service task, which must never wait on the
//! daemon: a changed tool list is a coalescing signal, so that however many arrive, the owner
//! refreshes once and none is lost.

use std::sync::Arc;

use rmcp::ClientHandler;
use rmcp::model::{ClientConfig, Implementation};
use rmcp::service::{NotificationContext, RoleClient};
use tokio::sync::Notify;

/// The upstream side of one connection, as rmcp calls it.
pub struct UpstreamHandler {
    tools_changed: Arc<Notify>,
}

impl UpstreamHandler {
    /// A handler that signals tool-list changes to its owner on `tools_changed`.
    pub fn new(tools_changed: Arc<Notify>) -> Self {
        Self { tools_changed }
    }
}

impl ClientHandler for UpstreamHandler {
    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.tools_changed.notify_one();
    }

    fn get_info(&self) -> ClientConfig {
        let mut info = ClientConfig::default();
        info.client_info = Implementation::new("construct-actor", env!("CARGO_PKG_VERSION"));
        info
    }
}
