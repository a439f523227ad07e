//! How a running tool talks while it works: progress reports and log messages.
//!
//! Both travel the call's own bounded channel as [`Notice`]s, which the call runner turns into
//! `notifications/progress` and `notifications/message`. When the caller reads slowly, notices are
//! dropped for it (they are advisory); the final response never travels this channel.
//!
//! Progress also goes, as a `ProgressEvent`, to the session actor, which fans it out to every
//! follower of the session. That leg waits for mailbox room, so a tool reporting in a tight loop
//! is slowed rather than allowed to flood the actor; the wait is bounded, after which the report
//! is dropped for the followers.

use std::time::Duration;

use actix::Addr;
use chrono::Utc;
use construct_actors::{ProgressEvent, ProgressToken, Publish, SessionActor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;

/// How long one report may wait for room in the session's mailbox.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(1);

/// One progress report of a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// Work done so far.
    pub progress: u64,
    /// Total work, when known.
    pub total: Option<u64>,
    /// What is happening now.
    pub message: Option<String>,
}

/// Severity of a log message, least severe first (RFC 5424, as MCP's logging uses it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Debugging detail.
    Debug,
    /// Normal operation.
    Info,
    /// Normal but significant.
    Notice,
    /// Something may be wrong.
    Warning,
    /// Something failed.
    Error,
    /// A component failed.
    Critical,
    /// Act now.
    Alert,
    /// Unusable.
    Emergency,
}

impl LogLevel {
    /// The level named `name` (`"debug"` … `"emergency"`), if it is one.
    pub fn parse(name: &str) -> Option<Self> {
        serde_json::from_value(Value::String(name.to_owned())).ok()
    }
}

/// What a call sends its caller before the final response.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// A progress report.
    Progress(Progress),
    /// A log message.
    Log {
        /// Its severity.
        level: LogLevel,
        /// The tool that logged it.
        logger: &'static str,
        /// Any JSON value.
        data: Value,
    },
    /// Ask the transport to close the caller's connection now, keeping the call running, so that
    /// a client able to resume reconnects (the polling of SSE streams, SEP-1699). Ignored where
    /// streams cannot be resumed.
    Reconnect,
}

/// The progress end handed to a running tool.
pub struct ProgressSink {
    token: ProgressToken,
    tool: &'static str,
    call: mpsc::Sender<Notice>,
    session: Addr<SessionActor>,
}

impl ProgressSink {
    /// A sink for one call of `tool`, identified to followers by `token`.
    pub fn new(
        token: ProgressToken,
        tool: &'static str,
        call: mpsc::Sender<Notice>,
        session: Addr<SessionActor>,
    ) -> Self {
        Self {
            token,
            tool,
            call,
            session,
        }
    }

    /// Reports progress to the caller and the session's followers.
    pub async fn report(&self, progress: Progress) {
        let event = ProgressEvent {
            token: self.token.clone(),
            progress: progress.progress,
            total: progress.total,
            message: progress.message.clone(),
            tool: Some(self.tool.to_owned()),
            timestamp: Utc::now(),
        };
        // A full queue means the caller is not reading; a closed one means it left.
        let _ = self.call.try_send(Notice::Progress(progress));
        let published = self
            .session
            .send(Publish(event.serialize()))
            .timeout(PUBLISH_TIMEOUT)
            .await;
        if let Err(err) = published {
            tracing::debug!(tool = self.tool, %err, "progress event not published");
        }
    }

    /// Asks the transport to drop the caller's connection, keeping the call (see
    /// [`Notice::Reconnect`]).
    pub fn request_reconnect(&self) {
        let _ = self.call.try_send(Notice::Reconnect);
    }
}

/// The logging end handed to a running tool: messages below the client's chosen level, or all
/// of them when the client chose none, go nowhere.
pub struct LogSink {
    threshold: Option<LogLevel>,
    tool: &'static str,
    call: mpsc::Sender<Notice>,
}

impl LogSink {
    /// A sink for `tool` that passes messages at `threshold` or above.
    pub fn new(
        threshold: Option<LogLevel>,
        tool: &'static str,
        call: mpsc::Sender<Notice>,
    ) -> Self {
        Self {
            threshold,
            tool,
            call,
        }
    }

    /// Sends a log message to the caller, if it wants that level.
    pub fn log(&self, level: LogLevel, data: impl Into<Value>) {
        if self.threshold.is_some_and(|threshold| level >= threshold) {
            let _ = self.call.try_send(Notice::Log {
                level,
                logger: self.tool,
                data: data.into(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_parse_and_order_by_severity() {
        assert_eq!(LogLevel::parse("warning"), Some(LogLevel::Warning));
        assert_eq!(LogLevel::parse("loud"), None);
        assert!(LogLevel::Debug < LogLevel::Info && LogLevel::Alert < LogLevel::Emergency);
    }

    #[test]
    fn a_log_sink_passes_only_wanted_levels() {
        let (tx, mut rx) = mpsc::channel(4);
        let sink = LogSink::new(Some(LogLevel::Warning), "t", tx.clone());
        sink.log(LogLevel::Info, "quiet");
        sink.log(LogLevel::Error, "loud");
        let silent = LogSink::new(None, "t", tx);
        silent.log(LogLevel::Emergency, "unwanted");
        assert!(matches!(
            rx.try_recv(),
            Ok(Notice::Log {
                level: LogLevel::Error,
                ..
            })
        ));
        assert!(rx.try_recv().is_err());
    }
}
