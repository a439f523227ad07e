//! The closed-loop scenarios: `calls`, `sessions` and `auth-contention`. Each runs the daemon and
//! the ceiling side by side, run after run alternating between them so that drift on a noisy
//! machine hits both alike, and reports medians.

use std::time::Duration;

use serde_json::json;

use crate::load::{self, Limit, LoadRun, Op, Worker};
use crate::report::{ScenarioReport, Table, Target, fmt, ratio};
use crate::servers::{self, Kind, Server};
use crate::settings::Settings;
use crate::stats;

/// Starts both servers for a scenario.
fn start_both(settings: &Settings, max_sessions: usize) -> anyhow::Result<[Server; 2]> {
    let mut config = settings.daemon_config(max_sessions);
    let daemon = servers::start_daemon(&settings.daemon, &mut config)?;
    let ceiling = servers::start_ceiling(settings.subscriber_queue)?;
    Ok([daemon, ceiling])
}

fn warmup(settings: &Settings) -> Limit {
    Limit {
        duration: settings.warmup,
        max_ops: u64::MAX,
    }
}

fn timed(settings: &Settings) -> Limit {
    Limit {
        duration: settings.duration,
        max_ops: u64::MAX,
    }
}

/// `tools/call echo` round trips at each concurrency.
pub async fn calls(settings: &Settings) -> anyhow::Result<ScenarioReport> {
    let max_sessions = settings.concurrency.iter().sum::<usize>() * 2 + 100;
    let mut servers = start_both(settings, max_sessions)?;
    let mut all_runs = Vec::new();
    let mut medians: Vec<(usize, LoadRun, LoadRun)> = Vec::new();
    for &concurrency in &settings.concurrency {
        let mut per_kind: [Vec<LoadRun>; 2] = [Vec::new(), Vec::new()];
        let mut workers: [Vec<Worker>; 2] = [Vec::new(), Vec::new()];
        for (i, server) in servers.iter().enumerate() {
            let fresh = load::workers_with_own_sessions(server, concurrency).await?;
            let (_, fresh) = load::run(server, fresh, Op::EchoCall, warmup(settings)).await?;
            workers[i] = fresh;
        }
        for _ in 0..settings.runs {
            for (i, server) in servers.iter_mut().enumerate() {
                let clients = std::mem::take(&mut workers[i]);
                let (run, clients) =
                    load::run(server, clients, Op::EchoCall, timed(settings)).await?;
                server.check_alive()?;
                eprintln!(
                    "  calls c={concurrency} {}: {:.0} calls/s, p50 {:.3} ms, {:.1} µs CPU/call",
                    server.kind.label(),
                    run.ops_per_sec,
                    run.p50_ms,
                    run.server_cpu_us
                );
                all_runs.push(json!({"server": server.kind, "run": run}));
                per_kind[i].push(run);
                workers[i] = clients;
            }
        }
        medians.push((
            concurrency,
            load::median(&per_kind[0]),
            load::median(&per_kind[1]),
        ));
    }
    for server in servers {
        server.stop();
    }

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
    let mut targets = Vec::new();
    for (concurrency, daemon, ceiling) in &medians {
        table.row(vec![
            concurrency.to_string(),
            fmt(daemon.ops_per_sec),
            fmt(ceiling.ops_per_sec),
            ratio(daemon.ops_per_sec, ceiling.ops_per_sec),
            format!("{} / {}", fmt(daemon.p50_ms), fmt(daemon.p99_ms)),
            format!("{} / {}", fmt(ceiling.p50_ms), fmt(ceiling.p99_ms)),
            fmt(daemon.server_cpu_us),
            fmt(ceiling.server_cpu_us),
            fmt(daemon.client_cpu_us),
            load::describe_threads(&daemon.threads),
            fmt(daemon.other_cores.max(ceiling.other_cores)),
        ]);
        targets.push(Target::at_most(
            format!("calls: daemon CPU per call, c={concurrency}"),
            daemon.server_cpu_us,
            15.0,
            "µs",
        ));
    }
    let mut notes = Vec::new();
    if let Some((concurrency, daemon, ceiling)) = medians.iter().max_by_key(|(c, _, _)| *c) {
        targets.push(Target::at_least(
            format!("calls: daemon/ceiling calls/s, c={concurrency}"),
            daemon.ops_per_sec / ceiling.ops_per_sec,
            0.6,
            "×",
        ));
    }
    if let Some((_, daemon, _)) = medians.iter().find(|(c, _, _)| *c == 1) {
        targets.push(Target::at_most(
            "calls: single-client p50 (no Nagle stall, TCP_NODELAY)",
            daemon.p50_ms,
            1.0,
            "ms",
        ));
        if daemon.p50_ms > 20.0 {
            notes.push(format!(
                "single-client p50 is {} ms: the ~40 ms signature of a Nagle/delayed-ACK stall",
                fmt(daemon.p50_ms)
            ));
        }
    }
    Ok(ScenarioReport {
        name: "calls",
        tables: vec![table],
        targets,
        notes,
        runs: serde_json::Value::Array(all_runs),
    })
}

/// What one `sessions` run measured.
#[derive(Debug, Clone, serde::Serialize)]
struct SessionsRun {
    load: LoadRun,
    rss_before_kib: u64,
    rss_after_kib: u64,
    rss_bytes_per_session: f64,
}

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
            let conns = load::connect(server, settings.session_concurrency).await?;
            let workers = conns
                .into_iter()
                .map(|c| Worker::new(c, Vec::new()))
                .collect();
            let warm_limit = Limit {
                duration: Duration::from_secs(60),
                max_ops: warm,
            };
            let (_, workers) = load::run(server, workers, Op::CreateSession, warm_limit).await?;
            tokio::time::sleep(Duration::from_millis(300)).await;
            let rss_before_kib = server.rss_kib()?;
            let limit = Limit {
                duration: settings.sessions_cap,
                max_ops: n as u64,
            };
            let (load, workers) = load::run(server, workers, Op::CreateSession, limit).await?;
            server.check_alive()?;
            // Let the last sessions settle (actors started, mailboxes quiet), then weigh.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let rss_after_kib = server.rss_kib()?;
            drop(workers);
            let run = SessionsRun {
                rss_bytes_per_session: (rss_after_kib as f64 - rss_before_kib as f64) * 1024.0
                    / load.ops as f64,
                load,
                rss_before_kib,
                rss_after_kib,
            };
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
        for server in servers {
            server.stop();
        }
    }
    let loads = |i: usize| runs[i].iter().map(|r| r.load.clone()).collect::<Vec<_>>();
    let (daemon, ceiling) = (load::median(&loads(0)), load::median(&loads(1)));
    let rss = |i: usize| stats::median_of(&runs[i], |r| r.rss_bytes_per_session);
    let (daemon_rss, ceiling_rss) = (rss(0), rss(1));
    let mut table = Table::new(
        format!(
            "`POST /session` × {n} ({} keep-alive clients), median of {} runs, fresh servers each run",
            settings.session_concurrency, settings.runs
        ),
        &[
            "server",
            "sessions/s",
            "vs ceiling",
            "p50 / p99 ms",
            "CPU µs/session",
            "RSS growth B/session",
            "threads (cores busy)",
            "other load (cores)",
        ],
    );
    for (kind, run, rss) in [
        (Kind::Daemon, &daemon, daemon_rss),
        (Kind::Ceiling, &ceiling, ceiling_rss),
    ] {
        table.row(vec![
            kind.label().into(),
            fmt(run.ops_per_sec),
            ratio(run.ops_per_sec, ceiling.ops_per_sec),
            format!("{} / {}", fmt(run.p50_ms), fmt(run.p99_ms)),
            fmt(run.server_cpu_us),
            fmt(rss),
            load::describe_threads(&run.threads),
            fmt(run.other_cores),
        ]);
    }
    let targets = vec![
        Target::at_most(
            "sessions: daemon CPU per session",
            daemon.server_cpu_us,
            15.0,
            "µs",
        ),
        Target::at_most(
            "sessions: daemon RSS per idle session",
            daemon_rss,
            2048.0,
            "B",
        ),
    ];
    Ok(ScenarioReport {
        name: "sessions",
        tables: vec![table],
        targets,
        notes: vec![format!(
            "RSS growth = (VmRSS after {n} sessions + 0.5 s − VmRSS before) / {n}, after {warm} warm-up sessions"
        )],
        runs: serde_json::Value::Array(all_runs),
    })
}

/// Many sessions authenticating at once, against one session and against `/health`.
pub async fn auth_contention(settings: &Settings) -> anyhow::Result<ScenarioReport> {
    let m = settings.auth_sessions;
    let c = settings.auth_concurrency;
    let mut servers = start_both(settings, m + c + 100)?;
    let variants = [
        ("ping, many sessions", Op::Ping, true),
        ("ping, one session", Op::Ping, false),
        ("GET /health", Op::Health, false),
    ];
    // For each server: one set of clients per variant.
    let mut workers: [Vec<Vec<Worker>>; 2] = [Vec::new(), Vec::new()];
    for (i, server) in servers.iter().enumerate() {
        let mut setup = crate::client::Conn::connect(server.addr).await?;
        let mut sessions = Vec::with_capacity(m);
        for _ in 0..m {
            sessions.push(setup.create_session().await?);
        }
        for (_, op, many) in variants {
            let conns = load::connect(server, c).await?;
            let set: Vec<Worker> = conns
                .into_iter()
                .enumerate()
                .map(|(k, conn)| {
                    let mine = if many {
                        sessions.iter().skip(k).step_by(c).cloned().collect()
                    } else {
                        vec![sessions[0].clone()]
                    };
                    Worker::new(conn, mine)
                })
                .collect();
            let (_, set) = load::run(server, set, op, warmup(settings)).await?;
            workers[i].push(set);
        }
    }
    let mut results: Vec<[Vec<LoadRun>; 2]> =
        variants.iter().map(|_| [Vec::new(), Vec::new()]).collect();
    let mut all_runs = Vec::new();
    for _ in 0..settings.runs {
        for (v, (name, op, _)) in variants.iter().enumerate() {
            for (i, server) in servers.iter_mut().enumerate() {
                let set = std::mem::take(&mut workers[i][v]);
                let (run, set) = load::run(server, set, *op, timed(settings)).await?;
                server.check_alive()?;
                eprintln!(
                    "  auth-contention {name} {}: {:.0} req/s, {:.1} µs CPU/req",
                    server.kind.label(),
                    run.ops_per_sec,
                    run.server_cpu_us
                );
                all_runs.push(json!({"variant": name, "server": server.kind, "run": run}));
                results[v][i].push(run);
                workers[i][v] = set;
            }
        }
    }
    for server in servers {
        server.stop();
    }
    let mut table = Table::new(
        format!(
            "{c} keep-alive clients, {m} sessions, {} s per run, median of {} runs",
            settings.duration.as_secs_f64(),
            settings.runs
        ),
        &[
            "request",
            "daemon req/s",
            "ceiling req/s",
            "daemon/ceiling",
            "daemon p50 / p99 ms",
            "daemon CPU µs/req",
            "ceiling CPU µs/req",
            "daemon threads (cores busy)",
            "other load (cores)",
        ],
    );
    let medians: Vec<(LoadRun, LoadRun)> = results
        .iter()
        .map(|[d, c]| (load::median(d), load::median(c)))
        .collect();
    for ((name, _, _), (daemon, ceiling)) in variants.iter().zip(&medians) {
        table.row(vec![
            (*name).into(),
            fmt(daemon.ops_per_sec),
            fmt(ceiling.ops_per_sec),
            ratio(daemon.ops_per_sec, ceiling.ops_per_sec),
            format!("{} / {}", fmt(daemon.p50_ms), fmt(daemon.p99_ms)),
            fmt(daemon.server_cpu_us),
            fmt(ceiling.server_cpu_us),
            load::describe_threads(&daemon.threads),
            fmt(daemon.other_cores.max(ceiling.other_cores)),
        ]);
    }
    let (many, one, health) = (&medians[0].0, &medians[1].0, &medians[2].0);
    let auth_cpu = many.server_cpu_us - health.server_cpu_us;
    let main_thread = |run: &LoadRun| {
        run.threads
            .iter()
            .find(|(name, _)| name.starts_with("construct-acto"))
            .map_or(f64::NAN, |(_, u)| *u)
    };
    let notes = vec![
        format!(
            "authenticated ping vs /health: +{} µs CPU per request ({:.0}% of the ping's CPU) for \
             header parsing, the worker's SessionDirectory and the session's Authenticate (on \
             the worker's own thread once the directory knows the session), the body read and \
             JSON-RPC decode",
            fmt(auth_cpu),
            100.0 * auth_cpu / many.server_cpu_us
        ),
        format!(
            "one hot session vs {m} sessions: {} vs {} µs CPU per request, {} vs {} req/s \
             (throughput on a shared 2-core machine follows the other load column; CPU per \
             request is the steadier signal)",
            fmt(one.server_cpu_us),
            fmt(many.server_cpu_us),
            fmt(one.ops_per_sec),
            fmt(many.ops_per_sec)
        ),
        format!(
            "the daemon's main thread (the actix System arbiter, where the SessionRegistry runs; \
             sessions run on the HTTP workers' threads) was busy {} of one core during `ping, \
             many sessions`; near 1.0 would mean the registry is the bottleneck",
            fmt(main_thread(many))
        ),
    ];
    Ok(ScenarioReport {
        name: "auth-contention",
        tables: vec![table],
        targets: Vec::new(),
        notes,
        runs: serde_json::Value::Array(all_runs),
    })
}
