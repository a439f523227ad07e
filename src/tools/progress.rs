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
//!
//! What a tool says is bounded here, whatever a client made it say (a shell line, a file name):
//! a progress message is cut to [`MAX_MESSAGE_BYTES`] and a log message's data to
//! [`MAX_LOG_BYTES`], both measured as JSON writes them. With the progress token bounded by
//! `mcp.max_progress_token_bytes`, a progress event is therefore at most that plus
//! [`MAX_MESSAGE_BYTES`] plus 256 bytes (the numbers, the tool's name, the timestamp and the
//! field names), so that every queue, history and shared (Redis) stream that holds events is
//! bounded in bytes by its count.

use std::sync::Arc;
use std::time::Duration;

use std::sync::OnceLock;

use actix::{Addr, WeakAddr};
use chrono::Utc;
use construct_actors::{ProgressEvent, ProgressToken, Publish, SessionActor};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::mpsc;

/// How long one report may wait for room in the session's mailbox.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(1);

/// Longest progress message kept, in bytes of JSON (escapes counted as written); a longer one is
/// cut at a character boundary and ends with `…`.
pub const MAX_MESSAGE_BYTES: usize = 1024;

/// Largest log message data kept, in bytes of JSON; larger data is replaced by a string: its
/// text (or, for other values, its JSON text), cut like a progress message.
pub const MAX_LOG_BYTES: usize = 4096;

/// What marks a cut message.
const CUT: char = '…';

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
///
/// Small (each variant's payload is boxed), because every call's notice channel allocates room
/// for a block of them up front, also for the many calls that send none: kept under a kilobyte,
/// that block is a small allocation for the allocator instead of a large one.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// A progress report.
    Progress(Box<Progress>),
    /// A log message.
    Log(Box<LogMessage>),
    /// Ask the transport to close the caller's connection now, keeping the call running, so that
    /// a client able to resume reconnects (the polling of SSE streams, SEP-1699). Ignored where
    /// streams cannot be resumed.
    Reconnect,
    /// A JSON-RPC message for the caller, as it is: a request the call's upstream server asks
    /// the caller (sampling, elicitation).
    Message(Box<str>),
}

/// A log message of a call.
#[derive(Debug, Clone, PartialEq)]
pub struct LogMessage {
    /// Its severity.
    pub level: LogLevel,
    /// The tool that logged it.
    pub logger: Arc<str>,
    /// Any JSON value.
    pub data: Value,
}

/// The progress end handed to a running tool.
pub struct ProgressSink {
    token: ProgressToken,
    tool: Arc<str>,
    call: mpsc::Sender<Notice>,
    /// The session, reached through an address of its own from the first report on: most calls
    /// report nothing, and an address of an actor costs two allocations to make.
    session: WeakAddr<SessionActor>,
    reporting_to: OnceLock<Option<Addr<SessionActor>>>,
}

impl ProgressSink {
    /// A sink for one call of `tool` in `session`, identified to followers by `token`.
    pub fn new(
        token: ProgressToken,
        tool: Arc<str>,
        call: mpsc::Sender<Notice>,
        session: &Addr<SessionActor>,
    ) -> Self {
        Self {
            token,
            tool,
            call,
            session: session.downgrade(),
            reporting_to: OnceLock::new(),
        }
    }

    /// Reports progress to the caller and the session's followers.
    pub async fn report(&self, mut progress: Progress) {
        progress.message = progress
            .message
            .map(|message| clip(message, MAX_MESSAGE_BYTES));
        let event = ProgressEvent {
            token: self.token.clone(),
            progress: progress.progress,
            total: progress.total,
            message: progress.message.clone(),
            tool: Some(self.tool.to_string()),
            timestamp: Utc::now(),
        };
        // A full queue means the caller is not reading; a closed one means it left.
        let _ = self.call.try_send(Notice::Progress(Box::new(progress)));
        let session = self.reporting_to.get_or_init(|| self.session.upgrade());
        // A session that has ended has no followers left to tell.
        let Some(session) = session else { return };
        let published = session
            .send(Publish(event.serialize()))
            .timeout(PUBLISH_TIMEOUT)
            .await;
        if let Err(err) = published {
            tracing::debug!(tool = %self.tool, %err, "progress event not published");
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
    tool: Arc<str>,
    call: mpsc::Sender<Notice>,
}

impl LogSink {
    /// A sink for `tool` that passes messages at `threshold` or above.
    pub fn new(threshold: Option<LogLevel>, tool: Arc<str>, call: mpsc::Sender<Notice>) -> Self {
        Self {
            threshold,
            tool,
            call,
        }
    }

    /// Sends a log message to the caller, if it wants that level.
    pub fn log(&self, level: LogLevel, data: impl Into<Value>) {
        if self.threshold.is_some_and(|threshold| level >= threshold) {
            let _ = self.call.try_send(Notice::Log(Box::new(LogMessage {
                level,
                logger: Arc::clone(&self.tool),
                data: clip_value(data.into(), MAX_LOG_BYTES),
            })));
        }
    }
}

/// `text`, cut at a character boundary (and ending with [`CUT`]) so that it takes at most `max`
/// bytes as a JSON string, quotes excluded.
pub fn clip(text: String, max: usize) -> String {
    let written = |c: char| match c {
        '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
        c if c < ' ' => 6,
        c => c.len_utf8(),
    };
    if text.chars().map(written).sum::<usize>() <= max {
        return text;
    }
    let room = max.saturating_sub(CUT.len_utf8());
    let mut used = 0;
    let end = text
        .char_indices()
        .find(|&(_, c)| {
            used += written(c);
            used > room
        })
        .map_or(text.len(), |(at, _)| at);
    let mut cut = text;
    cut.truncate(end);
    cut.push(CUT);
    cut
}

/// `data` if its JSON takes at most `max` bytes; otherwise a string cut to fit: its text, or
/// the JSON text of any other value.
pub fn clip_value(data: Value, max: usize) -> Value {
    if crate::mcp::meta::fits(&data, max) {
        return data;
    }
    let text = match data {
        Value::String(text) => text,
        other => other.to_string(),
    };
    // The string's quotes are the two bytes `clip` does not count.
    Value::String(clip(text, max.saturating_sub(2)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn long_messages_are_cut_to_their_json_size() {
        assert_eq!(clip("short".into(), 10), "short");
        let cut = clip("a".repeat(2000), MAX_MESSAGE_BYTES);
        assert!(cut.ends_with(CUT));
        assert_eq!(cut.len(), MAX_MESSAGE_BYTES);
        // Escapes count as written: 200 NULs would take 1200 bytes of JSON.
        let nuls = clip("\0".repeat(200), MAX_MESSAGE_BYTES);
        assert!(serde_json::to_string(&nuls).unwrap().len() <= MAX_MESSAGE_BYTES + 2);
        // Never inside a character.
        let wide = clip("é".repeat(1000), 11);
        assert_eq!(wide, format!("{}{CUT}", "é".repeat(4)));
        let data = clip_value(json!({"k": "v".repeat(10_000)}), MAX_LOG_BYTES);
        assert!(
            data.as_str()
                .is_some_and(|text| text.starts_with("{\"k\":"))
        );
        assert!(serde_json::to_string(&data).unwrap().len() <= MAX_LOG_BYTES);
        assert_eq!(clip_value(json!([1, 2]), MAX_LOG_BYTES), json!([1, 2]));
    }

    #[test]
    fn the_largest_event_stays_within_its_documented_bound() {
        let token_bytes = 1024;
        let token = ProgressToken::Text("t".repeat(token_bytes - 2));
        let event = ProgressEvent {
            token,
            progress: u64::MAX,
            total: Some(u64::MAX),
            message: Some(clip("\u{1}".repeat(5000), MAX_MESSAGE_BYTES)),
            tool: Some("test_tool_with_progress".into()),
            timestamp: Utc::now(),
        };
        assert!(event.serialize().len() <= token_bytes + MAX_MESSAGE_BYTES + 256);
    }

    #[test]
    fn levels_parse_and_order_by_severity() {
        assert_eq!(LogLevel::parse("warning"), Some(LogLevel::Warning));
        assert_eq!(LogLevel::parse("loud"), None);
        assert!(LogLevel::Debug < LogLevel::Info && LogLevel::Alert < LogLevel::Emergency);
    }

    #[test]
    fn a_log_sink_passes_only_wanted_levels() {
        let (tx, mut rx) = mpsc::channel(4);
        let sink = LogSink::new(Some(LogLevel::Warning), "t".into(), tx.clone());
        sink.log(LogLevel::Info, "quiet");
        sink.log(LogLevel::Error, "loud");
        let silent = LogSink::new(None, "t".into(), tx);
        silent.log(LogLevel::Emergency, "unwanted");
        assert!(matches!(
            rx.try_recv(),
            Ok(Notice::Log(log)) if log.level == LogLevel::Error
        ));
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn a_block_of_notices_is_a_small_allocation() {
        // A notice channel allocates a block of 32 notices at once; glibc serves requests up to
        // 1008 bytes from its small bins, larger ones by first consolidating its free chunks.
        assert!(32 * std::mem::size_of::<Notice>() <= 800);
    }
}
