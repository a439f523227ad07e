//! The command-line clients of a running daemon: `connect` points an AI CLI at it, `tail`
//! follows one session's progress in the terminal, `sessions` lists every session (admin).
//!
//! They find the daemon the way every CLI on the machine does, through the discovery file
//! (`~/.construct/mcp.json`), and speak to it over plain HTTP like any other client: nothing here
//! reaches into the daemon's internals.

pub mod claude;
pub mod config_file;
pub mod connect;
pub mod daemon;
pub mod entry;
pub mod files;
pub mod gemini;
pub mod json;
pub mod sessions;
pub mod tail;
pub mod text;
