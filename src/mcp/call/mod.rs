//! `tools/call` in either era, in two steps: [`admit`] checks the parameters and takes the call's
//! places under its limits; [`run`] runs the admitted call in a task of its own and turns it into
//! the stream of frames its caller reads.
//!
//! A refusal is an answer like any other: invalid parameters, and a request id the session
//! already runs, are JSON-RPC errors on the call's stream, as the call's own result would be; a
//! limit reached is [`Reply::Busy`], which the HTTP layer maps onto a status.

pub mod admit;
pub mod callee;
pub mod caller;
pub mod run;

use crate::mcp::jsonrpc::Request;
use crate::mcp::reply::Reply;
use crate::mcp::scope::Scope;
use crate::mcp::version::Era;
use crate::tools::LogLevel;
use admit::CallKey;
use caller::CallerCan;

/// How a call is made: what its era, its caller and its stream allow.
#[derive(Debug, Clone, Copy)]
pub struct CallOptions {
    /// The protocol era, which shapes the result.
    pub era: Era,
    /// The least severe log message the caller wants; `None`: none.
    pub log_level: Option<LogLevel>,
    /// How the session knows the call.
    pub key: CallKey,
    /// Whether the stream may outlive its connection.
    pub resumable: bool,
    /// What the caller can be asked by the call's upstream server.
    pub caller: CallerCan,
}

/// Checks, admits and starts a `tools/call` in `scope`: the reply is the call's stream, unless a
/// limit refused it.
pub async fn start(scope: &Scope<'_>, request: &Request, options: CallOptions) -> Reply {
    let CallOptions { key, resumable, .. } = options;
    let call = match admit::check(scope, request, &options) {
        Ok(call) => call,
        Err(error) => {
            admit::count_refused(scope, request);
            return Reply::Stream {
                frames: run::refused(&request.id, &error),
                resumable: false,
            };
        }
    };
    let admission = match admit::admit(scope, &request.id, key.of(&request.id)).await {
        Ok(admission) => admission,
        Err(reply) => return reply,
    };
    Reply::Stream {
        frames: run::spawn(call, scope, admission),
        resumable,
    }
}
