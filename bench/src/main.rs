//! `construct-bench`: the daemon against a ceiling server, scenario by scenario.
//!
//! ```sh
//! cargo run --release -p construct-bench                 # full run (about 5–10 min on 2 cores)
//! cargo run --release -p construct-bench -- --smoke      # every scenario, tiny (CI)
//! cargo run --release -p construct-bench -- --scenario calls --runs 5 --json out.json
//! cargo run --release -p construct-bench -- --scenario cluster-fanout   # needs redis-server
//! ```
//!
//! Each scenario starts the release daemon (built first when run through cargo, or `--daemon
//! PATH`) on 127.0.0.1:0 with a generated configuration, and the ceiling (this binary's hidden
//! `ceiling` subcommand, a minimal actix-web app doing the same HTTP exchange and no work), each
//! as a process of its own. Server CPU time per operation comes from `/proc/<pid>/stat`,
//! resident memory from `/proc/<pid>/status`. Every measurement is the median of `--runs` runs.
//! All traffic stays on loopback, and every loop is bounded in count and time.

mod ceiling;
mod client;
mod cluster;
mod daemon_config;
mod fanout;
mod load;
mod procfs;
mod redis;
mod report;
mod scenarios;
mod servers;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

use crate::daemon_config::DaemonConfig;

/// Benchmarks construct-actor against a minimal actix-web ceiling on loopback.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    options: Options,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the ceiling server (used by the benchmark itself).
    #[command(hide = true)]
    Ceiling {
        /// Events buffered per follower before it lags.
        #[arg(long, default_value_t = 256)]
        queue: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Calls,
    Sessions,
    Fanout,
    AuthContention,
    ClusterFanout,
}

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Self::Calls => "calls",
            Self::Sessions => "sessions",
            Self::Fanout => "fanout",
            Self::AuthContention => "auth-contention",
            Self::ClusterFanout => "cluster-fanout",
        }
    }
}

#[derive(Debug, clap::Args)]
struct Options {
    /// Every scenario, tiny (seconds in all); exits non-zero if one fails to run.
    #[arg(long)]
    smoke: bool,
    /// The daemon binary; default: `construct-actor` beside this binary, built first when this
    /// runs under cargo.
    #[arg(long)]
    daemon: Option<PathBuf>,
    /// Do not run `cargo build --release --bin construct-actor` first.
    #[arg(long)]
    no_build: bool,
    /// Scenarios to run (default: all).
    #[arg(long = "scenario", value_enum, value_delimiter = ',')]
    scenarios: Vec<Scenario>,
    /// Runs per measurement; medians are reported.
    #[arg(long)]
    runs: Option<usize>,
    /// Seconds per timed run (calls, auth-contention).
    #[arg(long)]
    duration: Option<f64>,
    /// Client counts for `calls`.
    #[arg(long, value_delimiter = ',')]
    concurrency: Vec<usize>,
    /// Sessions created per `sessions` run.
    #[arg(long)]
    sessions: Option<usize>,
    /// Clients creating sessions.
    #[arg(long, default_value_t = 16)]
    session_concurrency: usize,
    /// Followers in `fanout`.
    #[arg(long)]
    subscribers: Option<usize>,
    /// Followers in `cluster-fanout` (on each of the embedded daemon and daemon B).
    #[arg(long)]
    cluster_followers: Option<usize>,
    /// Events published per `fanout` and `cluster-fanout` burst run.
    #[arg(long)]
    events: Option<u64>,
    /// Events published per paced `fanout` and `cluster-fanout` run.
    #[arg(long)]
    paced_events: Option<u64>,
    /// Interval between paced `fanout` and `cluster-fanout` events, ms.
    #[arg(long, default_value_t = 20)]
    fanout_interval_ms: u64,
    /// Events queued per follower (the daemon's `sessions.subscriber_queue`, the ceiling's
    /// broadcast capacity).
    #[arg(long, default_value_t = 256)]
    subscriber_queue: usize,
    /// Sessions in `auth-contention`.
    #[arg(long)]
    auth_sessions: Option<usize>,
    /// Clients in `auth-contention`.
    #[arg(long, default_value_t = 64)]
    auth_concurrency: usize,
    /// Worker threads of the load generator's runtime.
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Extra daemon configuration, `section.key=TOML` (repeatable), e.g. `server.keep_alive="5s"`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    set: Vec<String>,
    /// Also write every run and the medians as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// Everything the scenarios need to know.
pub struct Settings {
    /// The daemon binary.
    pub daemon: PathBuf,
    /// Runs per measurement.
    pub runs: usize,
    /// Length of a timed run.
    pub duration: Duration,
    /// Length of the warm-up before timed runs.
    pub warmup: Duration,
    /// Client counts for `calls`.
    pub concurrency: Vec<usize>,
    /// Sessions per `sessions` run.
    pub sessions: usize,
    /// Clients creating them.
    pub session_concurrency: usize,
    /// Longest a `sessions` run may take.
    pub sessions_cap: Duration,
    /// Followers in `fanout`.
    pub subscribers: usize,
    /// Followers in `cluster-fanout`.
    pub cluster_followers: usize,
    /// Events per burst `fanout` and `cluster-fanout` run.
    pub events: u64,
    /// Events per paced `fanout` and `cluster-fanout` run.
    pub paced_events: u64,
    /// Interval between paced events, ms.
    pub fanout_interval_ms: u64,
    /// Events queued per follower.
    pub subscriber_queue: usize,
    /// Sessions in `auth-contention`.
    pub auth_sessions: usize,
    /// Clients in `auth-contention`.
    pub auth_concurrency: usize,
    /// `--set` overrides.
    pub extra: Vec<(String, String)>,
}

impl Settings {
    /// The daemon's configuration for a scenario needing up to `max_sessions` sessions.
    pub fn daemon_config(&self, max_sessions: usize) -> DaemonConfig {
        let mut config = DaemonConfig::for_benchmarks(max_sessions, 64, self.subscriber_queue);
        for (key, value) in &self.extra {
            config.set(key, value);
        }
        config
    }

    /// The configuration of a daemon serving `followers` followers of one session.
    pub fn fanout_daemon_config(&self, followers: usize) -> DaemonConfig {
        let mut config = self.daemon_config(1000);
        config.set("sessions.max_subscribers", &(followers + 16).to_string());
        config
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(Command::Ceiling { queue }) = cli.command {
        return match ceiling::run(queue) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("ceiling: {err:#}");
                ExitCode::FAILURE
            }
        };
    }
    match bench(cli.options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("construct-bench: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the chosen scenarios; `Ok(false)` when one of them failed to run.
fn bench(options: Options) -> anyhow::Result<bool> {
    let smoke = options.smoke;
    let pick = |full: usize, tiny: usize| if smoke { tiny } else { full };
    let build =
        !options.no_build && options.daemon.is_none() && std::env::var_os("CARGO").is_some();
    let daemon = servers::locate_daemon(options.daemon.as_deref(), build)?;
    let extra = options
        .set
        .iter()
        .map(|item| {
            item.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| anyhow::anyhow!("--set {item}: expected KEY=VALUE"))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let settings = Settings {
        daemon,
        runs: options.runs.unwrap_or(pick(3, 1)).max(1),
        duration: Duration::from_secs_f64(options.duration.unwrap_or(if smoke {
            0.3
        } else {
            4.0
        })),
        warmup: Duration::from_secs_f64(if smoke { 0.1 } else { 0.5 }),
        concurrency: if options.concurrency.is_empty() {
            vec![1, 16, 64]
        } else {
            options.concurrency
        },
        sessions: options.sessions.unwrap_or(pick(100_000, 300)).max(1),
        session_concurrency: options.session_concurrency.max(1),
        sessions_cap: Duration::from_secs(if smoke { 30 } else { 300 }),
        subscribers: options.subscribers.unwrap_or(pick(1000, 50)).max(1),
        cluster_followers: options.cluster_followers.unwrap_or(pick(100, 10)).max(1),
        events: options.events.unwrap_or(pick(2000, 50) as u64).max(1),
        paced_events: options.paced_events.unwrap_or(pick(100, 10) as u64).max(1),
        fanout_interval_ms: options.fanout_interval_ms,
        subscriber_queue: options.subscriber_queue.max(1),
        auth_sessions: options.auth_sessions.unwrap_or(pick(1000, 100)).max(1),
        auth_concurrency: options.auth_concurrency.max(1),
        extra,
    };
    let mut skipped = Vec::new();
    let scenarios = if options.scenarios.is_empty() {
        let mut all = vec![
            Scenario::Calls,
            Scenario::Sessions,
            Scenario::Fanout,
            Scenario::AuthContention,
        ];
        // Asked for by name it fails without Redis; as one of all it is left out.
        if redis::redis_server().is_some() {
            all.push(Scenario::ClusterFanout);
        } else {
            let skip = format!("{}: {}", Scenario::ClusterFanout.name(), redis::NO_REDIS);
            eprintln!("skipping {skip}");
            skipped.push(skip);
        }
        all
    } else {
        options.scenarios
    };
    let fd_limit = procfs::raise_fd_limit();
    for (scenario, followers) in [
        (Scenario::Fanout, settings.subscribers),
        (Scenario::ClusterFanout, settings.cluster_followers),
    ] {
        let needed = followers * 2 + 256;
        if scenarios.contains(&scenario) && (fd_limit as usize) < needed {
            anyhow::bail!(
                "{} needs about {needed} open files, the limit is {fd_limit}: raise it (ulimit -n)",
                scenario.name()
            );
        }
    }
    let machine = procfs::Machine::read();
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    println!("# construct-bench{}\n", if smoke { " (smoke)" } else { "" });
    println!(
        "{} · {} cores · {} · {date} · daemon {}\n",
        machine.cpu,
        machine.nproc,
        machine.kernel,
        settings.daemon.display()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(options.client_threads.max(1))
        .enable_all()
        .build()?;
    let mut reports = Vec::new();
    let mut failed = Vec::new();
    for scenario in scenarios {
        eprintln!("== {}", scenario.name());
        let outcome = runtime.block_on(async {
            match scenario {
                Scenario::Calls => scenarios::calls(&settings).await,
                Scenario::Sessions => scenarios::sessions(&settings).await,
                Scenario::Fanout => fanout::fanout(&settings).await,
                Scenario::AuthContention => scenarios::auth_contention(&settings).await,
                Scenario::ClusterFanout => cluster::cluster_fanout(&settings).await,
            }
        });
        match outcome {
            Ok(report) => reports.push(report),
            Err(err) => {
                eprintln!("scenario {} failed: {err:#}", scenario.name());
                failed.push(format!("{}: {err:#}", scenario.name()));
            }
        }
    }
    runtime.shutdown_timeout(Duration::from_secs(1));

    println!("{}", report::markdown(&reports));
    if !skipped.is_empty() {
        println!("## skipped\n");
        for skip in &skipped {
            println!("- {skip}");
        }
    }
    if !failed.is_empty() {
        println!("## failed\n");
        for failure in &failed {
            println!("- {failure}");
        }
    }
    if let Some(path) = &options.json {
        let json = serde_json::json!({
            "machine": machine,
            "date": date,
            "smoke": smoke,
            "runs": settings.runs,
            "scenarios": reports,
            "failed": failed,
            "skipped": skipped,
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)?;
    }
    Ok(failed.is_empty())
}
