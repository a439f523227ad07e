//! The command line: run the daemon (the default), check a configuration file, bring an AI
//! CLI's MCP servers into one (`import`), or act as a client of the running daemon (`connect`,
//! `tail`, `sessions`).

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// One local MCP backend of tools, shared by many AI CLIs and dashboards.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// What to do; without a subcommand the daemon runs.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Options for running the daemon.
    #[command(flatten)]
    pub run: RunArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate a configuration file and exit: 0 when usable, 1 with the key and reason if not.
    CheckConfig {
        /// The TOML file to check.
        file: PathBuf,
    },
    /// Point an AI CLI at the running daemon: create a session for a folder and write that
    /// CLI's MCP configuration (server `construct`), keeping everything else in the file.
    Connect(ConnectArgs),
    /// Follow a session's progress events live: one progress bar per running call (plain lines
    /// when standard output is not a terminal), resuming after dropped connections.
    Tail(TailArgs),
    /// List the daemon's sessions (needs the admin token).
    Sessions(SessionsArgs),
    /// Bring the MCP servers configured in an AI CLI into the daemon's configuration as
    /// `[servers.<name>]` tables: printed by default (a dry run), added to the file with
    /// `--write --config FILE` (previous version kept as FILE.bak).
    Import(ImportArgs),
}

/// How a client subcommand finds the daemon.
#[derive(Debug, Clone, Args)]
pub struct DaemonArgs {
    /// The daemon's MCP URL (e.g. `http://127.0.0.1:7000/mcp`); default: the one in the
    /// discovery file.
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// The discovery file the running daemon wrote (a leading `~` is the home directory).
    #[arg(
        long,
        value_name = "PATH",
        env = "CONSTRUCT_ACTOR_DISCOVERY__PATH",
        default_value = crate::discovery::DEFAULT_PATH
    )]
    pub discovery: PathBuf,
}

/// The AI command-line clients `connect` can configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AiCli {
    /// Claude Code: registered for the session's folder with `claude mcp add-json … --scope
    /// local` (no approval needed); without `claude` on PATH, `.mcp.json` in that folder.
    Claude,
    /// Codex: `~/.codex/config.toml` (`$CODEX_HOME/config.toml` when set).
    Codex,
    /// OpenCode: `~/.config/opencode/config.json` (`$XDG_CONFIG_HOME` respected).
    Opencode,
    /// Gemini CLI: `~/.gemini/settings.json` (`$GEMINI_CLI_HOME` respected); it needs the
    /// folder trusted (see `--trust`).
    Gemini,
}

/// `construct-actor connect <cli> [--cwd DIR] [--label L] [--print] [--file F] [--url URL]`
#[derive(Debug, Clone, Args)]
pub struct ConnectArgs {
    /// The CLI to configure.
    #[arg(value_enum)]
    pub cli: AiCli,
    /// The folder the session works in (default: the current one).
    #[arg(long, value_name = "DIR", conflicts_with = "print")]
    pub cwd: Option<PathBuf>,
    /// A name for the session, shown by dashboards and `sessions`.
    #[arg(long, value_name = "L", conflicts_with = "print")]
    pub label: Option<String>,
    /// Print the entry of a plain standard MCP client instead: no session is created and no
    /// file written; the CLI's own `initialize` opens a session when it connects.
    #[arg(long)]
    pub print: bool,
    /// Gemini only: trust the session's folder in `~/.gemini/trustedFolders.json`, without
    /// which Gemini CLI leaves MCP servers disabled there.
    #[arg(long, conflicts_with = "print")]
    pub trust: bool,
    /// The configuration file to write instead of the CLI's usual one.
    #[arg(long, value_name = "FILE", conflicts_with = "print")]
    pub file: Option<PathBuf>,
    /// The API key the daemon requires to create sessions (`security.api_keys`), if any.
    #[arg(
        long,
        value_name = "KEY",
        env = "CONSTRUCT_ACTOR_API_KEY",
        hide_env_values = true
    )]
    pub api_key: Option<String>,
    /// Where the daemon is.
    #[command(flatten)]
    pub daemon: DaemonArgs,
}

/// `construct-actor tail --session <id> --token <t> [--url URL]`
#[derive(Debug, Clone, Args)]
pub struct TailArgs {
    /// The session to follow.
    #[arg(long, value_name = "ID")]
    pub session: String,
    /// The session's token. Without it, the owner key from the discovery file is used (it
    /// opens every session), so no token need appear on the command line.
    #[arg(long, value_name = "T")]
    pub token: Option<String>,
    /// Start after this event id: the session's recent events after it are shown first (0:
    /// all it still keeps). Default: only events from now on.
    #[arg(long, value_name = "N")]
    pub last_event_id: Option<u64>,
    /// Where the daemon is.
    #[command(flatten)]
    pub daemon: DaemonArgs,
}

/// `construct-actor sessions [--url URL] [--admin-token T] [--json]`
#[derive(Debug, Clone, Args)]
pub struct SessionsArgs {
    /// The daemon's admin token.
    #[arg(
        long,
        value_name = "T",
        env = "CONSTRUCT_ACTOR_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub admin_token: Option<String>,
    /// Print the daemon's JSON answer instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Where the daemon is.
    #[command(flatten)]
    pub daemon: DaemonArgs,
}

/// `construct-actor import <cli> [--config FILE] [--write] [--replace] [--cwd DIR]`
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// The CLI whose MCP servers to import (its user files, and its project files in --cwd).
    #[arg(value_enum)]
    pub cli: AiCli,
    /// The daemon's configuration file: servers already named in it are left alone; with
    /// --write, the file the servers are added to (created when missing).
    #[arg(long, short, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Add the servers to --config instead of printing them.
    #[arg(long, requires = "config")]
    pub write: bool,
    /// Replace a server of the same name already in --config.
    #[arg(long)]
    pub replace: bool,
    /// The project folder whose project-level files are read too (default: the current one).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
}

/// `construct-actor [--config FILE] [--bind ADDR] [--port PORT]`
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Configuration file (TOML); built-in safe defaults when absent.
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Address to listen on, overriding `server.bind`.
    #[arg(long)]
    pub bind: Option<IpAddr>,
    /// Port to listen on, overriding `server.port` (0: any free port).
    #[arg(long)]
    pub port: Option<u16>,
}
