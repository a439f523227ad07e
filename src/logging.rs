//! Diagnostics through `tracing`, to standard error, as text or JSON per the configuration.
//! Standard output is kept for what the daemon tells its user (the URL it listens on). The `[log]`
//! section is here, beside the one place that reads it.

use std::io::IsTerminal as _;

use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;

use crate::setting::InvalidSetting;

/// Where actix-http reports requests it could not parse (at ERROR, one line per request).
const PARSE_ERRORS: &str = "actix_http::h1::dispatcher";

/// `[log]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A `tracing` filter: `info`, `debug`, or per-module like `construct_actor=debug,warn`.
    pub level: String,
    /// `text` for people, `json` for log collectors.
    pub format: LogFormat,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Text,
        }
    }
}

impl LogConfig {
    /// Checks that the level is a filter `tracing` understands.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        EnvFilter::try_new(&self.level)
            .map(drop)
            .map_err(|err| InvalidSetting::new("log.level", err.to_string()))
    }
}

/// How log lines are written (to standard error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber. The level was validated with the configuration.
///
/// A request the HTTP parser cannot read is the client's fault and is answered `400`; logging
/// each one at ERROR would let anyone who can connect flood the log. Those lines are off unless
/// the configured filter names actix-http itself.
pub fn init(config: &LogConfig) {
    let mut filter = EnvFilter::try_new(&config.level).unwrap_or_else(|_| EnvFilter::new("info"));
    if !config.level.contains("actix_http") {
        filter = filter.add_directive(
            format!("{PARSE_ERRORS}=off")
                .parse()
                .expect("a valid directive"),
        );
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colours for a person at a terminal; plain text for files, pipes and journals.
        .with_ansi(std::io::stderr().is_terminal());
    match config.format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}
