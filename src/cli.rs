//! The command line: run the daemon (the default), or check a configuration file.

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
