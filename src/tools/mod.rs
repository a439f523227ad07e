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
mod names;
mod progress;
mod shell;
mod sleep;
mod tool;
mod walk;
mod workspace;

pub use config::{FilesConfig, HttpRequestConfig, SearchConfig, ShellConfig, ToolsConfig};
pub use content::{Content, EmbeddedResource, ToolOutput};
pub use enabled::ToolRegistry;
pub use names::{ALL, SAFE_BY_DEFAULT};
pub use progress::{
    LogLevel, LogMessage, LogSink, MAX_LOG_BYTES, MAX_MESSAGE_BYTES, Notice, Progress,
    ProgressSink, clip, clip_value,
};
pub use tool::{CallContext, Tool, ToolError, parse_args};
pub use workspace::Workspace;
