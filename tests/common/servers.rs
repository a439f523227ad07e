//! The real MCP servers tests put behind the daemon, installed by `tests/upstream/setup.sh`
//! under `target/upstream/`, and the script server that breaks on purpose
//! (`tests/upstream/broken_server.py`). A test that needs a server that is not installed fails,
//! saying how to install it, rather than pass without having run.

use std::path::{Path, PathBuf};

/// How to install the servers.
pub const SETUP: &str = "bash tests/upstream/setup.sh";

/// The crate's root, where `target/upstream/` lies.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `path` (relative to the crate root), which must exist: otherwise the servers were not
/// installed.
pub fn installed(path: &str) -> String {
    let full = root().join(path);
    assert!(
        full.exists(),
        "{} is missing: the upstream MCP servers are not installed; run `{SETUP}` from {} first",
        full.display(),
        root().display()
    );
    full.display().to_string()
}

/// The entry point of `@modelcontextprotocol/server-everything`, run by `node`.
pub fn everything_script() -> String {
    installed(
        "target/upstream/node/node_modules/@modelcontextprotocol/server-everything/dist/index.js",
    )
}

/// The entry point of `@modelcontextprotocol/server-filesystem`, run by `node`.
pub fn filesystem_script() -> String {
    installed(
        "target/upstream/node/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js",
    )
}

/// The `mcp-server-time` program (Python, in its venv).
pub fn time_server() -> String {
    installed("target/upstream/venv/bin/mcp-server-time")
}

/// The script server that breaks on purpose, run by the system's `python3` with its mode.
pub fn broken_script() -> PathBuf {
    root().join("tests/upstream/broken_server.py")
}
