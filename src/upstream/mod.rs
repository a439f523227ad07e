//! The user's own MCP servers behind the daemon (`[servers.<name>]`): configured once, started
//! once, shared by every session.
//!
//! Each server has one connection, owned by one task that holds the MCP client (the official
//! `rmcp` SDK, client role), the child process or HTTP client under it, the server's state and
//! tool list, and the map from the server's own request ids and progress tokens to the callers'.

pub mod config;
mod lines;
pub mod process;
pub mod stdio;
