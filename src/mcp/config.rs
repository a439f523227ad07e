//! The `[mcp]` section: how standard MCP clients are served (the default workspace, resumable
//! streams, listeners, `_meta` bounds, the unused-session timeout), with the checks of its values.
//!
//! It lives beside the protocol layer because the MCP endpoint and its streams are what read it.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::setting::{self, InvalidSetting};

/// `[mcp]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct McpConfig {
    /// The folder that sessions opened by `initialize`, and stateless requests without Construct
    /// credentials, work in. Absent: the daemon's working directory.
    pub default_workspace: Option<PathBuf>,
    /// How long a resumable `tools/call` whose connection dropped waits for its client to resume
    /// (`GET` with `Last-Event-ID`) before it is cancelled.
    #[serde(with = "humantime_serde")]
    pub resume_window: Duration,
    /// The `retry` hint sent on resumable streams: how soon clients should reconnect.
    #[serde(with = "humantime_serde")]
    pub retry: Duration,
    /// Open `subscriptions/listen` streams at most: in clients' own sessions together, and again
    /// in each API key's stateless session; one more is answered `503`.
    pub max_listeners: usize,
    /// Largest `params._meta` accepted, in bytes of JSON, on every method and path; larger is
    /// answered `-32602`.
    pub max_meta_bytes: usize,
    /// Largest `params._meta.progressToken` accepted, in bytes of JSON (a string's quotes
    /// included); larger is answered `-32602`. The token is copied into every progress event.
    pub max_progress_token_bytes: usize,
    /// Bytes of messages a resumable `tools/call` stream keeps for its client to resume from
    /// (besides `sessions.call_queue`, a count); the oldest go first, the final response never.
    pub resume_buffer_bytes: usize,
    /// How long a session opened by a standard client's `initialize` may go unused before its
    /// first `tools/call`; from that call on, `sessions.idle_timeout` applies. Clients that
    /// only look (a `mcp list` command, an inspector) and never send `DELETE` leave nothing
    /// behind for long.
    #[serde(with = "humantime_serde")]
    pub initialize_idle_timeout: Duration,
}

impl Default for McpConfig {
    fn default() -> Self {
        Self {
            default_workspace: None,
            resume_window: Duration::from_secs(60),
            retry: Duration::from_secs(1),
            max_listeners: 256,
            max_meta_bytes: 64 * 1024,
            max_progress_token_bytes: 1024,
            resume_buffer_bytes: 256 * 1024,
            initialize_idle_timeout: Duration::from_secs(5 * 60),
        }
    }
}

impl McpConfig {
    /// Checks the bounds that cannot be zero, and that the default workspace is a folder.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        setting::longer_than_zero("mcp.initialize_idle_timeout", self.initialize_idle_timeout)?;
        setting::at_least_one("mcp.max_listeners", self.max_listeners)?;
        setting::at_least_one("mcp.max_meta_bytes", self.max_meta_bytes)?;
        setting::at_least_one(
            "mcp.max_progress_token_bytes",
            self.max_progress_token_bytes,
        )?;
        setting::at_least_one("mcp.resume_buffer_bytes", self.resume_buffer_bytes)?;
        if let Some(dir) = &self.default_workspace
            && !dir.is_dir()
        {
            return Err(InvalidSetting::new(
                "mcp.default_workspace",
                format!("{} is not a folder", dir.display()),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `[mcp]` section of `text`, read and checked as the configuration does.
    fn from_toml(text: &str) -> Result<McpConfig, InvalidSetting> {
        setting::read_section(text, "mcp", McpConfig::validate)
    }

    #[test]
    fn the_unused_session_timeout_must_be_positive() {
        let err = from_toml("[mcp]\ninitialize_idle_timeout = \"0s\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("mcp.initialize_idle_timeout"), "{err}");
    }

    #[test]
    fn meta_and_resume_buffer_limits_must_be_positive() {
        for key in [
            "max_meta_bytes",
            "max_progress_token_bytes",
            "resume_buffer_bytes",
        ] {
            let err = from_toml(&format!("[mcp]\n{key} = 0\n"))
                .unwrap_err()
                .to_string();
            assert_eq!(err, format!("mcp.{key}: must be at least 1"));
        }
    }
}
