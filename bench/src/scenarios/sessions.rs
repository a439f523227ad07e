//! `sessions`: creating many sessions as fast as keep-alive clients can, on a fresh pair of
//! servers each run; CPU time and resident memory per session.

use std::time::Duration;

use serde_json::{Value, json};

use super::side_by_side::start_both;
use crate::load::{self, Limit, LoadRun, Op, Worker};
use crate::report::{ScenarioReport, Table, Target, fmt, fmt_pair, ratio};
use crate::servers::{self, Kind, Server};
use crate::settings::Settings;
use crate::stats;

/// How long the warm-up sessions may take to create.
const WARMUP_CAP: Duration = Duration::from_secs(60);

/// What one `sessions` run measured.
#[derive(Debug, Clone, serde::Serialize)]
struct SessionsRun {
    load: LoadRun,
    rss_before_kib: u64,
    rss_after_kib: u64,
    rss_bytes_per_session: f64,
}

/// The medians of one server's runs: the load's, and the resident memory per session.
type Medians = (LoadRun, f64);

/// Creating many sessions as fast as possible; CPU and resident memory per session.
pub async fn sessions(settings: &Settings) -> anyhow::Result<ScenarioReport> {
    let n = settings.sessions;
    let warm = (n / 20).clamp(1, 2000) as u64;
    let mut runs: [Vec<SessionsRun>; 2] = [Vec::new(), Vec::new()];
    let mut all_runs = Vec::new();
    for _ in 0..settings.runs {
        // A fresh pair of servers per run, so that every run starts from the same memory.
        let mut servers = start_both(settings, n + warm as usize + 1000)?;
        for (i, server) in servers.iter_mut().enumerate() {
            let run = measure(settings, server, warm).await?;
            eprintln!(
                "  sessions {}: {} sessions, {:.0}/s, {:.1} µs CPU/session, {:.0} B RSS/session",
                server.kind.label(),
                run.load.ops,
                run.load.ops_per_sec,
                run.load.server_cpu_us,
                run.rss_bytes_per_session
            );
            all_runs.push(json!({"server": server.kind, "run": run}));
            runs[i].push(run);
        }
        servers::stop_all(servers);
    }
    let [daemon, ceiling] = [median(&runs[0]), median(&runs[1])];
    Ok(ScenarioReport {
        name: "sessions",
        tables: vec![table(settings, &daemon, &ceiling)],
        targets: targets(&daemon),
        notes: vec![format!(
            "RSS growth = (VmRSS after {n} sessions + 0.5 s − VmRSS before) / {n}, after {warm} warm-up sessions"
        )],
        runs: Value::Array(all_runs),
    })
}

/// One run on `server`: `warm` sessions unmeasured, then `settings.sessions` measured, the
/// server's resident memory weighed before and after.
async fn measure(
    settings: &Settings,
    server: &mut Server,
    warm: u64,
) -> anyhow::Result<SessionsRun> {
    let conns = load::connect(server, settings.session_concurrency).await?;
    let workers = conns
        .into_iter()
        .map(|c| Worker::new(c, Vec::new()))
        .collect();
    let warm_limit = Limit {
        duration: WARMUP_CAP,
        max_ops: warm,
    };
    let (_, workers) = load::run(server, workers, Op::CreateSession, warm_limit).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let rss_before_kib = server.rss_kib()?;
    let limit = Limit {
        duration: settings.sessions_cap,
        max_ops: settings.sessions as u64,
    };
    let (load, workers) = load::run(server, workers, Op::CreateSession, limit).await?;
    server.check_alive()?;
    // Let the last sessions settle (actors started, mailboxes quiet), then weigh.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_after_kib = server.rss_kib()?;
    drop(workers);
    Ok(SessionsRun {
        rss_bytes_per_session: (rss_after_kib as f64 - rss_before_kib as f64) * 1024.0
            / load.ops as f64,
        load,
        rss_before_kib,
        rss_after_kib,
    })
}

/// The medians of one server's `runs`.
fn median(runs: &[SessionsRun]) -> Medians {
    let loads: Vec<LoadRun> = runs.iter().map(|r| r.load.clone()).collect();
    let rss = stats::median_of(runs, |r| r.rss_bytes_per_session);
    (load::median(&loads), rss)
}

/// One row per server.
fn table(settings: &Settings, daemon: &Medians, ceiling: &Medians) -> Table {
    let mut table = Table::new(
        format!(
            "`POST /session` × {} ({} keep-alive clients), median of {} runs, fresh servers each run",
            settings.sessions, settings.session_concurrency, settings.runs
        ),
        &[
            "server",
            "sessions/s",
            "vs ceiling",
            "p50 / p99 ms",
            "CPU µs/session",
            "of which kernel",
            "RSS growth B/session",
            "threads (cores busy)",
            "other load (cores)",
        ],
    );
    let ceiling_ops_per_sec = ceiling.0.ops_per_sec;
    for (kind, (run, rss)) in [(Kind::Daemon, daemon), (Kind::Ceiling, ceiling)] {
        table.row(vec![
            kind.label().into(),
            fmt(run.ops_per_sec),
            ratio(run.ops_per_sec, ceiling_ops_per_sec),
            fmt_pair(run.p50_ms, run.p99_ms),
            fmt(run.server_cpu_us),
            fmt(run.server_kernel_us),
            fmt(*rss),
            load::describe_threads(&run.threads),
            fmt(run.other_cores),
        ]);
    }
    table
}

/// The daemon's CPU time (issue 16's 12 µs; the first issues asked for 15) and resident memory
/// per session.
fn targets((daemon, daemon_rss): &Medians) -> Vec<Target> {
    vec![
        Target::at_most(
            "sessions: daemon CPU per session",
            daemon.server_cpu_us,
            12.0,
            "µs",
        ),
        Target::at_most(
            "sessions: daemon RSS per idle session",
            *daemon_rss,
            2048.0,
            "B",
        ),
    ]
}
