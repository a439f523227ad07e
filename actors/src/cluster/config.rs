//! Where the cluster store lives and how long any one call to it may take.

use std::time::Duration;

/// The key prefix used when none is configured.
pub const DEFAULT_PREFIX: &str = "construct";

/// How long a call to Redis may take when no timeout is configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);

/// How to reach the cluster store.
#[derive(Clone)]
pub struct ClusterConfig {
    /// A Redis URL, e.g. `redis://127.0.0.1:6379/0` or `redis://:password@host:6379`.
    pub url: String,
    /// Prepended to every key, so that several clusters (or other programs) can share one Redis.
    pub prefix: String,
    /// The longest any one store call may take, connecting included, before it gives up with
    /// [`StoreError::Unavailable`](super::StoreError::Unavailable).
    pub timeout: Duration,
}

impl ClusterConfig {
    /// The store at `url`, with [`DEFAULT_PREFIX`] and [`DEFAULT_TIMEOUT`].
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            prefix: DEFAULT_PREFIX.to_owned(),
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// Leaves the URL out: it may carry a password.
impl std::fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("url", &"..")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}
