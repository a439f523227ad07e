//! The daemon's configuration: one TOML file, environment overrides, command-line flags.
//!
//! Precedence, lowest first: built-in defaults, the file given with `--config`, environment
//! variables `CONSTRUCT_ACTOR_<SECTION>__<KEY>` (e.g. `CONSTRUCT_ACTOR_SERVER__PORT=7000`), then
//! `--bind`/`--port`. Unknown keys are errors, never silently ignored, and every error names the
//! key and the reason. The defaults are the safe ones: loopback, an ephemeral port, and only
//! tools that cannot touch anything outside the daemon.
//!
//! `config/construct-actor.toml` documents every key; keep the two in step.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::discovery::DiscoveryConfig;
use crate::http::config::{AdminConfig, MetricsConfig, SecurityConfig, ServerConfig};
use crate::logging::LogConfig;
use crate::mcp::config::McpConfig;
use crate::setting::{self, InvalidSetting};
use crate::tools::ToolsConfig;

/// The longest `cluster.timeout` accepted: authenticating a session another node created takes
/// two Redis calls, and both must fit in the one wait every handler allows an actor.
/// Two fifths each leaves a fifth for everything else.
const MAX_CLUSTER_TIMEOUT: Duration =
    Duration::from_millis(construct_actors::ASK_TIMEOUT.as_millis() as u64 * 2 / 5);

/// Prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "CONSTRUCT_ACTOR_";

/// Everything the daemon can be told.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where and how the HTTP server listens.
    pub server: ServerConfig,
    /// The discovery file through which CLIs find the daemon.
    pub discovery: DiscoveryConfig,
    /// Bounds on sessions and their followers.
    pub sessions: SessionsConfig,
    /// Which tools are offered.
    pub tools: ToolsConfig,
    /// Who may talk to the daemon.
    pub security: SecurityConfig,
    /// How standard MCP clients are served.
    pub mcp: McpConfig,
    /// `[cluster]`
    pub cluster: ClusterSection,
    /// The administrator: the dashboard and the list of sessions.
    pub admin: AdminConfig,
    /// `GET /metrics`.
    pub metrics: MetricsConfig,
    /// Diagnostics.
    pub log: LogConfig,
}

/// `[sessions]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionsConfig {
    /// The most sessions alive at once; creating one more is answered `503`.
    pub max_sessions: usize,
    /// Sessions one client address may create per minute; one more is answered `429`.
    pub create_per_minute: usize,
    /// A session with no request, no open events stream and no running call for this long ends.
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// The most events streams following one session; one more is answered `429`.
    pub max_subscribers: usize,
    /// Events that may wait for one slow follower before further ones are dropped for it (and
    /// counted, in an `event: lagged`).
    pub subscriber_queue: usize,
    /// Bytes of events that may wait for one slow follower, likewise: whichever of the two bounds
    /// is reached first drops.
    pub subscriber_queue_bytes: usize,
    /// Recent events each session keeps for followers resuming with `Last-Event-ID`.
    pub history: usize,
    /// Bytes of recent events each session keeps at most; the oldest go first, and a follower
    /// resuming before them is told how many it missed.
    pub history_bytes: usize,
    /// How soon a follower whose events stream broke should reconnect (the SSE `retry:` field).
    #[serde(with = "humantime_serde")]
    pub retry: Duration,
    /// Progress notifications that may wait for a slow `tools/call` reader before further ones
    /// are dropped for it (the final response is never dropped).
    pub call_queue: usize,
    /// How long a stream ticket (`POST /session/{id}/ticket`) stays good.
    #[serde(with = "humantime_serde")]
    pub ticket_ttl: Duration,
    /// Stream tickets outstanding at most, daemon-wide; one more is answered `503`.
    pub max_tickets: usize,
}

impl Default for SessionsConfig {
    fn default() -> Self {
        Self {
            max_sessions: 10_000,
            create_per_minute: 60,
            idle_timeout: Duration::from_secs(24 * 60 * 60),
            max_subscribers: 64,
            subscriber_queue: 256,
            subscriber_queue_bytes: 256 * 1024,
            history: 256,
            history_bytes: 256 * 1024,
            retry: Duration::from_secs(3),
            call_queue: 256,
            ticket_ttl: Duration::from_secs(30),
            max_tickets: 1024,
        }
    }
}

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
            .field("redis_url", &self.redis_url.as_ref().map(|_| ".."))
            .field("key_prefix", &self.key_prefix)
            .field("timeout", &self.timeout)
            .finish()
    }
}

/// A configuration that cannot be used, with the key at fault when there is one.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A key is unknown, or a value has the wrong type or form.
    #[error("{0}")]
    Parse(#[from] Box<figment::Error>),
    /// A value has the right type but cannot work.
    #[error(transparent)]
    Invalid(#[from] InvalidSetting),
}

/// Command-line values that override the file and the environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Overrides {
    /// `--bind`
    pub bind: Option<IpAddr>,
    /// `--port`
    pub port: Option<u16>,
}

impl Config {
    /// Loads defaults, then `file` (when given), then the environment, then `overrides`, and
    /// validates the result.
    pub fn load(file: Option<&Path>, overrides: Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = file {
            let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                path: path.to_owned(),
                source,
            })?;
            figment = figment.merge(Toml::string(&text));
        }
        // The client commands read CONSTRUCT_ACTOR_API_KEY and CONSTRUCT_ACTOR_ADMIN_TOKEN; they
        // are not configuration keys, and must not stop a daemon started from the same shell.
        figment = figment.merge(
            Env::prefixed(ENV_PREFIX)
                .ignore(&["api_key", "admin_token"])
                .split("__"),
        );
        let mut config: Config = figment.extract().map_err(redact)?;
        if let Some(bind) = overrides.bind {
            config.server.bind = bind;
        }
        if let Some(port) = overrides.port {
            config.server.port = port;
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks what types alone cannot: sizes that must be positive, tool names that must exist.
    /// Each section checks its own values; what ties two sections together is checked here.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.server.validate()?;
        self.sessions.validate()?;
        self.mcp.validate()?;
        self.cluster.validate()?;
        self.admin.validate()?;
        self.check_exposure()?;
        self.security.validate()?;
        self.check_owner_key_reaches_its_owner()?;
        self.metrics.validate()?;
        self.tools.validate()?;
        self.log.validate()?;
        Ok(())
    }

    /// A daemon listening beyond loopback must demand keys of its own: a generated owner key
    /// reaches only local clients, through the discovery file.
    fn check_exposure(&self) -> Result<(), InvalidSetting> {
        if !self.server.bind.is_loopback() && self.security.api_keys.is_empty() {
            return Err(InvalidSetting::new(
                "server.bind",
                format!(
                    "{} is not a loopback address: set security.api_keys before exposing the daemon",
                    self.server.bind
                ),
            ));
        }
        Ok(())
    }

    /// The generated owner key is handed out through the discovery file alone.
    fn check_owner_key_reaches_its_owner(&self) -> Result<(), InvalidSetting> {
        if self.generates_api_key() && !self.discovery.enabled {
            return Err(InvalidSetting::new(
                "discovery.enabled",
                "the generated owner key is only handed out through the discovery file: \
                 set security.api_keys, or security.require_api_key = false",
            ));
        }
        Ok(())
    }

    /// Whether the daemon makes up its own API key at start: it must demand one, and none is
    /// configured.
    pub fn generates_api_key(&self) -> bool {
        self.security.require_api_key && self.security.api_keys.is_empty()
    }
}

/// The keys whose values are credentials: an error about one names the key, never the value
/// (figment's own message quotes it, and error output ends up in logs and terminals).
const SECRET_KEYS: &[&str] = &[
    "security.api_keys",
    "admin.token",
    "metrics.token",
    "cluster.redis_url",
];

/// `err`, or, when it is about a secret, an error that does not show the value.
fn redact(err: figment::Error) -> ConfigError {
    let path = err.path.join(".");
    match SECRET_KEYS.iter().find(|key| path.starts_with(**key)) {
        Some(key) => ConfigError::Invalid(InvalidSetting::new(
            key,
            "has the wrong type or form (the value is not shown: it is a secret)",
        )),
        None => ConfigError::Parse(Box::new(err)),
    }
}

impl SessionsConfig {
    /// Checks the bounds and lifetimes that cannot be zero.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        setting::at_least_one("sessions.max_sessions", self.max_sessions)?;
        setting::at_least_one("sessions.create_per_minute", self.create_per_minute)?;
        setting::longer_than_zero("sessions.idle_timeout", self.idle_timeout)?;
        setting::at_least_one("sessions.max_subscribers", self.max_subscribers)?;
        setting::at_least_one("sessions.subscriber_queue", self.subscriber_queue)?;
        setting::at_least_one(
            "sessions.subscriber_queue_bytes",
            self.subscriber_queue_bytes,
        )?;
        setting::at_least_one("sessions.history", self.history)?;
        setting::at_least_one("sessions.history_bytes", self.history_bytes)?;
        setting::longer_than_zero("sessions.retry", self.retry)?;
        setting::at_least_one("sessions.call_queue", self.call_queue)?;
        setting::longer_than_zero("sessions.ticket_ttl", self.ticket_ttl)?;
        setting::at_least_one("sessions.max_tickets", self.max_tickets)
    }
}

impl ClusterSection {
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

    fn from_toml(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        Config::load(Some(&path), Overrides::default())
    }

    #[test]
    fn defaults_are_loopback_ephemeral_and_safe() {
        let config = Config::default();
        assert!(config.server.bind.is_loopback());
        assert_eq!(config.server.port, 0);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn the_example_config_is_valid_and_equals_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/construct-actor.toml");
        assert_eq!(
            Config::load(Some(&path), Overrides::default()).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let err = from_toml("[server]\nprot = 1\n").unwrap_err().to_string();
        assert!(err.contains("prot"), "{err}");
    }

    #[test]
    fn wrong_types_are_errors_naming_the_key() {
        let err = from_toml("[server]\nport = \"high\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("port"), "{err}");
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

    #[test]
    fn session_lifetimes_and_bounds_must_be_positive() {
        for (text, key) in [
            ("idle_timeout = \"0s\"", "sessions.idle_timeout"),
            ("retry = \"0ms\"", "sessions.retry"),
            ("history = 0", "sessions.history"),
            ("history_bytes = 0", "sessions.history_bytes"),
            (
                "subscriber_queue_bytes = 0",
                "sessions.subscriber_queue_bytes",
            ),
            ("create_per_minute = 0", "sessions.create_per_minute"),
        ] {
            let err = from_toml(&format!("[sessions]\n{text}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(key), "{err}");
        }
    }

    #[test]
    fn unusable_values_name_the_key() {
        let err = from_toml("[sessions]\nmax_sessions = 0\n")
            .unwrap_err()
            .to_string();
        assert_eq!(err, "sessions.max_sessions: must be at least 1");
        let err = from_toml("[tools]\nenabled = [\"rm\"]\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("tools.enabled: unknown tool \"rm\""),
            "{err}"
        );
    }

    #[test]
    fn a_non_loopback_bind_needs_api_keys() {
        let err = from_toml("[server]\nbind = \"0.0.0.0\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("server.bind:"), "{err}");
        let keyed = "[server]\nbind = \"0.0.0.0\"\n[security]\napi_keys = [\"0123456789abcdef\"]\n";
        assert!(from_toml(keyed).is_ok());
        let short = "[security]\napi_keys = [\"short\"]\n";
        assert!(
            from_toml(short)
                .unwrap_err()
                .to_string()
                .starts_with("security.api_keys")
        );
    }

    #[test]
    fn errors_about_secrets_never_show_the_value() {
        for text in [
            "[security]\napi_keys = \"SUPERSECRETKEY-0123456789\"\n",
            "[admin]\ntoken = [\"SUPERSECRETKEY-0123456789\"]\n",
            "[metrics]\ntoken = 12345678901234567\n",
            "[cluster]\nredis_url = [\"redis://:SUPERSECRETKEY@h/0\"]\n",
        ] {
            let err = from_toml(text).unwrap_err().to_string();
            assert!(
                !err.contains("SUPERSECRET") && !err.contains("1234567"),
                "{err}"
            );
            assert!(err.contains("not shown"), "{err}");
        }
    }

    #[test]
    fn a_missing_file_is_an_error() {
        let err =
            Config::load(Some(Path::new("/nonexistent/c.toml")), Overrides::default()).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/c.toml"));
    }
}
