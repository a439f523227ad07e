//! construct-actor: one local MCP backend of tools shared by many AI CLIs and dashboards.
//!
//! The session state lives in actors (the `construct-actors` crate); this crate is the daemon
//! around them: the command line and configuration, the HTTP endpoints, the MCP protocol layer,
//! and the tools. A request flows one way: `http` authenticates it with the session's actor,
//! `mcp` decides what the method means, `tools` does the work and reports progress back to the
//! session by message. `upstream` runs or reaches the user's own MCP servers, one connection each.

// No function over 80 lines (clippy.toml sets the limit; tests are other crates).
#![warn(clippy::too_many_lines)]

pub mod cli;
pub mod client;
pub mod cluster_config;
pub mod config;
pub mod config_file;
pub mod discovery;
pub mod headers;
pub mod http;
pub mod import;
pub mod logging;
pub mod mcp;
pub mod metrics_recorder;
pub mod paths;
pub mod process_group;
pub mod reload;
pub mod roots;
pub mod server;
pub mod sessions_config;
pub mod setting;
pub mod shutdown;
pub mod tools;
pub mod upstream;
