//! The one trait every tool implements, and what a running call gets besides its arguments.

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::content::ToolOutput;
use super::progress::{LogSink, ProgressSink};
use super::workspace::Workspace;

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
