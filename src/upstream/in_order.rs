//! A server's progress reports taken off its connection in the order the server sent them.
//!
//! rmcp hands each notification to the client handler on a task of its own, while it delivers a
//! response straight to the request that waits for it; so the last progress report of a call,
//! sent just before its answer, could reach the connection after the answer, and be lost (a
//! progress notification after the final response is not allowed). Taking progress off the
//! transport itself, as each message is read, keeps the server's order: by the time rmcp sees an
//! answer, every report sent before it is already in the connection's queue.

use rmcp::RoleClient;
use rmcp::model::{
    JsonRpcMessage, JsonRpcNotification, ProgressNotificationParam, ServerNotification,
};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::sync::mpsc;

/// How many progress reports may wait for the connection's owner; more are dropped.
pub const PROGRESS_QUEUE: usize = 256;

/// A transport whose incoming progress reports go to the connection's queue, in order, instead
/// of to rmcp; everything else passes through.
pub struct InOrder<T> {
    inner: T,
    server: std::sync::Arc<str>,
    progress: mpsc::Sender<ProgressNotificationParam>,
}

impl<T> InOrder<T> {
    /// `inner`, with progress from `server` going to `progress` (dropped when that is full:
    /// progress is advisory).
    pub fn new(
        inner: T,
        server: std::sync::Arc<str>,
        progress: mpsc::Sender<ProgressNotificationParam>,
    ) -> Self {
        Self {
            inner,
            server,
            progress,
        }
    }
}

impl<T: Transport<RoleClient>> Transport<RoleClient> for InOrder<T> {
    type Error = T::Error;

    fn send(
        &mut self,
        item: TxJsonRpcMessage<RoleClient>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        self.inner.send(item)
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleClient>> {
        loop {
            match self.inner.receive().await? {
                JsonRpcMessage::Notification(JsonRpcNotification {
                    notification: ServerNotification::ProgressNotification(report),
                    ..
                }) => {
                    if self.progress.try_send(report.params).is_err() {
                        tracing::debug!(server = %self.server, "progress dropped: its caller is behind");
                    }
                }
                other => return Some(other),
            }
        }
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}
