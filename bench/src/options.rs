//! The command line of `construct-bench`: which scenarios to run and how big, or the hidden
//! `ceiling` subcommand the benchmark starts itself as.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

/// Benchmarks construct-actor against a minimal actix-web ceiling on loopback.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    /// The hidden subcommand, if any.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// A benchmark run's options.
    #[command(flatten)]
    pub options: Options,
}

/// What this binary runs besides the benchmark.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the ceiling server (used by the benchmark itself).
    #[command(hide = true)]
    Ceiling {
        /// Events buffered per follower before it lags.
        #[arg(long, default_value_t = 256)]
        queue: usize,
    },
    /// Runs the rmcp echo server, an upstream of the `forwarded` scenario.
    #[command(hide = true)]
    EchoUpstream {
        /// Serve on stdin and stdout instead of Streamable HTTP.
        #[arg(long)]
        stdio: bool,
    },
}

/// One benchmark scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    Calls,
    StandardCalls,
    Sessions,
    Fanout,
    AuthContention,
    ClusterFanout,
    Forwarded,
    Processes,
}

impl Scenario {
    /// Its name in tables and logs, as `--scenario` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Calls => "calls",
            Self::StandardCalls => "standard-calls",
            Self::Sessions => "sessions",
            Self::Fanout => "fanout",
            Self::AuthContention => "auth-contention",
            Self::ClusterFanout => "cluster-fanout",
            Self::Forwarded => "forwarded",
            Self::Processes => "processes",
        }
    }
}

/// How a benchmark run goes.
#[derive(Debug, clap::Args)]
pub struct Options {
    /// Every scenario, tiny (seconds in all); exits non-zero if one fails to run.
    #[arg(long)]
    pub smoke: bool,
    /// The daemon binary; default: `construct-actor` beside this binary, built first when this
    /// runs under cargo.
    #[arg(long)]
    pub daemon: Option<PathBuf>,
    /// Do not run `cargo build --release --bin construct-actor` first.
    #[arg(long)]
    pub no_build: bool,
    /// Scenarios to run (default: all).
    #[arg(long = "scenario", value_enum, value_delimiter = ',')]
    pub scenarios: Vec<Scenario>,
    /// Runs per measurement; medians are reported.
    #[arg(long)]
    pub runs: Option<usize>,
    /// Seconds per timed run (calls, auth-contention).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Client counts for `calls` and `forwarded`.
    #[arg(long, value_delimiter = ',')]
    pub concurrency: Vec<usize>,
    /// Sessions created per `sessions` run.
    #[arg(long)]
    pub sessions: Option<usize>,
    /// Clients creating sessions.
    #[arg(long, default_value_t = 16)]
    pub session_concurrency: usize,
    /// Followers in `fanout`.
    #[arg(long)]
    pub subscribers: Option<usize>,
    /// Followers in `cluster-fanout` (on each of the embedded daemon and daemon B).
    #[arg(long)]
    pub cluster_followers: Option<usize>,
    /// Events published per `fanout` and `cluster-fanout` burst run.
    #[arg(long)]
    pub events: Option<u64>,
    /// Events published per paced `fanout` and `cluster-fanout` run.
    #[arg(long)]
    pub paced_events: Option<u64>,
    /// Interval between paced `fanout` and `cluster-fanout` events, ms.
    #[arg(long, default_value_t = 20)]
    pub fanout_interval_ms: u64,
    /// Events queued per follower (the daemon's `sessions.subscriber_queue`, the ceiling's
    /// broadcast capacity).
    #[arg(long, default_value_t = 256)]
    pub subscriber_queue: usize,
    /// Sessions in `auth-contention`.
    #[arg(long)]
    pub auth_sessions: Option<usize>,
    /// Clients in `auth-contention`.
    #[arg(long, default_value_t = 64)]
    pub auth_concurrency: usize,
    /// Worker threads of the load generator's runtime.
    #[arg(long, default_value_t = 1)]
    pub client_threads: usize,
    /// Extra daemon configuration, `section.key=TOML` (repeatable), e.g. `server.keep_alive="5s"`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Also write every run and the medians as JSON here.
    #[arg(long)]
    pub json: Option<PathBuf>,
}
