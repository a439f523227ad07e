//! `forwarded`: what a `tools/call` forwarded by the daemon to an upstream MCP server costs over
//! calling that same server directly (issues 15 and 16). Two upstream programs: node's
//! server-everything, and rmcp's server with one echo tool (this binary's `echo-upstream`), so
//! that the daemon's share is also seen beside an upstream as cheap as the SDK makes one. Each
//! runs over Streamable HTTP as a process of its own, which the daemon has as a
//! `[servers.<name>] url` (the same instance the direct clients call), and over stdio twice: as
//! the daemon's child (`command`) and as the bench's own child, called directly through its
//! pipes. Routes alternate run after run (see `forwarded_routes`); the daemon's CPU is its
//! process's only, not its children's.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::process::Command;

use super::forwarded_report::{self, AtConcurrency, RouteRun};
use super::forwarded_routes::{ROUTES, Route, Upstream, Via, forwarded_tools};
use super::side_by_side::{self, timed_run, warmed};
use crate::cpu::CpuWindow;
use crate::gateway;
use crate::installed::Installed;
use crate::load::{self, Handshake, LoadRun, Op, Worker};
use crate::procfs;
use crate::report::ScenarioReport;
use crate::servers::{self, Server};
use crate::settings::Settings;
use crate::stdio_load::{self, StdioServer};

/// The scenario's processes and what the measurement loop reads of them.
struct Setup {
    /// The daemon, rmcp echo and server-everything over HTTP (see `forwarded_routes`).
    servers: [Server; 3],
    /// rmcp echo and server-everything over stdio, the bench's own children.
    stdio: [Arc<StdioServer>; 2],
    /// The same two programs as the daemon's stdio children, by pid.
    daemon_children: [u32; 2],
}

/// Forwarded `tools/call echo` against direct ones, at each concurrency.
pub async fn forwarded(settings: &Settings) -> anyhow::Result<ScenarioReport> {
    let mut setup = start(settings).await?;
    let mut all_runs = Vec::new();
    let mut medians = Vec::new();
    for &concurrency in &settings.concurrency {
        medians.push(measure(settings, &mut setup, concurrency, &mut all_runs).await?);
    }
    servers::stop_all(setup.servers);
    Ok(ScenarioReport {
        name: "forwarded",
        tables: vec![
            forwarded_report::added_table(&medians),
            forwarded_report::routes_table(settings, &medians),
        ],
        targets: forwarded_report::targets(&medians),
        notes: forwarded_report::notes(&medians),
        runs: Value::Array(all_runs),
    })
}

/// `echo-upstream` over stdio: this binary, and its arguments.
fn rmcp_stdio() -> anyhow::Result<(std::path::PathBuf, [&'static str; 2])> {
    Ok((std::env::current_exe()?, ["echo-upstream", "--stdio"]))
}

/// Starts the HTTP upstreams, the bench's own stdio ones, then the daemon with each HTTP one as
/// a `url` server and each program again as a stdio child, and waits until it offers their
/// tools.
async fn start(settings: &Settings) -> anyhow::Result<Setup> {
    let installed = Installed::find()?;
    let rmcp = servers::start_echo_upstream()?;
    let everything = servers::start_everything_http(&installed.everything)?;
    let (bench, rmcp_args) = rmcp_stdio()?;
    let mut direct_rmcp = Command::new(&bench);
    direct_rmcp.args(rmcp_args);
    let mut direct_everything = Command::new("node");
    direct_everything.arg(&installed.everything).arg("stdio");
    // In the order of RMCP_STDIO and EVERYTHING_STDIO, like the daemon's children below.
    let stdio = [
        StdioServer::start(direct_rmcp).await?,
        StdioServer::start(direct_everything).await?,
    ];
    let max_sessions = settings.concurrency.iter().sum::<usize>() * ROUTES.len() * 2 + 100;
    let mut config = settings.daemon_config(max_sessions);
    gateway::add_url_server(&mut config, "rmcp", &format!("http://{}/mcp", rmcp.addr));
    gateway::add_url_server(
        &mut config,
        "everything",
        &format!("http://{}/mcp", everything.addr),
    );
    let rmcp_args = rmcp_args.map(std::path::Path::new);
    gateway::add_stdio_server(&mut config, "rmcpstdio", &bench, &rmcp_args);
    let everything_args = [installed.everything.as_path(), "stdio".as_ref()];
    gateway::add_stdio_server(&mut config, "stdio", "node".as_ref(), &everything_args);
    let daemon = servers::start_daemon(&settings.daemon, &mut config)?;
    gateway::wait_for_tools(&daemon, &forwarded_tools()).await?;
    let daemon_children = [
        child_named(daemon.pid, "construct-bench")?,
        child_named(daemon.pid, "node")?,
    ];
    Ok(Setup {
        servers: [daemon, rmcp, everything],
        stdio,
        daemon_children,
    })
}

/// The daemon's child process whose command is `comm`.
fn child_named(daemon: u32, comm: &str) -> anyhow::Result<u32> {
    procfs::descendants(daemon)?
        .into_iter()
        .find(|&pid| procfs::comm(pid).is_ok_and(|name| name == comm))
        .ok_or_else(|| anyhow::anyhow!("the daemon has no child {comm:?} (its stdio server)"))
}

/// `settings.runs` timed runs of every route with `concurrency` fresh, warmed-up clients each,
/// recorded in `all_runs`: their medians.
async fn measure(
    settings: &Settings,
    setup: &mut Setup,
    concurrency: usize,
    all_runs: &mut Vec<Value>,
) -> anyhow::Result<AtConcurrency> {
    let mut workers: Vec<Vec<Worker>> = Vec::with_capacity(ROUTES.len());
    for route in &ROUTES {
        workers.push(warm_up(settings, setup, route, concurrency).await?);
    }
    let mut runs: Vec<Vec<RouteRun>> = ROUTES.iter().map(|_| Vec::new()).collect();
    for _ in 0..settings.runs {
        for (i, route) in ROUTES.iter().enumerate() {
            let measured = run_route(settings, setup, route, &mut workers[i], concurrency).await?;
            eprintln!(
                "  forwarded c={concurrency} {}: {:.0} calls/s, p50 {:.3} ms, {:.1} µs CPU/call",
                route.label,
                measured.run.ops_per_sec,
                measured.run.p50_ms,
                measured.run.server_cpu_us
            );
            all_runs.push(json!({
                "route": route.label,
                "run": measured.run,
                "upstream_cpu_us": measured.upstream_cpu_us,
            }));
            runs[i].push(measured);
        }
    }
    let medians = runs.iter().map(|route_runs| median(route_runs)).collect();
    Ok((concurrency, medians))
}

/// The route's clients, warmed up: `concurrency` HTTP clients with sessions of their own, or
/// none for a stdio route (whose clients are its server's pipes), after a warm-up of it.
async fn warm_up(
    settings: &Settings,
    setup: &Setup,
    route: &Route,
    concurrency: usize,
) -> anyhow::Result<Vec<Worker>> {
    match route.via {
        Via::Http(index) => {
            let server = &setup.servers[index];
            let fresh =
                load::workers_with_own_sessions(server, concurrency, Handshake::Standard).await?;
            warmed(server, fresh, Op::StandardCall(route.tool), settings).await
        }
        Via::Stdio(index) => {
            let limit = side_by_side::warmup(settings);
            stdio_load::run(&setup.stdio[index], concurrency, route.tool, limit).await?;
            Ok(Vec::new())
        }
    }
}

/// One timed run of `route`, reading its upstream's CPU around it.
async fn run_route(
    settings: &Settings,
    setup: &mut Setup,
    route: &Route,
    workers: &mut Vec<Worker>,
    concurrency: usize,
) -> anyhow::Result<RouteRun> {
    let upstream_pid = match route.upstream {
        Upstream::None => None,
        Upstream::Server(index) => Some(setup.servers[index].pid),
        Upstream::DaemonChild(index) => Some(setup.daemon_children[index]),
    };
    let window = upstream_pid
        .map(|pid| CpuWindow::open(&[pid]))
        .transpose()?;
    let run = match route.via {
        Via::Http(index) => {
            let server = &mut setup.servers[index];
            timed_run(server, workers, Op::StandardCall(route.tool), settings).await?
        }
        Via::Stdio(index) => {
            let server = &setup.stdio[index];
            let limit = side_by_side::timed(settings);
            let run = stdio_load::run(server, concurrency, route.tool, limit).await?;
            server.check_alive()?;
            run
        }
    };
    let upstream_cpu_us = match window {
        Some(window) => window.close()?.servers_us[0] / run.ops as f64,
        None => f64::NAN,
    };
    Ok(RouteRun {
        run,
        upstream_cpu_us,
    })
}

fn median(runs: &[RouteRun]) -> RouteRun {
    let load_runs: Vec<LoadRun> = runs.iter().map(|r| r.run.clone()).collect();
    RouteRun {
        run: load::median(&load_runs),
        upstream_cpu_us: crate::stats::median_of(runs, |r| r.upstream_cpu_us),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_forwarded_route_has_its_direct_counterpart_calling_the_same_program() {
        for route in ROUTES.iter().filter(|route| route.is_forwarded()) {
            let direct = &ROUTES[route.direct.expect("a direct route")];
            assert!(
                !direct.is_forwarded() && !direct.through_daemon(),
                "{}",
                route.label
            );
            let same = match (route.upstream, direct.via) {
                (Upstream::Server(upstream), Via::Http(server)) => upstream == server,
                (Upstream::DaemonChild(child), Via::Stdio(own)) => child == own,
                _ => false,
            };
            assert!(same, "{} is compared with {}", route.label, direct.label);
        }
    }
}
