//! The daemon's configuration: one TOML file, environment overrides, command-line flags.
//!
//! Precedence, lowest first: built-in defaults, the file given with `--config`, environment
//! variables `CONSTRUCT_ACTOR_<SECTION>__<KEY>` (e.g. `CONSTRUCT_ACTOR_SERVER__PORT=7000`), then
//! `--bind`/`--port`. Unknown keys are errors, never silently ignored, and every error names the
//! key and the reason. The defaults are the safe ones: loopback, an ephemeral port, and only
//! tools that cannot touch anything outside the daemon.
//!
//! Each section is defined, with its defaults and the checks of its values, beside the part that
//! reads it (`tools::config`, `http::config`, `mcp::config`, `discovery`, `logging`, …): this
//! module only assembles them, loads them, checks what ties two sections together, and reports
//! what cannot be used. `config/construct-actor.toml` documents every key; keep the two in step.

use std::net::IpAddr;
use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

use crate::cluster_config::ClusterSection;
use crate::config_file::{self, FileError};
use crate::discovery::DiscoveryConfig;
use crate::http::config::{AdminConfig, MetricsConfig, SecurityConfig, ServerConfig};
use crate::logging::LogConfig;
use crate::mcp::config::McpConfig;
use crate::sessions_config::SessionsConfig;
use crate::setting::InvalidSetting;
use crate::tools::ToolsConfig;
use crate::upstream::config::{self as upstream_config, ServersConfig};

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
    /// Several daemons sharing sessions and events through one Redis.
    pub cluster: ClusterSection,
    /// The administrator: the dashboard and the list of sessions.
    pub admin: AdminConfig,
    /// `GET /metrics`.
    pub metrics: MetricsConfig,
    /// Diagnostics.
    pub log: LogConfig,
    /// The user's own MCP servers, run or reached by the daemon, by name.
    pub servers: ServersConfig,
}

/// A configuration that cannot be used, with the key at fault when there is one.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read, or is not one the daemon may take orders from.
    #[error(transparent)]
    File(#[from] FileError),
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
            let text = config_file::read(path)?;
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
        self.servers.validate()?;
        Ok(())
    }

    /// The sections, other than `[servers]`, in which `other` differs from this: what a reload
    /// cannot apply (they are read once, at start).
    pub fn sections_changed_besides_servers(&self, other: &Config) -> Vec<&'static str> {
        [
            ("server", self.server != other.server),
            ("discovery", self.discovery != other.discovery),
            ("sessions", self.sessions != other.sessions),
            ("tools", self.tools != other.tools),
            ("security", self.security != other.security),
            ("mcp", self.mcp != other.mcp),
            ("cluster", self.cluster != other.cluster),
            ("admin", self.admin != other.admin),
            ("metrics", self.metrics != other.metrics),
            ("log", self.log != other.log),
        ]
        .into_iter()
        .filter_map(|(section, changed)| changed.then_some(section))
        .collect()
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
        if self.security.generates_api_key() && !self.discovery.enabled {
            return Err(InvalidSetting::new(
                "discovery.enabled",
                "the generated owner key is only handed out through the discovery file: \
                 set security.api_keys, or security.require_api_key = false",
            ));
        }
        Ok(())
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

/// What an error about a secret says instead of figment's message, which quotes the value.
const SECRET_NOT_SHOWN: &str =
    "has the wrong type or form (the value is not shown: it is a secret)";

/// `err`, or, when it is about a secret, an error that does not show the value.
fn redact(err: figment::Error) -> ConfigError {
    let path = err.path.join(".");
    if let Some(key) = SECRET_KEYS.iter().find(|key| path.starts_with(**key)) {
        return ConfigError::Invalid(InvalidSetting::new(key, SECRET_NOT_SHOWN));
    }
    match upstream_config::secret_table(&err.path) {
        Some(table) => ConfigError::Invalid(InvalidSetting {
            key: table.into(),
            reason: SECRET_NOT_SHOWN.into(),
        }),
        None => ConfigError::Parse(Box::new(err)),
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
            "[servers.gh]\ncommand = \"a\"\nenv = { TOKEN = [\"SUPERSECRETKEY\"] }\n",
            "[servers.gh]\nurl = \"http://h/\"\nheaders = { A = 12345678901234567 }\n",
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
