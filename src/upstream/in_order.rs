//! A server's progress reports and log messages taken off its connection in the order the
//! server sent them.
//!
//! rmcp hands each notification to the client handler on a task of its own, while it delivers a
//! response straight to the request that waits for it; so the last progress report of a call,
//! sent just before its answer, could reach the connection after the answer, and be lost (a
//! progress notification after the final response is not allowed). Taking progress off the
//! transport itself, as each message is read, keeps the server's order: by the time rmcp sees an
//! answer, every report sent before it is already in the connection's queue. Each is cut to the
//! daemon's bounds (a progress message, a log message's data) before it is queued, so the queue
//! is bounded in bytes as well as in count.

use rmcp::RoleClient;
use rmcp::model::{
    JsonRpcMessage, JsonRpcNotification, ProgressNotificationParam, ServerNotification,
};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::tools::{LogLevel, MAX_LOG_BYTES, MAX_MESSAGE_BYTES, clip, clip_value};

/// How many notices may wait for the connection's owner; more are dropped.
pub const NOTICE_QUEUE: usize = 256;

/// What a server says on its own that belongs to the calls in flight.
#[derive(Debug)]
pub enum ServerNotice {
    /// `notifications/progress`.
    Progress(ProgressNotificationParam),
    /// `notifications/message`: a log message.
    Log {
        /// Its severity.
        level: LogLevel,
        /// Any JSON value.
        data: Value,
    },
}

/// A transport whose incoming progress reports and log messages go to the connection's queue,
/// in order, instead of to rmcp; everything else passes through.
pub struct InOrder<T> {
    inner: T,
    server: std::sync::Arc<str>,
    notices: mpsc::Sender<ServerNotice>,
}

impl<T> InOrder<T> {
    /// `inner`, with notices from `server` going to `notices` (dropped when that is full: they
    /// are advisory).
    pub fn new(inner: T, server: std::sync::Arc<str>, notices: mpsc::Sender<ServerNotice>) -> Self {
        Self {
            inner,
            server,
            notices,
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
            let notice = match self.inner.receive().await? {
                JsonRpcMessage::Notification(JsonRpcNotification {
                    notification: ServerNotification::ProgressNotification(report),
                    ..
                }) => ServerNotice::Progress(clipped(report.params)),
                JsonRpcMessage::Notification(JsonRpcNotification {
                    notification: notification @ ServerNotification::LoggingMessageNotification(_),
                    ..
                }) => match log_notice(notification) {
                    Some(notice) => notice,
                    None => continue,
                },
                other => return Some(other),
            };
            if self.notices.try_send(notice).is_err() {
                tracing::debug!(server = %self.server, "notice dropped: the calls are behind");
            }
        }
    }

    fn close(&mut self) -> impl Future<Output = Result<(), Self::Error>> + Send {
        self.inner.close()
    }
}

/// A log message as the daemon's own notice. The 2026-07-28 revision deprecates MCP logging
/// (SEP-2577, and rmcp with it), but servers on 2025-11-25 still send it and their callers still
/// ask for it; this is the one place that reads rmcp's deprecated type.
#[allow(deprecated)]
fn log_notice(notification: ServerNotification) -> Option<ServerNotice> {
    let ServerNotification::LoggingMessageNotification(message) = notification else {
        return None;
    };
    let level = serde_json::to_value(message.params.level).ok()?;
    Some(ServerNotice::Log {
        level: serde_json::from_value(level).ok()?,
        data: clip_value(message.params.data, MAX_LOG_BYTES),
    })
}

/// A progress report cut to the size the daemon keeps of any (its message), before it is queued:
/// a server's message may be as long as a whole line, and is copied on to its caller.
fn clipped(mut report: ProgressNotificationParam) -> ProgressNotificationParam {
    report.message = report
        .message
        .map(|message| clip(message, MAX_MESSAGE_BYTES));
    report
}
