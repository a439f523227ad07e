//! The user's own MCP servers behind the daemon (`[servers.<name>]`): configured once, started
//! once, shared by every session (or, `scope = "session"`, one per session, in its folder).
//!
//! A shared server has one connection ([`Upstream`]); a session-scoped one has one per session
//! that uses it (`session_servers` keeps them, `session_catalog` merges their tools with the
//! shared ones for that session). Each connection is owned by one task that holds the MCP
//! client (the official `rmcp` SDK, client role), the child process or HTTP client under it,
//! the server's state and tool list, and the map from the server's own progress tokens to the
//! callers'. `config` is its configuration; `process`, `lines` and `stdio` run a stdio server;
//! `link` opens a connection; `handler` takes what the server sends on its own, and answers its
//! `roots/list` with `roots`; `listen` keeps the `subscriptions/listen` stream on which a
//! 2026-07-28 server tells its changes; `call` carries one forwarded call, `forward` any forwarded
//! request; `lists` fetches a server's resources, templates and prompts; `names` gives each
//! upstream tool and prompt the name clients know it by, `resources` decides which server a
//! resource read (or subscription) goes to, `catalog` keeps every ready server's offer under
//! those names, `tool` runs one of its tools for a caller, and `subscriptions` keeps the
//! clients' resource subscriptions and relays the servers' updates to them. `fleet` owns the
//! shared connections and says which servers there are, as the configuration last loaded
//! (`crate::reload`) says; `list_changes` says when a list on offer changed; `maybe` waits on
//! work that may not be under way. `http_client` is a `url` server's HTTP client, which keeps its
//! TCP connections alive; `tool_answers` reads a stdio server's answers to tool calls.

mod ask;
mod call;
mod catalog;
pub mod config;
mod connection;
mod error;
mod fleet;
mod forward;
mod handler;
mod http_client;
mod in_order;
mod lines;
mod link;
mod list_changes;
mod listen;
mod lists;
mod maybe;
pub mod names;
mod pages;
pub mod process;
mod resources;
mod roots;
mod servers;
mod session_catalog;
mod session_servers;
mod stdio;
mod subscriptions;
mod tool;
mod tool_answers;

pub use ask::{AskResult, Caller};
pub use call::{CallResult, UpstreamNotice, UpstreamProgress};
pub use catalog::{Catalog, Listing};
pub use connection::{State, Status, Upstream};
pub use error::UpstreamError;
pub use fleet::Fleet;
pub use resources::Unsubscribable;
pub use servers::{ServerView, Upstreams};
pub use session_servers::SessionRef;
pub use subscriptions::{Key, PER_SUBSCRIBER, Refusal, Subscriber, Subscriptions};
pub use tool::UpstreamTool;
