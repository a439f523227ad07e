//! What a `tools/call` runs: a built-in tool, or an upstream server's tool forwarded through its
//! connection. Both run the same way for the caller (one task, progress to the caller's stream
//! and the session's followers, cancellation, limits); they differ in how their arguments are
//! checked (a built-in tool's against its schema here, an upstream's by the server), in what
//! their result carries (an upstream's is passed on whole: structured content, links, `_meta`)
//! and in how they are counted in the metrics.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use crate::mcp::jsonrpc::{INVALID_PARAMS, RpcError};
use crate::metrics_recorder::{self, Outcome};
use crate::tools::{CallContext, Content, Tool, ToolError, ToolOutput};
use crate::upstream::{Caller, UpstreamTool};

/// The tool a call runs.
pub enum Callee {
    /// One of the daemon's own tools.
    Builtin(Arc<dyn Tool>),
    /// A tool of one of the user's MCP servers.
    Upstream(UpstreamTool),
}

/// How a call that ran ended: for the metrics, and the result (or error) its caller gets.
pub struct Ended {
    /// How it ended.
    pub outcome: Outcome,
    /// A `tools/call` result, or the error to answer instead.
    pub result: Result<CallResult, RpcError>,
}

/// A `tools/call` result.
pub enum CallResult {
    /// A built-in tool's output, serialized as it is (no JSON tree is built for it).
    Builtin(ToolOutput),
    /// An upstream server's result object, passed on whole.
    Upstream(Value),
}

/// How a built-in tool's output is written as a `tools/call` result.
#[derive(Serialize)]
pub struct BuiltinResult<'a> {
    content: &'a [Content],
    #[serde(rename = "isError")]
    is_error: bool,
}

impl CallResult {
    /// The result as written for a built-in tool's `output`.
    pub fn builtin(output: &ToolOutput) -> BuiltinResult<'_> {
        BuiltinResult {
            content: &output.content,
            is_error: output.is_error,
        }
    }

    /// The result as a JSON tree.
    pub fn into_value(self) -> Value {
        match self {
            Self::Builtin(output) => serde_json::to_value(Self::builtin(&output))
                .expect("a tool's output is always valid JSON"),
            Self::Upstream(result) => result,
        }
    }
}

impl Callee {
    /// The name clients call it by.
    pub fn name(&self) -> Arc<str> {
        match self {
            Self::Builtin(tool) => tool.name().into(),
            Self::Upstream(tool) => Arc::clone(tool.name()),
        }
    }

    /// Runs it once with `args`; an upstream server's requests for the caller go to `caller`.
    pub async fn call(&self, args: Value, ctx: &CallContext, caller: &dyn Caller) -> Ended {
        match self {
            Self::Builtin(tool) => match tool.call(args, ctx).await {
                Ok(output) => Ended {
                    outcome: if output.is_error {
                        Outcome::ToolError
                    } else {
                        Outcome::Ok
                    },
                    result: Ok(CallResult::Builtin(output)),
                },
                Err(err @ ToolError::InvalidArguments(_)) => Ended {
                    outcome: Outcome::InvalidParams,
                    result: Err(RpcError::new(INVALID_PARAMS, err.to_string())),
                },
            },
            Self::Upstream(tool) => match tool.call(args, ctx, caller).await {
                Ok(result) => Ended {
                    outcome: if result.is_error == Some(true) {
                        Outcome::ToolError
                    } else {
                        Outcome::Ok
                    },
                    result: Ok(CallResult::Upstream(
                        serde_json::to_value(result).unwrap_or_default(),
                    )),
                },
                Err(err) => Ended {
                    outcome: Outcome::UpstreamError,
                    result: Err(err.into()),
                },
            },
        }
    }

    /// Counts a call that ended with `outcome` after running for `ran` (`None`: refused before
    /// it ran). Upstream tools are counted under their server (a configured name), never under
    /// names a server chose.
    pub fn count(&self, outcome: Outcome, ran: Option<Duration>) {
        match self {
            Self::Builtin(tool) => metrics_recorder::tool_call(tool.name(), outcome, ran),
            Self::Upstream(tool) => metrics_recorder::upstream_call(tool.server(), outcome, ran),
        }
    }
}
