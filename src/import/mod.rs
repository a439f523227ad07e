//! `construct-actor import <cli>`: moving the MCP servers a person configured in an AI CLI
//! (Claude Code, Codex, Gemini CLI, OpenCode) into the daemon's `[servers.<name>]` tables, so
//! that the daemon runs them once for every CLI. One reader per CLI turns its files into
//! [`server::Found`] servers; [`plan`] makes each a daemon server; [`tables`] writes them.

pub mod claude;
pub mod codex;
pub mod gemini;
pub mod jsonc;
pub mod opencode;
pub mod plan;
pub mod run;
pub mod server;
pub mod tables;
pub mod toml_file;
pub mod vars;
