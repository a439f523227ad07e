//! `construct-bench`: the daemon against a ceiling server, scenario by scenario.
//!
//! ```sh
//! cargo run --release -p construct-bench                 # full run (about 5–10 min on 2 cores)
//! cargo run --release -p construct-bench -- --smoke      # every scenario, tiny (CI)
//! cargo run --release -p construct-bench -- --scenario calls --runs 5 --json out.json
//! cargo run --release -p construct-bench -- --scenario cluster-fanout   # needs redis-server
//! cargo run --release -p construct-bench -- --scenario forwarded,processes  # needs tests/upstream/setup.sh
//! ```
//!
//! Each scenario starts the release daemon (built first when run through cargo, or `--daemon
//! PATH`) on 127.0.0.1:0 with a generated configuration, and the ceiling (this binary's hidden
//! `ceiling` subcommand, a minimal actix-web app doing the same HTTP exchange and no work), each
//! as a process of its own. `forwarded` and `processes` put real MCP servers behind the daemon
//! and compare with calling them directly. Server CPU time per operation comes from `/proc/<pid>/stat`,
//! resident memory from `/proc/<pid>/status`. Every measurement is the median of `--runs` runs.
//! All traffic stays on loopback, and every loop is bounded in count and time.

// No function over 80 lines (clippy.toml sets the limit; tests are other crates).
#![warn(clippy::too_many_lines)]

mod ceiling;
mod client;
mod cluster;
mod cpu;
mod daemon_config;
mod echo_upstream;
mod fanout;
mod gateway;
mod installed;
mod load;
mod nchan;
mod options;
mod processes;
mod procfs;
mod progress;
mod redis;
mod report;
mod scenarios;
mod servers;
mod settings;
mod stats;
mod stdio_load;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser as _;

use crate::options::{Cli, Command, Options, Scenario};
use crate::report::ScenarioReport;
use crate::settings::Settings;

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(command) = cli.command {
        let (name, outcome) = match command {
            Command::Ceiling { queue } => ("ceiling", ceiling::run(queue)),
            Command::EchoUpstream { stdio } => ("echo-upstream", echo_upstream::run(stdio)),
        };
        return match outcome {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("{name}: {err:#}");
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
    let build =
        !options.no_build && options.daemon.is_none() && std::env::var_os("CARGO").is_some();
    let daemon = servers::locate_daemon(options.daemon.as_deref(), build)?;
    let settings = Settings::new(&options, daemon)?;
    let (scenarios, skipped) = chosen(&options.scenarios);
    check_fd_limit(&scenarios, &settings)?;
    let machine = procfs::Machine::read();
    let date = chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string();
    println!(
        "# construct-bench{}\n",
        if options.smoke { " (smoke)" } else { "" }
    );
    println!(
        "{} · {} cores · {} · {date} · daemon {}\n",
        machine.cpu,
        machine.nproc,
        machine.kernel,
        settings.daemon.display()
    );
    let (reports, failed) = run_all(&scenarios, &settings, options.client_threads)?;
    println!("{}", report::markdown(&reports));
    print_list("skipped", &skipped);
    print_list("failed", &failed);
    if let Some(path) = &options.json {
        let json = serde_json::json!({
            "machine": machine,
            "date": date,
            "smoke": options.smoke,
            "runs": settings.runs,
            "scenarios": reports,
            "failed": failed,
            "skipped": skipped,
        });
        std::fs::write(path, serde_json::to_string_pretty(&json)?)?;
    }
    Ok(failed.is_empty())
}

/// The scenarios to run: those `asked` for, else all; with why any of all was left out.
fn chosen(asked: &[Scenario]) -> (Vec<Scenario>, Vec<String>) {
    if !asked.is_empty() {
        return (asked.to_vec(), Vec::new());
    }
    // `standard-calls` is left out: its routes are all part of `calls`.
    let mut all = vec![
        Scenario::Calls,
        Scenario::Sessions,
        Scenario::Fanout,
        Scenario::AuthContention,
    ];
    let mut skipped = Vec::new();
    // Asked for by name they fail without the upstream servers; as some of all they are left out.
    match installed::Installed::find() {
        Ok(_) => all.extend([Scenario::Forwarded, Scenario::Processes]),
        Err(err) => {
            for scenario in [Scenario::Forwarded, Scenario::Processes] {
                let skip = format!("{}: {err:#}", scenario.name());
                eprintln!("skipping {skip}");
                skipped.push(skip);
            }
        }
    }
    // Asked for by name it fails without Redis; as one of all it is left out.
    if redis::redis_server().is_some() {
        all.push(Scenario::ClusterFanout);
    } else {
        let skip = format!("{}: {}", Scenario::ClusterFanout.name(), redis::NO_REDIS);
        eprintln!("skipping {skip}");
        skipped.push(skip);
    }
    (all, skipped)
}

/// Raises the open-files limit, and fails if it is still too low for the fan-out scenarios'
/// followers.
fn check_fd_limit(scenarios: &[Scenario], settings: &Settings) -> anyhow::Result<()> {
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
    Ok(())
}

/// Runs each scenario on a load-generator runtime of `client_threads` workers: the reports of
/// those that ran, and why the others failed.
fn run_all(
    scenarios: &[Scenario],
    settings: &Settings,
    client_threads: usize,
) -> anyhow::Result<(Vec<ScenarioReport>, Vec<String>)> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(client_threads.max(1))
        .enable_all()
        .build()?;
    let mut reports = Vec::new();
    let mut failed = Vec::new();
    for &scenario in scenarios {
        eprintln!("== {}", scenario.name());
        match runtime.block_on(run(scenario, settings)) {
            Ok(report) => reports.push(report),
            Err(err) => {
                eprintln!("scenario {} failed: {err:#}", scenario.name());
                failed.push(format!("{}: {err:#}", scenario.name()));
            }
        }
    }
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok((reports, failed))
}

/// Runs one scenario.
async fn run(scenario: Scenario, settings: &Settings) -> anyhow::Result<ScenarioReport> {
    match scenario {
        Scenario::Calls => scenarios::calls(settings).await,
        Scenario::StandardCalls => scenarios::standard_calls(settings).await,
        Scenario::Sessions => scenarios::sessions(settings).await,
        Scenario::Fanout => fanout::fanout(settings).await,
        Scenario::AuthContention => scenarios::auth_contention(settings).await,
        Scenario::ClusterFanout => cluster::cluster_fanout(settings).await,
        Scenario::Forwarded => scenarios::forwarded(settings).await,
        Scenario::Processes => processes::processes(settings).await,
    }
}

/// `## <title>` and a bullet per item, unless there are none.
fn print_list(title: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    println!("## {title}\n");
    for item in items {
        println!("- {item}");
    }
}
