//! The daemon as a gateway: `[servers.<name>]` tables added to its generated configuration, and
//! waiting (bounded) until it offers those servers' tools, as the scenarios that forward calls
//! to upstream MCP servers need before they measure anything.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::bail;
use bytes::Bytes;

use crate::client::{self, Conn};
use crate::daemon_config::DaemonConfig;
use crate::servers::Server;

/// Longest the daemon's upstream servers may take to start and list their tools (node and
/// Python servers start in about a second; a loaded machine is slower).
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// `[servers.<name>]` started as a child over stdio: `command` with `args`.
pub fn add_stdio_server(config: &mut DaemonConfig, name: &str, command: &Path, args: &[&Path]) {
    let args: Vec<String> = args.iter().map(|arg| format!("{arg:?}")).collect();
    config.set(&format!("servers.{name}.command"), &format!("{command:?}"));
    config.set(
        &format!("servers.{name}.args"),
        &format!("[{}]", args.join(", ")),
    );
}

/// `[servers.<name>]` reached over Streamable HTTP at `url`.
pub fn add_url_server(config: &mut DaemonConfig, name: &str, url: &str) {
    config.set(&format!("servers.{name}.url"), &format!("{url:?}"));
}

/// Waits until `tools/list` on `daemon` names every tool of `names`.
pub async fn wait_for_tools(daemon: &Server, names: &[&str]) -> anyhow::Result<()> {
    let mut conn = Conn::connect(daemon.addr).await?;
    let creds = conn.initialize().await?;
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let request = conn.standard_mcp(&creds, Bytes::from_static(list.as_bytes()))?;
        let (_, body) = conn.exchange(request).await?;
        let missing: Vec<&str> = names
            .iter()
            .copied()
            .filter(|name| !client::contains(&body, format!("\"name\":\"{name}\"").as_bytes()))
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "the daemon did not offer {missing:?} within {READY_TIMEOUT:?}; log tail:\n{}",
                daemon.log_tail()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
