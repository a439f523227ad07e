//! The real upstream MCP servers the `forwarded` and `processes` scenarios put behind the daemon,
//! as `tests/upstream/setup.sh` installs them under the workspace's `target/upstream/` (the same
//! ones the gateway tests use): server-everything (TypeScript, run by `node`) and
//! mcp-server-time (Python, in its venv).

use std::path::{Path, PathBuf};

use anyhow::bail;

/// How to install them.
pub const SETUP: &str = "bash tests/upstream/setup.sh";

/// Where each installed server is.
#[derive(Debug, Clone)]
pub struct Installed {
    /// `@modelcontextprotocol/server-everything`'s entry point, run by `node`.
    pub everything: PathBuf,
    /// The `mcp-server-time` program.
    pub time: PathBuf,
}

impl Installed {
    /// The installed servers, or why they cannot be used.
    pub fn find() -> anyhow::Result<Self> {
        let upstream = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/upstream");
        let installed = Self {
            everything: upstream
                .join("node/node_modules/@modelcontextprotocol/server-everything/dist/index.js"),
            time: upstream.join("venv/bin/mcp-server-time"),
        };
        for path in [&installed.everything, &installed.time] {
            if !path.is_file() {
                bail!(
                    "{} is missing: the upstream MCP servers are not installed (run `{SETUP}`)",
                    path.display()
                );
            }
        }
        Ok(installed)
    }
}
