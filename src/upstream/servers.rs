//! Every configured server's connection, started once with the daemon and shared by every
//! session: the daemon's one handle on its upstream servers.

use futures::future::join_all;

use super::config::ServersConfig;
use super::connection::{Status, Upstream};
use super::error::UpstreamError;

/// The enabled servers' connections, in name order.
#[derive(Clone, Default)]
pub struct Upstreams {
    servers: Vec<Upstream>,
}

impl Upstreams {
    /// Starts a connection to every enabled server of `config`, on the current tokio runtime.
    /// Returns at once: each server starts (or fails) on its own, blocking nothing.
    pub fn start(config: &ServersConfig) -> Self {
        let servers = config
            .enabled()
            .map(|(name, server)| Upstream::start(name, server.clone()))
            .collect();
        Self { servers }
    }

    /// Every server's status, asked of all at once (each ask bounded by `ASK_TIMEOUT`).
    pub async fn statuses(&self) -> Vec<Result<Status, UpstreamError>> {
        join_all(self.servers.iter().map(Upstream::status)).await
    }
}
