//! Tools: what a `tools/call` runs, behind one small trait.
//!
//! A tool knows nothing of HTTP or JSON-RPC. It gets its arguments, the session's working
//! directory, a [`ProgressSink`] and a cancellation signal, and returns a result. A tool that runs
//! and fails returns a [`ToolOutput`] marked as an error (the caller's model reads it); only
//! arguments that do not fit the tool's schema are a protocol error.
//!
//! Tools never run inside an actor handler: the call runner spawns each call as its own task,
//! turns a panic into an internal error for that call alone, and drops the call's future when
//! it is cancelled, so a tool must clean up on drop (kill children, remove temp files).
//!
//! Arguments are checked against the tool's JSON Schema before the tool runs (see
//! [`ToolRegistry::validate`]); every path goes through the call's [`Workspace`].

mod beneath;
mod blocking;
mod config;
mod content;
mod content_search;
mod echo;
mod enabled;
mod file_edit;
mod file_read;
mod file_write;
mod fixtures;
mod glob_search;
mod http_request;
mod listing;
mod progress;
mod shell;
mod sleep;
mod walk;
mod workspace;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

pub use config::{FilesConfig, HttpRequestConfig, SearchConfig, ShellConfig, ToolsConfig};
pub use content::{Content, EmbeddedResource, ToolOutput};
pub use enabled::ToolRegistry;
pub use progress::{LogLevel, LogSink, Notice, Progress, ProgressSink};
pub use workspace::Workspace;

/// Every tool the daemon knows, by name.
pub const ALL: &[&str] = &[
    "content_search",
    "echo",
    "file_edit",
    "file_read",
    "file_write",
    "glob_search",
    "http_request",
    "shell",
    "sleep",
];

/// The tools enabled when the configuration does not say: those confined to the workspace.
/// `shell` and `http_request` reach beyond it and must be enabled, with allow-lists, by hand.
pub const SAFE_BY_DEFAULT: &[&str] = &[
    "content_search",
    "echo",
    "file_edit",
    "file_read",
    "file_write",
    "glob_search",
    "sleep",
];

/// Something a client can call.
#[async_trait]
pub trait Tool: Send + Sync + 'static {
    /// The name clients call it by.
    fn name(&self) -> &'static str;
    /// What it does, for the model choosing among tools.
    fn description(&self) -> &'static str;
    /// A JSON Schema of its arguments object.
    fn input_schema(&self) -> Value;
    /// Runs it once.
    async fn call(&self, args: Value, ctx: &CallContext) -> Result<ToolOutput, ToolError>;
}

/// What a running call may use besides its arguments.
pub struct CallContext {
    /// The session's working directory and the roots the call may touch.
    pub workspace: Workspace,
    /// Where progress reports go.
    pub progress: ProgressSink,
    /// Where log messages go (`notifications/message`), when the client asked for them.
    pub log: LogSink,
    /// Cancelled when the client cancels the call or goes away. Blocking work must poll it;
    /// async work is also stopped by having its future dropped.
    pub cancel: CancellationToken,
}

/// A call that could not start.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ToolError {
    /// The arguments do not fit the tool's schema; the text names the field.
    #[error("invalid arguments: {0}")]
    InvalidArguments(String),
}

/// Reads a tool's arguments into its typed form, naming the offending field on failure.
pub fn parse_args<T: DeserializeOwned>(args: Value) -> Result<T, ToolError> {
    serde_json::from_value(args).map_err(|err| ToolError::InvalidArguments(err.to_string()))
}
