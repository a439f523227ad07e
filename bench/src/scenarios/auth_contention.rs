//! `auth-contention`: many sessions authenticating at once, against one hot session and against
//! `GET /health` (no credentials, no actor), to show what authenticating a request costs.

use serde_json::{Value, json};

use super::side_by_side::{start_both, timed_run, warmed};
use crate::client::{Conn, Creds};
use crate::load::{self, LoadRun, Op, Worker};
use crate::report::{ScenarioReport, Table, fmt, fmt_pair, ratio};
use crate::servers::{self, Server};
use crate::settings::Settings;

/// One kind of request measured.
struct Variant {
    /// For the table and the logs.
    name: &'static str,
    /// The request.
    op: Op,
    /// Whether the clients take turns with many sessions (else all use one).
    many_sessions: bool,
}

/// The requests compared, in the table's order.
const VARIANTS: [Variant; 3] = [
    Variant {
        name: "ping, many sessions",
        op: Op::Ping,
        many_sessions: true,
    },
    Variant {
        name: "ping, one session",
        op: Op::Ping,
        many_sessions: false,
    },
    Variant {
        name: "GET /health",
        op: Op::Health,
        many_sessions: false,
    },
];

/// The medians of one variant: the daemon's, the ceiling's.
type Medians = (LoadRun, LoadRun);

/// Many sessions authenticating at once, against one session and against `/health`.
pub async fn auth_contention(settings: &Settings) -> anyhow::Result<ScenarioReport> {
    let (m, c) = (settings.auth_sessions, settings.auth_concurrency);
    let mut servers = start_both(settings, m + c + 100)?;
    // For each server: one set of clients per variant.
    let mut workers: [Vec<Vec<Worker>>; 2] = [Vec::new(), Vec::new()];
    for (i, server) in servers.iter().enumerate() {
        workers[i] = prepare(settings, server).await?;
    }
    let mut results: Vec<[Vec<LoadRun>; 2]> =
        VARIANTS.iter().map(|_| [Vec::new(), Vec::new()]).collect();
    let mut all_runs = Vec::new();
    for _ in 0..settings.runs {
        for (v, variant) in VARIANTS.iter().enumerate() {
            for (i, server) in servers.iter_mut().enumerate() {
                let run = timed_run(server, &mut workers[i][v], variant.op, settings).await?;
                log(variant, server, &run);
                all_runs.push(json!({"variant": variant.name, "server": server.kind, "run": run}));
                results[v][i].push(run);
            }
        }
    }
    servers::stop_all(servers);
    let medians: Vec<Medians> = results
        .iter()
        .map(|[d, c]| (load::median(d), load::median(c)))
        .collect();
    Ok(ScenarioReport {
        name: "auth-contention",
        tables: vec![table(settings, &medians)],
        targets: Vec::new(),
        notes: notes(m, &medians),
        runs: Value::Array(all_runs),
    })
}

/// `settings.auth_sessions` sessions on `server`, and for each variant its clients, warmed up.
async fn prepare(settings: &Settings, server: &Server) -> anyhow::Result<Vec<Vec<Worker>>> {
    let c = settings.auth_concurrency;
    let mut setup = Conn::connect(server.addr).await?;
    let mut sessions = Vec::with_capacity(settings.auth_sessions);
    for _ in 0..settings.auth_sessions {
        sessions.push(setup.create_session().await?);
    }
    let mut sets = Vec::with_capacity(VARIANTS.len());
    for variant in &VARIANTS {
        let conns = load::connect(server, c).await?;
        let set: Vec<Worker> = conns
            .into_iter()
            .enumerate()
            .map(|(k, conn)| Worker::new(conn, sessions_of(variant, &sessions, k, c)))
            .collect();
        sets.push(warmed(server, set, variant.op, settings).await?);
    }
    Ok(sets)
}

/// The sessions client `k` of `c` takes turns with in `variant`: every `c`-th of `sessions`
/// from the `k`-th, or the first alone.
fn sessions_of(variant: &Variant, sessions: &[Creds], k: usize, c: usize) -> Vec<Creds> {
    if variant.many_sessions {
        sessions.iter().skip(k).step_by(c).cloned().collect()
    } else {
        vec![sessions[0].clone()]
    }
}

/// One line for the progress log.
fn log(variant: &Variant, server: &Server, run: &LoadRun) {
    eprintln!(
        "  auth-contention {} {}: {:.0} req/s, {:.1} µs CPU/req",
        variant.name,
        server.kind.label(),
        run.ops_per_sec,
        run.server_cpu_us
    );
}

/// One row per variant, the daemon's figures next to the ceiling's.
fn table(settings: &Settings, medians: &[Medians]) -> Table {
    let mut table = Table::new(
        format!(
            "{} keep-alive clients, {} sessions, {} s per run, median of {} runs",
            settings.auth_concurrency,
            settings.auth_sessions,
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
    for (variant, (daemon, ceiling)) in VARIANTS.iter().zip(medians) {
        table.row(vec![
            variant.name.into(),
            fmt(daemon.ops_per_sec),
            fmt(ceiling.ops_per_sec),
            ratio(daemon.ops_per_sec, ceiling.ops_per_sec),
            fmt_pair(daemon.p50_ms, daemon.p99_ms),
            fmt(daemon.server_cpu_us),
            fmt(ceiling.server_cpu_us),
            load::describe_threads(&daemon.threads),
            fmt(daemon.other_cores.max(ceiling.other_cores)),
        ]);
    }
    table
}

/// What authenticating costs, next to `/health`, with one session and with `m`, and how busy
/// the daemon's main thread was.
fn notes(m: usize, medians: &[Medians]) -> Vec<String> {
    let (many, one, health) = (&medians[0].0, &medians[1].0, &medians[2].0);
    let auth_cpu = many.server_cpu_us - health.server_cpu_us;
    let main_thread = many.main_thread_busy();
    vec![
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
            fmt(main_thread)
        ),
    ]
}
