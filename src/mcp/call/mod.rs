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
pub mod options;
pub mod run;

use crate::mcp::jsonrpc::Request;
use crate::mcp::reply::Reply;
use crate::mcp::scope::Scope;
pub use options::{CallKey, CallOptions};

/// Checks, admits and starts a `tools/call` in `scope`: the reply is the call's stream, unless a
/// limit refused it.
pub async fn start(scope: &Scope<'_>, mut request: Request, options: CallOptions) -> Reply {
    let CallOptions { key, resumable, .. } = options;
    let call = match admit::check(scope, &mut request, &options) {
        Ok(call) => call,
        Err(error) => {
            admit::count_refused(scope, &request);
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
