//! The Model Context Protocol on top of JSON-RPC 2.0: message decoding, how each of the two
//! protocol eras answers a message (`era`), a `tools/call`'s admission and run (`call`), the
//! upstream servers' resources and prompts (`forward`) and resource subscriptions
//! (`subscribe`), what the daemon tells clients on its own (`changes`, sent on a 2025-11-25
//! session's `standalone` stream or a 2026-07-28 `listen` stream), and resumable streams
//! (`relay`). Nothing here knows about HTTP headers or statuses; what comes out
//! is a [`reply::Reply`], which `crate::http::mcp` maps onto the wire.

pub mod answers;
pub mod call;
pub mod changes;
pub mod client_info;
pub mod config;
pub mod era;
pub mod forward;
pub mod jsonrpc;
pub mod listen;
pub mod meta;
pub mod relay;
pub mod reply;
pub mod scope;
pub mod standalone;
pub mod subscribe;
pub mod version;
