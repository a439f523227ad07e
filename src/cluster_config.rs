//! The `[cluster]` section: the Redis several daemons share sessions and events through, the
//! prefix of their keys, and how long one Redis call may take, with the checks of its values.
//!
//! The daemon reads it once, at start, to connect the session core's shared store
//! ([`construct_actors::cluster`]); absent a `redis_url`, sessions stay in this daemon's memory.

use std::time::Duration;

use construct_actors::cluster::ClusterConfig;
use serde::{Deserialize, Serialize};

use crate::setting::{self, InvalidSetting};

/// The longest `cluster.timeout` accepted: authenticating a session another node created takes
/// two Redis calls, and both must fit in the one wait every handler allows an actor.
/// Two fifths each leaves a fifth for everything else.
const MAX_CLUSTER_TIMEOUT: Duration =
    Duration::from_millis(construct_actors::ASK_TIMEOUT.as_millis() as u64 * 2 / 5);

/// `[cluster]`: several daemons sharing sessions and events through one Redis.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterSection {
    /// The Redis every node of the cluster uses, e.g. `redis://127.0.0.1:6379/0`. Absent: this
    /// daemon keeps its sessions to itself, in memory (the default; nothing to install).
    pub redis_url: Option<String>,
    /// Prepended to every key the daemon writes, so that several clusters can share one Redis.
    pub key_prefix: String,
    /// The longest any one Redis call may take before the request needing it is answered `503`.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for ClusterSection {
    fn default() -> Self {
        Self {
            redis_url: None,
            key_prefix: construct_actors::cluster::DEFAULT_PREFIX.to_owned(),
            timeout: construct_actors::cluster::DEFAULT_TIMEOUT,
        }
    }
}

/// Leaves the URL out: it may carry a password.
impl std::fmt::Debug for ClusterSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterSection")
            .field("redis_url", &setting::hidden(&self.redis_url))
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl ClusterSection {
    /// How to reach the Redis at `url` (this section's `redis_url`) with this section's prefix
    /// and timeout.
    pub fn store_config(&self, url: &str) -> ClusterConfig {
        ClusterConfig {
            url: url.to_owned(),
            prefix: self.key_prefix.clone(),
            timeout: self.timeout,
        }
    }

    /// Checks that every Redis call fits in the wait for an actor, and that keys have a prefix.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        setting::longer_than_zero("cluster.timeout", self.timeout)?;
        if self.timeout > MAX_CLUSTER_TIMEOUT {
            return Err(InvalidSetting::new(
                "cluster.timeout",
                format!(
                    "must be at most {MAX_CLUSTER_TIMEOUT:?}, so that a request's two Redis calls \
                     fit in the {:?} it waits for an answer",
                    construct_actors::ASK_TIMEOUT,
                ),
            ));
        }
        if self.key_prefix.is_empty() {
            return Err(InvalidSetting::new(
                "cluster.key_prefix",
                "must not be empty",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `[cluster]` section of `text`, read and checked as the configuration does.
    fn from_toml(text: &str) -> Result<ClusterSection, InvalidSetting> {
        setting::read_section(text, "cluster", ClusterSection::validate)
    }

    #[test]
    fn cluster_settings_are_checked() {
        let err = from_toml("[cluster]\ntimeout = \"0s\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cluster.timeout"), "{err}");
        let err = from_toml("[cluster]\ntimeout = \"3s\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("at most 2s"), "{err}");
        let err = from_toml("[cluster]\nkey_prefix = \"\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("cluster.key_prefix"), "{err}");
        let config = from_toml("[cluster]\nredis_url = \"redis://:secret@h:1/0\"\n").unwrap();
        assert!(!format!("{config:?}").contains("secret"));
    }
}
