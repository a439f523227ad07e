//! The `[tools]` section: which tools are offered, where sessions may work, how many calls may
//! run, and each tool's own table (`[tools.files]`, `[tools.search]`, `[tools.shell]`,
//! `[tools.http_request]`), with the checks of their values.
//!
//! It lives beside the tools because the tools are what read it: each tool is built from its
//! table, and which names may be enabled is the tools' own list.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::names::{ALL, SAFE_BY_DEFAULT};
use crate::paths;
use crate::setting::{self, InvalidSetting};

/// `[tools]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ToolsConfig {
    /// Names of the tools offered by `tools/list` and callable by `tools/call`.
    pub enabled: Vec<String>,
    /// Folders sessions may work in (a leading `~` is the home directory): a session whose
    /// `cwd` lies outside every root is refused. Default: the daemon user's home.
    pub workspace_roots: Vec<PathBuf>,
    /// Whether a call may touch only its session's `cwd` (the default) or anything inside the
    /// `workspace_roots`.
    pub confine_to_cwd: bool,
    /// Adds the test-fixture tools (`test_*`) used by the MCP conformance suite and the tests.
    pub fixtures: bool,
    /// Tool calls running at once in the whole daemon; one more is answered `503`.
    pub max_concurrent_calls: usize,
    /// Tool calls running at once in one session; one more is answered `429`.
    pub max_calls_per_session: usize,
    /// `file_read`, `file_write`, `file_edit`.
    pub files: FilesConfig,
    /// `glob_search`, `content_search`.
    pub search: SearchConfig,
    /// `shell`.
    pub shell: ShellConfig,
    /// `http_request`.
    pub http_request: HttpRequestConfig,
}

impl Default for ToolsConfig {
    fn default() -> Self {
        Self {
            enabled: SAFE_BY_DEFAULT.iter().map(|s| s.to_string()).collect(),
            workspace_roots: vec![PathBuf::from("~")],
            confine_to_cwd: true,
            fixtures: false,
            max_concurrent_calls: 64,
            max_calls_per_session: 16,
            files: FilesConfig::default(),
            search: SearchConfig::default(),
            shell: ShellConfig::default(),
            http_request: HttpRequestConfig::default(),
        }
    }
}

impl ToolsConfig {
    /// Checks the limits, the workspace roots, the allow-lists the enabled tools need, and that
    /// every enabled tool exists.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        setting::at_least_one("tools.max_concurrent_calls", self.max_concurrent_calls)?;
        setting::at_least_one("tools.max_calls_per_session", self.max_calls_per_session)?;
        self.files.validate()?;
        self.search.validate()?;
        self.check_workspace_roots()?;
        self.shell.validate(self.enables("shell"))?;
        self.http_request.validate(self.enables("http_request"))?;
        self.check_names()
    }

    /// Whether the tool called `name` is enabled.
    fn enables(&self, name: &str) -> bool {
        self.enabled.iter().any(|enabled| enabled == name)
    }

    fn check_workspace_roots(&self) -> Result<(), InvalidSetting> {
        if self.workspace_roots.is_empty() {
            return Err(InvalidSetting::new(
                "tools.workspace_roots",
                "list at least one folder sessions may work in (e.g. \"~\")",
            ));
        }
        for root in &self.workspace_roots {
            let root = paths::expand_home(root);
            if !root.is_absolute() || !root.is_dir() {
                return Err(InvalidSetting::new(
                    "tools.workspace_roots",
                    format!("{} is not an absolute path to a folder", root.display()),
                ));
            }
        }
        Ok(())
    }

    fn check_names(&self) -> Result<(), InvalidSetting> {
        match self
            .enabled
            .iter()
            .find(|name| !ALL.contains(&name.as_str()))
        {
            Some(name) => Err(InvalidSetting::new(
                "tools.enabled",
                format!("unknown tool {name:?} (known: {})", ALL.join(", ")),
            )),
            None => Ok(()),
        }
    }
}

/// `[tools.files]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FilesConfig {
    /// Largest file (or line range) `file_read` returns; larger reads are refused. Also the
    /// largest file `file_edit` edits, and the largest it may make by an edit.
    pub max_read_bytes: u64,
}

impl Default for FilesConfig {
    fn default() -> Self {
        Self {
            max_read_bytes: 256 * 1024,
        }
    }
}

impl FilesConfig {
    /// Checks that a read may return something.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        setting::at_least_one("tools.files.max_read_bytes", self.max_read_bytes)
    }
}

/// `[tools.search]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SearchConfig {
    /// Most results a search returns, whatever the caller asks.
    pub max_results: usize,
    /// Most bytes of text a search's result holds; results beyond it are cut, saying so.
    pub max_output_bytes: usize,
    /// Largest compiled form of a `content_search` pattern, in bytes; a pattern beyond it is
    /// refused. Compiling costs time and memory in proportion, so this bounds both.
    pub regex_size_limit: usize,
}

/// The largest `tools.search.regex_size_limit` accepted: compiling up to it stays well under a
/// second.
pub const MAX_REGEX_SIZE_LIMIT: usize = 64 * 1024 * 1024;

impl Default for SearchConfig {
    fn default() -> Self {
        Self {
            max_results: 1000,
            max_output_bytes: 256 * 1024,
            regex_size_limit: 4 * 1024 * 1024,
        }
    }
}

impl SearchConfig {
    /// Checks the caps: none zero, and patterns that compile in well under a second.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        setting::at_least_one("tools.search.max_results", self.max_results)?;
        setting::at_least_one("tools.search.max_output_bytes", self.max_output_bytes)?;
        setting::at_least_one("tools.search.regex_size_limit", self.regex_size_limit)?;
        if self.regex_size_limit > MAX_REGEX_SIZE_LIMIT {
            return Err(InvalidSetting::new(
                "tools.search.regex_size_limit",
                format!("must be at most {MAX_REGEX_SIZE_LIMIT} (64 MiB)"),
            ));
        }
        Ok(())
    }
}

/// `[tools.shell]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ShellConfig {
    /// Programs `shell` may run. `["*"]` allows any command line through `sh -c`; otherwise the
    /// command is split into words and run without a shell (no pipes, no `;`), and its program
    /// must be listed here. Must be set when `shell` is enabled.
    pub allow: Vec<String>,
    /// Timeout when the call gives none.
    #[serde(with = "humantime_serde")]
    pub default_timeout: Duration,
    /// Longest timeout a call may ask for.
    #[serde(with = "humantime_serde")]
    pub max_timeout: Duration,
    /// Output kept per stream (stdout, stderr); the rest is counted, not kept.
    pub max_output_bytes: usize,
}

impl Default for ShellConfig {
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            default_timeout: Duration::from_secs(60),
            max_timeout: Duration::from_secs(600),
            max_output_bytes: 1024 * 1024,
        }
    }
}

impl ShellConfig {
    /// Checks the output cap and the allow-list, which must name something when `shell` is
    /// `enabled`.
    pub fn validate(&self, enabled: bool) -> Result<(), InvalidSetting> {
        setting::at_least_one("tools.shell.max_output_bytes", self.max_output_bytes)?;
        if enabled && self.allow.is_empty() {
            return Err(InvalidSetting::new(
                "tools.shell.allow",
                "list the programs shell may run, or [\"*\"] for any command line",
            ));
        }
        if self.allow.len() > 1 && self.allow.iter().any(|program| program == "*") {
            return Err(InvalidSetting::new(
                "tools.shell.allow",
                "\"*\" (any command line) cannot be combined with program names",
            ));
        }
        Ok(())
    }
}

/// `[tools.http_request]`
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpRequestConfig {
    /// Host names (or IP addresses) `http_request` may reach, exactly as in the URL. Must be set
    /// when `http_request` is enabled. Redirects are followed only to listed hosts.
    pub allow_hosts: Vec<String>,
    /// Whole-request timeout.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Largest response body kept; longer bodies are cut and marked as truncated.
    pub max_response_bytes: usize,
}

impl Default for HttpRequestConfig {
    fn default() -> Self {
        Self {
            allow_hosts: Vec::new(),
            timeout: Duration::from_secs(30),
            max_response_bytes: 1024 * 1024,
        }
    }
}

impl HttpRequestConfig {
    /// Checks the response cap and the hosts, which must be listed when `http_request` is
    /// `enabled`.
    pub fn validate(&self, enabled: bool) -> Result<(), InvalidSetting> {
        setting::at_least_one(
            "tools.http_request.max_response_bytes",
            self.max_response_bytes,
        )?;
        if enabled && self.allow_hosts.is_empty() {
            return Err(InvalidSetting::new(
                "tools.http_request.allow_hosts",
                "list the hosts http_request may reach",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `[tools]` section of `text`, read and checked as the configuration does.
    fn from_toml(text: &str) -> Result<ToolsConfig, InvalidSetting> {
        setting::read_section(text, "tools", ToolsConfig::validate)
    }

    #[test]
    fn dangerous_tools_need_their_allow_lists() {
        let err = from_toml("[tools]\nenabled = [\"shell\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("tools.shell.allow:"), "{err}");
        let err = from_toml("[tools]\nenabled = [\"http_request\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("tools.http_request.allow_hosts:"), "{err}");
        let ok = "[tools]\nenabled = [\"shell\"]\n[tools.shell]\nallow = [\"git\"]\n";
        assert!(from_toml(ok).is_ok());
        let mixed = "[tools.shell]\nallow = [\"*\", \"git\"]\n";
        assert!(
            from_toml(mixed)
                .unwrap_err()
                .to_string()
                .starts_with("tools.shell.allow")
        );
    }

    #[test]
    fn file_and_search_limits_must_be_positive_and_bounded() {
        for (toml, key) in [
            (
                "[tools.files]\nmax_read_bytes = 0\n",
                "tools.files.max_read_bytes:",
            ),
            (
                "[tools.search]\nmax_output_bytes = 0\n",
                "tools.search.max_output_bytes:",
            ),
            (
                "[tools.search]\nregex_size_limit = 0\n",
                "tools.search.regex_size_limit:",
            ),
            (
                "[tools.search]\nregex_size_limit = 67108865\n",
                "tools.search.regex_size_limit:",
            ),
        ] {
            let err = from_toml(toml).unwrap_err().to_string();
            assert!(err.starts_with(key), "{toml}: {err}");
        }
        assert!(from_toml("[tools.search]\nregex_size_limit = 67108864\n").is_ok());
        assert!(from_toml("[tools.files]\nmax_read_bytes = 1\n").is_ok());
    }

    #[test]
    fn workspace_roots_must_be_absolute_folders() {
        let err = from_toml("[tools]\nworkspace_roots = [\"relative\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("tools.workspace_roots:"), "{err}");
    }
}
