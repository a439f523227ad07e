//! What an upstream server's connection does with what the server sends on its own: progress of
//! a call, a changed tool list. (Its log messages, roots, sampling and elicitation are later
//! work: rmcp's defaults answer them meanwhile.)
//!
//! rmcp runs this handler inside the connection's service task, which must never wait on the
//! daemon: progress goes to the connection's owner on a bounded channel and is dropped when that
//! is full (progress is advisory); a changed tool list is a coalescing signal, so that however
//! many arrive, the owner refreshes once and none is lost.

use std::sync::Arc;

use rmcp::ClientHandler;
use rmcp::model::{ClientConfig, Implementation, ProgressNotificationParam};
use rmcp::service::{NotificationContext, RoleClient};
use tokio::sync::{Notify, mpsc};

/// How many progress reports may wait for the connection's owner; more are dropped.
pub const PROGRESS_QUEUE: usize = 256;

/// The upstream side of one connection, as rmcp calls it.
pub struct UpstreamHandler {
    server: Arc<str>,
    progress: mpsc::Sender<ProgressNotificationParam>,
    tools_changed: Arc<Notify>,
}

impl UpstreamHandler {
    /// A handler for `server` that hands progress and tool-list changes to its owner.
    pub fn new(
        server: Arc<str>,
        progress: mpsc::Sender<ProgressNotificationParam>,
        tools_changed: Arc<Notify>,
    ) -> Self {
        Self {
            server,
            progress,
            tools_changed,
        }
    }
}

impl ClientHandler for UpstreamHandler {
    async fn on_progress(
        &self,
        params: ProgressNotificationParam,
        _context: NotificationContext<RoleClient>,
    ) {
        if self.progress.try_send(params).is_err() {
            tracing::debug!(server = %self.server, "progress dropped: its caller is behind");
        }
    }

    async fn on_tool_list_changed(&self, _context: NotificationContext<RoleClient>) {
        self.tools_changed.notify_one();
    }

    fn get_info(&self) -> ClientConfig {
        let mut info = ClientConfig::default();
        info.client_info = Implementation::new("construct-actor", env!("CARGO_PKG_VERSION"));
        info
    }
}
