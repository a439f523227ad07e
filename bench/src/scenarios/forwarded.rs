//! `forwarded`: what a `tools/call` forwarded by the daemon to an upstream MCP server costs over
//! calling that same server directly (issue 15). Two upstream servers run as processes of their
//! own over Streamable HTTP: node's server-everything, and rmcp's server with one echo tool
//! (this binary's `echo-upstream`), so that the daemon's share is also seen beside an upstream
//! as cheap as the SDK makes one. The daemon has each as a `[servers.<name>] url` (the same
//! instance the direct clients call), and server-everything again as a stdio child. Every route
//! is driven by the same standard MCP client (2025-11-25 session, one keep-alive connection per
//! client), route after route alternating, and reports the latency the daemon adds over the
//! direct route and the daemon's own CPU per call (its process only, not the upstream's).

use serde_json::{Value, json};

use super::side_by_side::{timed_run, warmed};
use crate::cpu::CpuWindow;
use crate::gateway;
use crate::installed::Installed;
use crate::load::{self, Handshake, LoadRun, Op, ToolCall, Worker};
use crate::procfs;
use crate::report::{ScenarioReport, Table, Target, fmt, fmt_pair};
use crate::servers::{self, Server};
use crate::settings::Settings;

/// Indices in the scenario's servers.
const DAEMON: usize = 0;
const RMCP: usize = 1;
const EVERYTHING: usize = 2;

/// The echo tools' argument.
const HELLO: &str = r#"{"message":"hello"}"#;

/// Whose CPU a route also reads, besides the server it calls.
#[derive(Clone, Copy)]
enum Upstream {
    /// Nobody's (a direct route: the server it calls is the upstream).
    None,
    /// One of the scenario's servers.
    Server(usize),
    /// The daemon's stdio child.
    StdioChild,
}

/// One way of calling an echo tool.
struct Route {
    label: &'static str,
    /// Which server the clients talk to.
    server: usize,
    tool: ToolCall,
    /// The route (index in [`ROUTES`]) calling the same upstream code directly.
    direct: Option<usize>,
    upstream: Upstream,
}

impl Route {
    /// Whether the daemon forwards this route's calls to an upstream.
    fn is_forwarded(&self) -> bool {
        !matches!(self.upstream, Upstream::None)
    }

    /// The upstream `server`'s own `echo`, called directly.
    const fn direct(label: &'static str, server: usize) -> Self {
        Self::through(label, server, "echo", HELLO, None, Upstream::None)
    }

    /// `tool` with `arguments` on `server`, with its direct counterpart and upstream.
    const fn through(
        label: &'static str,
        server: usize,
        name: &'static str,
        arguments: &'static str,
        direct: Option<usize>,
        upstream: Upstream,
    ) -> Self {
        let tool = ToolCall { name, arguments };
        Self {
            label,
            server,
            tool,
            direct,
            upstream,
        }
    }
}

const ROUTES: [Route; 6] = [
    Route::direct("rmcp echo, direct", RMCP),
    Route::through(
        "rmcp echo, through the daemon (url)",
        DAEMON,
        "rmcp__echo",
        HELLO,
        Some(0),
        Upstream::Server(RMCP),
    ),
    Route::direct("server-everything, direct", EVERYTHING),
    Route::through(
        "server-everything, through the daemon (url)",
        DAEMON,
        "everything__echo",
        HELLO,
        Some(2),
        Upstream::Server(EVERYTHING),
    ),
    // No direct counterpart: node's stdio transport is far cheaper than its HTTP one, and the
    // bench has no stdio client of the same code as its HTTP client.
    Route::through(
        "server-everything, through the daemon (stdio child)",
        DAEMON,
        "stdio__echo",
        HELLO,
        None,
        Upstream::StdioChild,
    ),
    Route::through(
        "the daemon's built-in echo (no upstream)",
        DAEMON,
        "echo",
        r#"{"text":"hello"}"#,
        None,
        Upstream::None,
    ),
];

/// One route's medians: its run, and its upstream's CPU µs per call (NaN if not read).
struct RouteRun {
    run: LoadRun,
    upstream_cpu_us: f64,
}

/// The medians at one concurrency, route by route.
type AtConcurrency = (usize, Vec<RouteRun>);

/// The scenario's processes and what the measurement loop reads of them.
struct Setup {
    servers: [Server; 3],
    /// The daemon's stdio server-everything.
    stdio_pid: u32,
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
        tables: vec![table(settings, &medians)],
        targets: targets(&medians),
        notes: notes(&medians),
        runs: Value::Array(all_runs),
    })
}

/// Starts both upstreams, then the daemon with each as a `url` server and server-everything
/// again as a stdio child, and waits until it offers their tools.
async fn start(settings: &Settings) -> anyhow::Result<Setup> {
    let installed = Installed::find()?;
    let rmcp = servers::start_echo_upstream()?;
    let everything = servers::start_everything_http(&installed.everything)?;
    let max_sessions = settings.concurrency.iter().sum::<usize>() * ROUTES.len() * 2 + 100;
    let mut config = settings.daemon_config(max_sessions);
    gateway::add_url_server(&mut config, "rmcp", &format!("http://{}/mcp", rmcp.addr));
    gateway::add_url_server(
        &mut config,
        "everything",
        &format!("http://{}/mcp", everything.addr),
    );
    let stdio_args = [installed.everything.as_path(), "stdio".as_ref()];
    gateway::add_stdio_server(&mut config, "stdio", "node".as_ref(), &stdio_args);
    let daemon = servers::start_daemon(&settings.daemon, &mut config)?;
    gateway::wait_for_tools(&daemon, &["rmcp__echo", "everything__echo", "stdio__echo"]).await?;
    let stdio_pid = procfs::descendants(daemon.pid)?
        .into_iter()
        .find(|&pid| procfs::comm(pid).is_ok_and(|comm| comm == "node"))
        .ok_or_else(|| anyhow::anyhow!("the daemon's stdio server-everything is not its child"))?;
    Ok(Setup {
        servers: [daemon, rmcp, everything],
        stdio_pid,
    })
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
        let server = &setup.servers[route.server];
        let fresh =
            load::workers_with_own_sessions(server, concurrency, Handshake::Standard).await?;
        workers.push(warmed(server, fresh, Op::StandardCall(route.tool), settings).await?);
    }
    let mut runs: Vec<Vec<RouteRun>> = ROUTES.iter().map(|_| Vec::new()).collect();
    for _ in 0..settings.runs {
        for (i, route) in ROUTES.iter().enumerate() {
            let measured = run_route(settings, setup, route, &mut workers[i]).await?;
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

/// One timed run of `route`, reading its upstream's CPU around it.
async fn run_route(
    settings: &Settings,
    setup: &mut Setup,
    route: &Route,
    workers: &mut Vec<Worker>,
) -> anyhow::Result<RouteRun> {
    let upstream_pid = match route.upstream {
        Upstream::None => None,
        Upstream::Server(index) => Some(setup.servers[index].pid),
        Upstream::StdioChild => Some(setup.stdio_pid),
    };
    let window = upstream_pid
        .map(|pid| CpuWindow::open(&[pid]))
        .transpose()?;
    let server = &mut setup.servers[route.server];
    let run = timed_run(server, workers, Op::StandardCall(route.tool), settings).await?;
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

/// A through-the-daemon route's latency over its direct route's, ms: p50 and p99.
fn added(routes: &[RouteRun], index: usize) -> Option<(f64, f64)> {
    let direct = &routes[ROUTES[index].direct?].run;
    let via = &routes[index].run;
    Some((via.p50_ms - direct.p50_ms, via.p99_ms - direct.p99_ms))
}

/// One row per concurrency and route.
fn table(settings: &Settings, medians: &[AtConcurrency]) -> Table {
    let mut table = Table::new(
        format!(
            "`tools/call echo` by standard MCP clients (2025-11-25 sessions, keep-alive), {} s per run, median of {} runs",
            settings.duration.as_secs_f64(),
            settings.runs
        ),
        &[
            "concurrency",
            "route",
            "calls/s",
            "p50 / p99 ms",
            "added by the daemon p50 / p99 ms",
            "daemon CPU µs/call",
            "upstream CPU µs/call",
            "client CPU µs/call",
            "other load (cores)",
        ],
    );
    for (concurrency, routes) in medians {
        for (i, (route, measured)) in ROUTES.iter().zip(routes).enumerate() {
            let run = &measured.run;
            let through_daemon = route.server == DAEMON;
            table.row(vec![
                concurrency.to_string(),
                route.label.to_owned(),
                fmt(run.ops_per_sec),
                fmt_pair(run.p50_ms, run.p99_ms),
                added(routes, i).map_or("-".into(), |(p50, p99)| fmt_pair(p50, p99)),
                if through_daemon {
                    fmt(run.server_cpu_us)
                } else {
                    "-".into()
                },
                if through_daemon {
                    fmt(measured.upstream_cpu_us)
                } else {
                    fmt(run.server_cpu_us)
                },
                fmt(run.client_cpu_us),
                fmt(run.other_cores),
            ]);
        }
    }
    table
}

/// Issue 16's targets for forwarded calls: the daemon's CPU per forwarded call at the highest
/// concurrency (≤ 10 µs), and the p50 it adds for a single client (≤ 0.1 ms).
fn targets(medians: &[AtConcurrency]) -> Vec<Target> {
    let mut targets = Vec::new();
    if let Some((concurrency, routes)) = medians.iter().max_by_key(|(c, _)| *c) {
        for (route, measured) in ROUTES.iter().zip(routes) {
            if route.is_forwarded() {
                targets.push(Target::at_most(
                    format!(
                        "forwarded: daemon CPU per call, {}, c={concurrency}",
                        route.label
                    ),
                    measured.run.server_cpu_us,
                    10.0,
                    "µs",
                ));
            }
        }
    }
    if let Some((_, routes)) = medians.iter().find(|(c, _)| *c == 1) {
        for (i, route) in ROUTES.iter().enumerate() {
            if let Some((p50, _)) = added(routes, i) {
                targets.push(Target::at_most(
                    format!("forwarded: p50 added, {}, c=1", route.label),
                    p50,
                    0.1,
                    "ms",
                ));
            }
        }
    }
    targets
}

/// At each concurrency, what forwarding itself costs the daemon: its CPU per forwarded call
/// over its CPU per built-in echo call, both through the same standard-client path.
fn notes(medians: &[AtConcurrency]) -> Vec<String> {
    let built_in = ROUTES
        .iter()
        .position(|route| route.server == DAEMON && matches!(route.upstream, Upstream::None))
        .expect("a built-in route");
    medians
        .iter()
        .map(|(concurrency, routes)| {
            let own = routes[built_in].run.server_cpu_us;
            let extra: Vec<String> = ROUTES
                .iter()
                .zip(routes)
                .filter(|(route, _)| route.is_forwarded())
                .map(|(route, r)| format!("{} +{} µs", route.label, fmt(r.run.server_cpu_us - own)))
                .collect();
            format!(
                "c={concurrency}: daemon CPU per forwarded call over a built-in echo call ({} µs): {}",
                fmt(own),
                extra.join(", ")
            )
        })
        .collect()
}
