//! What the MCP layer hands back to the HTTP layer, which alone maps it onto statuses and bodies.

use futures::stream::LocalBoxStream;

/// One item of a streamed reply (a call's, or a listen stream's).
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A JSON-RPC message, as text; the final response is the last one.
    Message(String),
    /// The tool asked for the caller's connection to be closed while the call goes on.
    Reconnect,
}

/// The frames a caller reads for one call (or one listen stream).
pub type CallStream = LocalBoxStream<'static, Frame>;

/// The answer to one message.
pub enum Reply {
    /// A JSON-RPC response, as text (`200`).
    Json(String),
    /// Nothing but `202 Accepted` (notifications and client responses).
    Accepted,
    /// A stream of frames (`200`, SSE): a `tools/call`, or a `subscriptions/listen`.
    Stream {
        /// The frames.
        frames: CallStream,
        /// Whether the stream may outlive its connection and be resumed (2025-11-25 sessions).
        resumable: bool,
    },
    /// A request refused because a concurrency limit is reached.
    Busy(Busy),
    /// A JSON-RPC error whose HTTP status the specification fixes (modern era).
    Rejected {
        /// Which status.
        status: Rejection,
        /// The JSON-RPC error response, as text.
        body: String,
    },
}

/// Which limit refused a call; the text says so in one line.
pub enum Busy {
    /// The session's own limit (`429`).
    Session(String),
    /// A daemon-wide limit, or the session actor could not answer (`503`).
    Daemon(String),
}

/// The statuses revision 2026-07-28 prescribes for some JSON-RPC errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    /// Malformed `_meta`, header mismatch, unsupported version: `400`.
    BadRequest,
    /// Unknown method: `404`.
    NotFound,
}
