//! `calls`: `tools/call echo` round trips by keep-alive clients, each with a session of its own,
//! at each concurrency asked for.

use serde_json::{Value, json};

use super::side_by_side::{start_both, timed_run, warmed};
use crate::load::{self, Handshake, LoadRun, Op, Worker};
use crate::report::{ScenarioReport, Table, Target, fmt, fmt_pair, ratio};
use crate::servers::{self, Server};
use crate::settings::Settings;

/// The medians at one concurrency: the concurrency, the daemon's, the ceiling's.
type AtConcurrency = (usize, LoadRun, LoadRun);

/// `tools/call echo` round trips at each concurrency.
pub async fn calls(settings: &Settings) -> anyhow::Result<ScenarioReport> {
    let max_sessions = settings.concurrency.iter().sum::<usize>() * 2 + 100;
    let mut servers = start_both(settings, max_sessions)?;
    let mut all_runs = Vec::new();
    let mut medians = Vec::new();
    for &concurrency in &settings.concurrency {
        medians.push(measure(settings, &mut servers, concurrency, &mut all_runs).await?);
    }
    servers::stop_all(servers);
    Ok(ScenarioReport {
        name: "calls",
        tables: vec![table(settings, &medians)],
        targets: targets(&medians),
        notes: notes(&medians),
        runs: Value::Array(all_runs),
    })
}

/// `settings.runs` timed runs on each server with `concurrency` fresh, warmed-up clients,
/// recorded in `all_runs`: their medians.
async fn measure(
    settings: &Settings,
    servers: &mut [Server; 2],
    concurrency: usize,
    all_runs: &mut Vec<Value>,
) -> anyhow::Result<AtConcurrency> {
    let mut per_kind: [Vec<LoadRun>; 2] = [Vec::new(), Vec::new()];
    let mut workers: [Vec<Worker>; 2] = [Vec::new(), Vec::new()];
    for (i, server) in servers.iter().enumerate() {
        let fresh =
            load::workers_with_own_sessions(server, concurrency, Handshake::Construct).await?;
        workers[i] = warmed(server, fresh, Op::EchoCall, settings).await?;
    }
    for _ in 0..settings.runs {
        for (i, server) in servers.iter_mut().enumerate() {
            let run = timed_run(server, &mut workers[i], Op::EchoCall, settings).await?;
            eprintln!(
                "  calls c={concurrency} {}: {:.0} calls/s, p50 {:.3} ms, {:.1} µs CPU/call",
                server.kind.label(),
                run.ops_per_sec,
                run.p50_ms,
                run.server_cpu_us
            );
            all_runs.push(json!({"server": server.kind, "run": run}));
            per_kind[i].push(run);
        }
    }
    Ok((
        concurrency,
        load::median(&per_kind[0]),
        load::median(&per_kind[1]),
    ))
}

/// One row per concurrency, the daemon's figures next to the ceiling's.
fn table(settings: &Settings, medians: &[AtConcurrency]) -> Table {
    let mut table = Table::new(
        format!(
            "`tools/call echo`, keep-alive clients, {} s per run, median of {} runs",
            settings.duration.as_secs_f64(),
            settings.runs
        ),
        &[
            "concurrency",
            "daemon calls/s",
            "ceiling calls/s",
            "daemon/ceiling",
            "daemon p50 / p99 ms",
            "ceiling p50 / p99 ms",
            "daemon CPU µs/call",
            "ceiling CPU µs/call",
            "client CPU µs/call",
            "daemon threads (cores busy)",
            "other load (cores)",
        ],
    );
    for (concurrency, daemon, ceiling) in medians {
        table.row(vec![
            concurrency.to_string(),
            fmt(daemon.ops_per_sec),
            fmt(ceiling.ops_per_sec),
            ratio(daemon.ops_per_sec, ceiling.ops_per_sec),
            fmt_pair(daemon.p50_ms, daemon.p99_ms),
            fmt_pair(ceiling.p50_ms, ceiling.p99_ms),
            fmt(daemon.server_cpu_us),
            fmt(ceiling.server_cpu_us),
            fmt(daemon.client_cpu_us),
            load::describe_threads(&daemon.threads),
            fmt(daemon.other_cores.max(ceiling.other_cores)),
        ]);
    }
    table
}

/// The daemon's CPU per call at each concurrency, its throughput against the ceiling's at the
/// highest, and a single client's latency.
fn targets(medians: &[AtConcurrency]) -> Vec<Target> {
    let mut targets: Vec<Target> = medians
        .iter()
        .map(|(concurrency, daemon, _)| {
            Target::at_most(
                format!("calls: daemon CPU per call, c={concurrency}"),
                daemon.server_cpu_us,
                15.0,
                "µs",
            )
        })
        .collect();
    if let Some((concurrency, daemon, ceiling)) = medians.iter().max_by_key(|(c, _, _)| *c) {
        targets.push(Target::at_least(
            format!("calls: daemon/ceiling calls/s, c={concurrency}"),
            daemon.ops_per_sec / ceiling.ops_per_sec,
            0.6,
            "×",
        ));
    }
    if let Some((_, daemon, _)) = single_client(medians) {
        targets.push(Target::at_most(
            "calls: single-client p50 (no Nagle stall, TCP_NODELAY)",
            daemon.p50_ms,
            1.0,
            "ms",
        ));
    }
    targets
}

/// The medians with one client, if that concurrency was measured.
fn single_client(medians: &[AtConcurrency]) -> Option<&AtConcurrency> {
    medians.iter().find(|(c, _, _)| *c == 1)
}

/// A remark when a single client's latency shows the signature of a Nagle stall.
fn notes(medians: &[AtConcurrency]) -> Vec<String> {
    single_client(medians)
        .filter(|(_, daemon, _)| daemon.p50_ms > 20.0)
        .map(|(_, daemon, _)| {
            format!(
                "single-client p50 is {} ms: the ~40 ms signature of a Nagle/delayed-ACK stall",
                fmt(daemon.p50_ms)
            )
        })
        .into_iter()
        .collect()
}
