//! The user's own MCP servers behind the daemon (`[servers.<name>]`): configured once, started
//! once, shared by every session.
//!
//! Each server has one connection ([`Upstream`]), owned by one task that holds the MCP client
//! (the official `rmcp` SDK, client role), the child process or HTTP client under it, the
//! server's state and tool list, and the map from the server's own progress tokens to the
//! callers'. `config` is its configuration; `process`, `lines` and `stdio` run a stdio server;
//! `link` opens a connection; `handler` takes what the server sends on its own; `call` carries
//! one forwarded call; `names` gives each upstream tool the name clients call it by, `catalog`
//! keeps every ready server's tools under those names, and `tool` runs one of them for a caller.

mod ask;
mod call;
mod catalog;
pub mod config;
mod connection;
mod error;
mod handler;
mod in_order;
mod lines;
mod link;
pub mod names;
pub mod process;
mod servers;
mod stdio;
mod tool;

pub use ask::{AskResult, Caller};
pub use call::{CallResult, UpstreamNotice, UpstreamProgress};
pub use catalog::Catalog;
pub use connection::{State, Status, Upstream};
pub use error::UpstreamError;
pub use servers::Upstreams;
pub use tool::UpstreamTool;
