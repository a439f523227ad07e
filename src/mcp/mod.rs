//! The Model Context Protocol on top of JSON-RPC 2.0: message decoding, the two protocol eras'
//! method dispatch, the `tools/call` runner and resumable streams. Nothing here knows about HTTP
//! headers or statuses; `crate::http::mcp` maps what comes out of here onto the wire.

pub mod call;
pub mod client_info;
pub mod config;
pub mod era;
pub mod jsonrpc;
pub mod meta;
pub mod relay;
pub mod reply;
pub mod scope;
pub mod version;
