//! Diagnostics through `tracing`, to standard error, as text or JSON per the configuration.
//! Standard output is kept for what the daemon tells its user (the URL it listens on).

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

use crate::config::{LogConfig, LogFormat};

/// Where actix-http reports requests it could not parse (at ERROR, one line per request).
const PARSE_ERRORS: &str = "actix_http::h1::dispatcher";

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
