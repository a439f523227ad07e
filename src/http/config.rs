//! The HTTP face's sections: `[server]` (where and how it listens), `[security]` (who may
//! create sessions, from which origins and hosts), `[admin]` (the administrator's token) and
//! `[metrics]` (`GET /metrics`), with the checks of their values.
//!
//! They live beside the endpoints because the endpoints and their fence are what read them.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::setting::{self, InvalidSetting};

/// `[server]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on; loopback unless you mean to expose the daemon.
    pub bind: IpAddr,
    /// Port to listen on; 0 lets the OS pick a free one (the discovery file tells clients).
    pub port: u16,
    /// Largest request body accepted; larger ones get `413`.
    pub max_body_bytes: usize,
    /// How often idle event streams get a keep-alive comment.
    #[serde(with = "humantime_serde")]
    pub keep_alive: Duration,
    /// On SIGINT/SIGTERM, how long running calls may take to finish before the daemon exits; a
    /// call still running then ends with a `-32603` error saying so.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            max_body_bytes: 1024 * 1024,
            keep_alive: Duration::from_secs(15),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl ServerConfig {
    /// Checks the sizes and durations that cannot be zero.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        setting::at_least_one("server.max_body_bytes", self.max_body_bytes)?;
        setting::longer_than_zero("server.keep_alive", self.keep_alive)
    }
}

/// `[security]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecurityConfig {
    /// Origins (e.g. `https://dash.example`) allowed besides the daemon's own loopback origin;
    /// a request with any other `Origin` header is refused with `403`.
    pub allowed_origins: Vec<String>,
    /// `Host` values (e.g. `devbox:7000`) allowed besides the loopback address and port the
    /// daemon listens on; on a non-loopback bind, when set, only these are allowed.
    pub allowed_hosts: Vec<String>,
    /// API keys. When set, creating a session (`POST /session` or `initialize`) and every
    /// stateless (2026-era) request need `Authorization: Bearer <key>`. Required when
    /// `server.bind` is not a loopback address.
    pub api_keys: Vec<String>,
    /// With no `api_keys`, whether the daemon still demands a key: one it generates at each
    /// start and writes, as `api_key`, into the owner-only discovery file, so that only the
    /// user it runs as (whose CLIs read that file) can use it. `false` lets any local process
    /// create sessions without a key, as the original Construct daemon did: only for launchers
    /// that cannot send one, on a machine no one else uses.
    pub require_api_key: bool,
}

impl Default for SecurityConfig {
    fn default() -> Self {
        Self {
            allowed_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            api_keys: Vec::new(),
            require_api_key: true,
        }
    }
}

impl SecurityConfig {
    /// Whether the daemon makes up its own API key at start: it must demand one, and none is
    /// configured.
    pub fn generates_api_key(&self) -> bool {
        self.require_api_key && self.api_keys.is_empty()
    }

    /// Checks that every configured API key is a usable secret.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        setting::secrets("security.api_keys", &self.api_keys)
    }
}

/// `[admin]`
#[derive(Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct AdminConfig {
    /// The admin token (at least 16 characters): `Authorization: Bearer <token>` for
    /// `GET /admin/sessions`, and what the dashboard asks for. Absent: the daemon generates one
    /// at start and prints it once, on the second line of its standard output.
    pub token: Option<String>,
}

impl std::fmt::Debug for AdminConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminConfig")
            .field("token", &setting::hidden(&self.token))
            .finish()
    }
}

impl AdminConfig {
    /// Checks that a configured token is a usable secret.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        setting::secrets("admin.token", &self.token)
    }
}

/// `[metrics]`
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// Whether `GET /metrics` serves the Prometheus text format (and the daemon counts at all);
    /// when off it answers `404`.
    pub enabled: bool,
    /// When set (at least 16 characters), `GET /metrics` needs `Authorization: Bearer <token>`.
    /// Absent: no credentials, like `/health`.
    pub token: Option<String>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            token: None,
        }
    }
}

impl std::fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsConfig")
            .field("enabled", &self.enabled)
            .field("token", &setting::hidden(&self.token))
            .finish()
    }
}

impl MetricsConfig {
    /// Checks that a configured token is a usable secret.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        setting::secrets("metrics.token", &self.token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(text: &str) -> Result<ServerConfig, InvalidSetting> {
        setting::read_section(text, "server", ServerConfig::validate)
    }

    fn admin(text: &str) -> Result<AdminConfig, InvalidSetting> {
        setting::read_section(text, "admin", AdminConfig::validate)
    }

    fn metrics(text: &str) -> Result<MetricsConfig, InvalidSetting> {
        setting::read_section(text, "metrics", MetricsConfig::validate)
    }

    #[test]
    fn durations_read_as_text() {
        let config = server("[server]\nkeep_alive = \"2s\"\n").unwrap();
        assert_eq!(config.keep_alive, Duration::from_secs(2));
    }

    #[test]
    fn the_admin_token_is_optional_and_must_be_long_enough() {
        assert_eq!(AdminConfig::default().token, None);
        let config = admin("[admin]\ntoken = \"0123456789abcdef\"\n").unwrap();
        assert_eq!(config.token.as_deref(), Some("0123456789abcdef"));
        assert!(!format!("{config:?}").contains("0123456789abcdef"));
        for bad in ["short", "0123456789 abcdef"] {
            let err = admin(&format!("[admin]\ntoken = {bad:?}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("admin.token:"), "{err}");
        }
    }

    #[test]
    fn metrics_are_on_without_a_token_by_default_and_can_be_locked_or_off() {
        let config = MetricsConfig::default();
        assert!(config.enabled);
        assert_eq!(config.token, None);
        let locked = metrics("[metrics]\ntoken = \"0123456789abcdef\"\n").unwrap();
        assert_eq!(locked.token.as_deref(), Some("0123456789abcdef"));
        assert!(!format!("{locked:?}").contains("0123456789abcdef"));
        let off = metrics("[metrics]\nenabled = false\n").unwrap();
        assert!(!off.enabled);
        let err = metrics("[metrics]\ntoken = \"short\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("metrics.token:"), "{err}");
    }
}
