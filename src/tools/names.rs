//! The names of the built-in tools: every one, and those on when the configuration does not say.
//!
//! Kept apart from the tools themselves so that the configuration can check `tools.enabled`
//! against them without importing any tool.

/// Every tool the daemon knows, by name.
pub const ALL: &[&str] = &[
    "content_search",
    "echo",
    "file_edit",
    "file_read",
    "file_write",
    "glob_search",
    "http_request",
    "shell",
    "sleep",
];

/// The tools enabled when the configuration does not say: those confined to the workspace.
/// `shell` and `http_request` reach beyond it and must be enabled, with allow-lists, by hand.
pub const SAFE_BY_DEFAULT: &[&str] = &[
    "content_search",
    "echo",
    "file_edit",
    "file_read",
    "file_write",
    "glob_search",
    "sleep",
];
