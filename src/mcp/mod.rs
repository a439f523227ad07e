//! The Model Context Protocol on top of JSON-RPC 2.0: message decoding, method dispatch, the
//! `tools/call` runner and protocol-version negotiation. Nothing here knows about HTTP headers or
//! statuses; `crate::http::mcp` maps what comes out of here onto the wire.

pub mod call;
pub mod dispatch;
pub mod jsonrpc;
pub mod version;
