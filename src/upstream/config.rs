//! The `[servers.<name>]` tables: the user's own MCP servers the daemon runs (a command on this
//! machine, spoken to over its stdio) or reaches (a Streamable HTTP `url`), with the checks of
//! their values.
//!
//! It lives beside the upstream connections because they are what read it. Every key an error
//! names is the full dotted one (`servers.git.command`): [`InvalidSetting::under`] places a
//! server's own keys under its table.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::paths;
use crate::setting::{self, InvalidSetting};

/// Longest server name: it is part of every tool name the server's tools get (`<server>__<tool>`).
pub const MAX_NAME_CHARS: usize = 64;

/// `[servers]`: every upstream server, by the name it was given. Empty by default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct ServersConfig(pub BTreeMap<String, ServerConfig>);

impl ServersConfig {
    /// Checks every server's name and table.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        for (name, server) in &self.0 {
            let table = format!("servers.{name}");
            check_name(name)?;
            server.validate().map_err(|err| err.under(&table))?;
        }
        Ok(())
    }

    /// The servers that are switched on, by name.
    pub fn enabled(&self) -> impl Iterator<Item = (&str, &ServerConfig)> {
        self.0
            .iter()
            .filter(|(_, server)| server.enabled)
            .map(|(name, server)| (name.as_str(), server))
    }
}

/// The key, relative to `[servers]`, of the table whose values are credentials when `path` (a
/// dotted key split at its dots) lies in it: `env` and `headers` carry tokens, so an error about
/// them must not quote the value.
pub fn secret_table(path: &[String]) -> Option<String> {
    match path {
        [servers, name, table, ..]
            if servers == "servers" && (table == "env" || table == "headers") =>
        {
            Some(format!("servers.{name}.{table}"))
        }
        _ => None,
    }
}

/// `[servers.<name>]`: one upstream MCP server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// The program of a stdio server (looked up in `PATH` when it has no `/`).
    pub command: Option<String>,
    /// Its arguments.
    pub args: Vec<String>,
    /// Environment variables it gets. Nothing else of the daemon's environment reaches it but
    /// `PATH`, `HOME` and the names in `inherit_env`.
    pub env: Secrets,
    /// Names of the daemon's environment variables it also gets, with their daemon's values.
    pub inherit_env: Vec<String>,
    /// The folder it starts in (a leading `~` is the home directory). Absent: the daemon's.
    pub cwd: Option<PathBuf>,
    /// The endpoint of a remote Streamable HTTP server (instead of `command`).
    pub url: Option<String>,
    /// HTTP headers sent with every request to `url` (e.g. `Authorization`).
    pub headers: Secrets,
    /// Whether the daemon starts it.
    pub enabled: bool,
    /// Which of its tools are offered.
    pub tools: ToolFilter,
    /// How its tools are named to the daemon's clients.
    pub prefix: Prefix,
    /// Whether one connection serves the whole daemon or each session has its own.
    pub scope: Scope,
    /// With `scope = "session"`: how many sessions may have their own connection to it at
    /// once; a session beyond that gets none (its tools are not listed, a call fails).
    pub max_sessions: usize,
    /// Longest it may take to start and answer the handshake and the first `tools/list`.
    #[serde(with = "humantime_serde")]
    pub start_timeout: Duration,
    /// Longest one call may take; then it is cancelled upstream and fails.
    #[serde(with = "humantime_serde")]
    pub call_timeout: Duration,
    /// Wait before the first restart after it exits or fails; doubled at each failure in a row.
    #[serde(with = "humantime_serde")]
    pub restart_backoff: Duration,
    /// Longest wait between two restarts.
    #[serde(with = "humantime_serde")]
    pub restart_backoff_max: Duration,
    /// Largest message it may send, in bytes (one line of its stdout); a larger one fails it.
    pub max_message_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            command: None,
            args: Vec::new(),
            env: Secrets::default(),
            inherit_env: Vec::new(),
            cwd: None,
            url: None,
            headers: Secrets::default(),
            enabled: true,
            tools: ToolFilter::default(),
            prefix: Prefix::Always,
            scope: Scope::Shared,
            max_sessions: 16,
            start_timeout: Duration::from_secs(30),
            call_timeout: Duration::from_secs(5 * 60),
            restart_backoff: Duration::from_secs(1),
            restart_backoff_max: Duration::from_secs(60),
            max_message_bytes: 4 * 1024 * 1024,
        }
    }
}

/// `tools.allow` / `tools.deny` of a server: exact tool names, as the server gives them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct ToolFilter {
    /// The only tools offered; empty offers all of them.
    pub allow: Vec<String>,
    /// Tools never offered.
    pub deny: Vec<String>,
}

impl ToolFilter {
    /// Whether the server's tool called `name` is offered.
    pub fn offers(&self, name: &str) -> bool {
        let listed = |names: &[String]| names.iter().any(|listed| listed == name);
        (self.allow.is_empty() || listed(&self.allow)) && !listed(&self.deny)
    }

    fn validate(&self) -> Result<(), InvalidSetting> {
        if self.allow.iter().chain(&self.deny).any(String::is_empty) {
            return Err(InvalidSetting::new("tools", "a tool name cannot be empty"));
        }
        if let Some(name) = self.allow.iter().find(|name| self.deny.contains(name)) {
            return Err(InvalidSetting::new(
                "tools.deny",
                format!("{name:?} is both allowed and denied"),
            ));
        }
        Ok(())
    }
}

/// How a server's tools are named to the daemon's clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prefix {
    /// `<server>__<tool>`, always.
    Always,
    /// The tool's own name; a name already taken is not offered.
    Never,
    /// The tool's own name, unless a built-in tool or another server's tool has it.
    OnCollision,
}

/// How many connections to a server there are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// One connection for the whole daemon, shared by every session.
    Shared,
    /// One connection per session, started in the session's folder.
    Session,
}

/// A table of names and secret values (`env`, `headers`): `Debug` shows the names only.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(transparent)]
pub struct Secrets(pub BTreeMap<String, String>);

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl ServerConfig {
    /// Whether a connection started with this configuration serves `other` as well: they differ
    /// at most in how the daemon shows the server (`prefix`) and how many sessions may have it
    /// (`max_sessions`), which no process or handshake depends on.
    pub fn runs_like(&self, other: &ServerConfig) -> bool {
        let shown_alike = ServerConfig {
            prefix: self.prefix,
            max_sessions: self.max_sessions,
            ..other.clone()
        };
        *self == shown_alike
    }

    /// Checks its keys, each error naming the key relative to the server's table.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        match (&self.command, &self.url) {
            (Some(command), None) => self.check_stdio(command)?,
            (None, Some(url)) => self.check_remote(url)?,
            (Some(_), Some(_)) => {
                return Err(InvalidSetting::new(
                    "url",
                    "set either command (a stdio server) or url (a remote server), not both",
                ));
            }
            (None, None) => {
                return Err(InvalidSetting::new(
                    "command",
                    "set command (a stdio server) or url (a remote Streamable HTTP server)",
                ));
            }
        }
        self.tools.validate()?;
        self.check_limits()
    }

    fn check_stdio(&self, command: &str) -> Result<(), InvalidSetting> {
        if command.trim().is_empty() {
            return Err(InvalidSetting::new("command", "cannot be empty"));
        }
        if !self.headers.0.is_empty() {
            return Err(InvalidSetting::new(
                "headers",
                "only a remote server (url) is sent headers",
            ));
        }
        check_variable_names("env", self.env.0.keys())?;
        check_variable_names("inherit_env", &self.inherit_env)?;
        if let Some(cwd) = &self.cwd {
            let cwd = paths::expand_home(cwd);
            if !cwd.is_absolute() || !cwd.is_dir() {
                return Err(InvalidSetting::new(
                    "cwd",
                    format!("{} is not an absolute path to a folder", cwd.display()),
                ));
            }
        }
        Ok(())
    }

    fn check_remote(&self, url: &str) -> Result<(), InvalidSetting> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|err| InvalidSetting::new("url", format!("{url:?} is not a URL: {err}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(InvalidSetting::new(
                "url",
                "must be an http:// or https:// URL",
            ));
        }
        let stdio_only = [
            ("args", self.args.is_empty()),
            ("env", self.env.0.is_empty()),
            ("inherit_env", self.inherit_env.is_empty()),
            ("cwd", self.cwd.is_none()),
        ];
        if let Some((key, _)) = stdio_only.iter().find(|(_, unset)| !unset) {
            return Err(InvalidSetting::new(
                key,
                "only a stdio server (command) has it; a remote server (url) cannot",
            ));
        }
        for (name, value) in &self.headers.0 {
            let valid = reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_ok()
                && reqwest::header::HeaderValue::from_str(value).is_ok();
            if !valid {
                return Err(InvalidSetting::new(
                    "headers",
                    format!("{name:?} is not a valid HTTP header name, or its value is not"),
                ));
            }
        }
        Ok(())
    }

    /// The wait before trying again after `failures` failures in a row (a restart of the
    /// server, or of its listen stream): `restart_backoff`, doubled each time, at most
    /// `restart_backoff_max`.
    pub fn backoff(&self, failures: u32) -> Duration {
        let (first, max) = (self.restart_backoff, self.restart_backoff_max);
        first
            .checked_mul(1 << failures.min(20))
            .map_or(max, |wait| wait.min(max))
    }

    fn check_limits(&self) -> Result<(), InvalidSetting> {
        setting::longer_than_zero("start_timeout", self.start_timeout)?;
        setting::longer_than_zero("call_timeout", self.call_timeout)?;
        setting::longer_than_zero("restart_backoff", self.restart_backoff)?;
        setting::longer_than_zero("restart_backoff_max", self.restart_backoff_max)?;
        setting::at_least_one("max_message_bytes", self.max_message_bytes)?;
        setting::at_least_one("max_sessions", self.max_sessions)?;
        if self.restart_backoff_max < self.restart_backoff {
            return Err(InvalidSetting::new(
                "restart_backoff_max",
                "must not be shorter than restart_backoff",
            ));
        }
        Ok(())
    }
}

/// A server name: 1 to [`MAX_NAME_CHARS`] ASCII letters, digits, `_` or `-`, so that it can
/// stand in tool names and log fields as it is.
fn check_name(name: &str) -> Result<(), InvalidSetting> {
    let fits = (1..=MAX_NAME_CHARS).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if fits {
        return Ok(());
    }
    Err(InvalidSetting::new(
        "servers",
        format!("{name:?} is not a server name: use 1 to {MAX_NAME_CHARS} letters, digits, _ or -"),
    ))
}

/// Environment variable names: not empty, no `=` and no NUL.
fn check_variable_names<'a>(
    key: &'static str,
    names: impl IntoIterator<Item = &'a String>,
) -> Result<(), InvalidSetting> {
    match names
        .into_iter()
        .find(|name| name.is_empty() || name.contains(['=', '\0']))
    {
        Some(name) => Err(InvalidSetting::new(
            key,
            format!("{name:?} is not an environment variable name"),
        )),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_bound() {
        let config = ServerConfig::default();
        let waits: Vec<u64> = (0..8).map(|n| config.backoff(n).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(config.backoff(u32::MAX), config.restart_backoff_max);
    }

    /// The `[servers]` tables of `text`, read and checked as the configuration does.
    fn from_toml(text: &str) -> Result<ServersConfig, InvalidSetting> {
        setting::read_section(text, "servers", ServersConfig::validate)
    }

    fn error(text: &str) -> String {
        from_toml(text).unwrap_err().to_string()
    }

    #[test]
    fn a_stdio_and_a_remote_server_with_their_defaults() {
        let servers = from_toml(
            "[servers.git]\ncommand = \"uvx\"\nargs = [\"mcp-server-git\"]\n\
             [servers.remote]\nurl = \"https://mcp.example.com/mcp\"\n\
             headers = { Authorization = \"Bearer abc\" }\n",
        )
        .unwrap();
        let git = &servers.0["git"];
        assert_eq!(git.command.as_deref(), Some("uvx"));
        assert!(git.enabled);
        assert_eq!(git.prefix, Prefix::Always);
        assert_eq!(git.scope, Scope::Shared);
        assert_eq!(git.call_timeout, Duration::from_secs(300));
        assert_eq!(git.max_message_bytes, 4 * 1024 * 1024);
        assert_eq!(servers.enabled().count(), 2);
        let shown = format!("{:?}", servers.0["remote"]);
        assert!(
            shown.contains("Authorization") && !shown.contains("abc"),
            "{shown}"
        );
    }

    #[test]
    fn exactly_one_of_command_and_url() {
        assert!(error("[servers.x]\nenabled = true\n").starts_with("servers.x.command:"));
        assert!(
            error("[servers.x]\ncommand = \"a\"\nurl = \"http://h/\"\n")
                .starts_with("servers.x.url:")
        );
        assert!(error("[servers.x]\ncommand = \" \"\n").starts_with("servers.x.command:"));
    }

    #[test]
    fn names_are_short_and_plain() {
        let long = "n".repeat(65);
        for name in ["\"a b\"", "\"a.b\"", "\"é\"", &long] {
            let err = error(&format!("[servers.{name}]\ncommand = \"a\"\n"));
            assert!(err.starts_with("servers:"), "{err}");
        }
        assert!(from_toml("[servers.My_server-2]\ncommand = \"a\"\n").is_ok());
    }

    #[test]
    fn each_kind_of_server_takes_only_its_own_keys() {
        for (text, key) in [
            ("url = \"http://h/\"\nargs = [\"x\"]", "servers.x.args:"),
            ("url = \"http://h/\"\ncwd = \"/\"", "servers.x.cwd:"),
            ("url = \"ftp://h/\"", "servers.x.url:"),
            ("url = \"not a url\"", "servers.x.url:"),
            (
                "url = \"http://h/\"\nheaders = { \"a b\" = \"c\" }",
                "servers.x.headers:",
            ),
            (
                "command = \"a\"\nheaders = { A = \"b\" }",
                "servers.x.headers:",
            ),
            (
                "command = \"a\"\nenv = { \"A=B\" = \"c\" }",
                "servers.x.env:",
            ),
            (
                "command = \"a\"\ninherit_env = [\"\"]",
                "servers.x.inherit_env:",
            ),
            ("command = \"a\"\ncwd = \"relative\"", "servers.x.cwd:"),
        ] {
            let err = error(&format!("[servers.x]\n{text}\n"));
            assert!(err.starts_with(key), "{text}: {err}");
        }
    }

    #[test]
    fn limits_and_lists_are_checked() {
        for (text, key) in [
            ("start_timeout = \"0s\"", "servers.x.start_timeout:"),
            ("call_timeout = \"0s\"", "servers.x.call_timeout:"),
            ("restart_backoff = \"0s\"", "servers.x.restart_backoff:"),
            (
                "restart_backoff_max = \"500ms\"",
                "servers.x.restart_backoff_max:",
            ),
            ("max_message_bytes = 0", "servers.x.max_message_bytes:"),
            (
                "tools = { allow = [\"a\"], deny = [\"a\"] }",
                "servers.x.tools.deny:",
            ),
            (
                "scope = \"session\"\nmax_sessions = 0",
                "servers.x.max_sessions:",
            ),
        ] {
            let err = error(&format!("[servers.x]\ncommand = \"a\"\n{text}\n"));
            assert!(err.starts_with(key), "{text}: {err}");
        }
    }

    #[test]
    fn a_session_scoped_server_with_its_bound() {
        let servers = from_toml(
            "[servers.fs]\ncommand = \"npx\"\nscope = \"session\"\nmax_sessions = 4\n\
             [servers.remote]\nurl = \"http://h/mcp\"\nscope = \"session\"\n",
        )
        .unwrap();
        assert_eq!(servers.0["fs"].scope, Scope::Session);
        assert_eq!(servers.0["fs"].max_sessions, 4);
        assert_eq!(servers.0["remote"].scope, Scope::Session);
        assert_eq!(servers.0["remote"].max_sessions, 16);
    }

    #[test]
    fn the_filter_allows_then_denies() {
        let all = ToolFilter::default();
        assert!(all.offers("anything"));
        let some = ToolFilter {
            allow: vec!["a".into(), "b".into()],
            deny: vec!["b".into()],
        };
        assert!(some.offers("a") && !some.offers("b") && !some.offers("c"));
    }

    #[test]
    fn env_and_headers_are_secret_tables() {
        let path = |key: &str| key.split('.').map(String::from).collect::<Vec<_>>();
        assert_eq!(
            secret_table(&path("servers.gh.env.GITHUB_TOKEN")).as_deref(),
            Some("servers.gh.env")
        );
        assert_eq!(
            secret_table(&path("servers.gh.headers")).as_deref(),
            Some("servers.gh.headers")
        );
        assert_eq!(secret_table(&path("servers.gh.args")), None);
    }
}
