//! `cluster-fanout`: what sharing a session through Redis costs the fan-out. One scenario
//! measures, run after run alternating between them:
//!
//! - embedded: one daemon without `[cluster]`, the publisher and the followers on it, as in
//!   `fanout`;
//! - cluster: a `redis-server` of the bench's own on a free loopback port, and two daemons A and
//!   B with `[cluster] redis_url` pointing at it; the session is created and the tool called on
//!   A, the followers read B's events stream, so that every event crosses Redis.
//!
//! The measures are `fanout`'s, with each process's CPU time (A, B and Redis) and the
//! cluster/embedded ratios of deliveries per second and of p99 latency. Needs `redis-server` on
//! PATH.

use anyhow::Context as _;

use crate::fanout::measure::{self, Plan, Setup, Variant};
use crate::fanout::results::{self, FanoutRun};
use crate::fanout::{LATENCY_NOTE, LOSS_NOTE};
use crate::redis;
use crate::report::{ScenarioReport, Table, Target, fmt, fmt_pair, ratio};
use crate::servers::{self, Server};
use crate::settings::Settings;

/// The scenario's servers, by index.
const EMBEDDED: usize = 0;
const A: usize = 1;
const B: usize = 2;
const REDIS: usize = 3;

/// Starts Redis, then the embedded daemon and daemons A and B, each ready for `followers`
/// followers; in the order of the indexes above, so that stopping them in order stops Redis
/// last.
fn start_servers(settings: &Settings, followers: usize) -> anyhow::Result<[Server; 4]> {
    let redis = redis::start_redis()?;
    let mut embedded = settings.fanout_daemon_config(followers);
    let embedded = servers::start_daemon(&settings.daemon, &mut embedded)?;
    let mut clustered = settings.fanout_daemon_config(followers);
    clustered.set("cluster.redis_url", &format!("\"redis://{}/\"", redis.addr));
    let mut start_node = |name: &str| {
        servers::start_daemon(&settings.daemon, &mut clustered)
            .with_context(|| format!("cannot start daemon {name} with [cluster] redis_url"))
    };
    let a = start_node("A")?;
    let b = start_node("B")?;
    Ok([embedded, a, b, redis])
}

/// Embedded, then cluster.
fn setups() -> Vec<Setup> {
    vec![
        Setup {
            label: "embedded",
            publisher: EMBEDDED,
            followers: EMBEDDED,
            measured: vec![("daemon", EMBEDDED)],
        },
        Setup {
            label: "cluster",
            publisher: A,
            followers: B,
            measured: vec![("daemon A", A), ("daemon B", B), ("redis", REDIS)],
        },
    ]
}

/// The CPU µs per delivery of a run's `index`-th measured process, `-` if it has none.
fn cpu_cell(run: &FanoutRun, index: usize) -> String {
    run.servers
        .get(index)
        .map_or_else(|| "-".into(), |s| fmt(s.cpu_us_per_delivery))
}

/// The scenario: a burst and a paced stream, embedded and cluster alternating, `settings.runs`
/// times, with `settings.cluster_followers` followers.
pub async fn cluster_fanout(settings: &Settings) -> anyhow::Result<ScenarioReport> {
    let plan = Plan {
        setups: setups(),
        variants: Variant::both(settings),
        followers: settings.cluster_followers,
    };
    let mut servers = start_servers(settings, plan.followers)?;
    let measured = measure::measure("cluster-fanout", settings, &mut servers, &plan).await?;
    servers::stop_all(servers);
    Ok(ScenarioReport {
        name: "cluster-fanout",
        tables: vec![table(settings, &plan, &measured.medians)],
        targets: targets(&measured.medians),
        notes: notes(),
        runs: measured.runs,
    })
}

/// The medians of each variant, embedded and cluster side by side.
fn table(settings: &Settings, plan: &Plan, medians: &[Vec<FanoutRun>]) -> Table {
    let mut table = Table::new(
        plan.title(
            settings,
            "; embedded: publisher and followers on one daemon; cluster: session and publisher \
             on daemon A, followers on daemon B, one Redis between them",
        ),
        &results::columns(
            "mode",
            &[
                "deliveries/s vs embedded",
                "publish→receive p50 / p99 ms",
                "p99 vs embedded",
                "daemon (A) CPU µs/delivery",
                "daemon B CPU µs/delivery",
                "Redis CPU µs/delivery",
                "all servers CPU µs/delivery",
                "client CPU µs/delivery",
            ],
            &["other load (cores)"],
        ),
    );
    for (variant, setup, run, of_variant) in plan.rows(medians) {
        let embedded = &of_variant[0];
        let own = vec![
            ratio(run.deliveries_per_sec, embedded.deliveries_per_sec),
            fmt_pair(run.p50_ms, run.p99_ms),
            ratio(run.p99_ms, embedded.p99_ms),
            cpu_cell(run, 0),
            cpu_cell(run, 1),
            cpu_cell(run, 2),
            fmt(run.servers_cpu_us_per_delivery()),
            fmt(run.client_cpu_us_per_delivery),
        ];
        let last = vec![fmt(run.other_cores)];
        table.row(run.row(variant.name, setup.label, own, last));
    }
    table
}

/// No event lost without a lag notice, in any run of either mode.
fn targets(medians: &[Vec<FanoutRun>]) -> Vec<Target> {
    let unexplained: u64 = medians
        .iter()
        .flatten()
        .map(|run| run.unexplained_gaps)
        .sum();
    vec![Target::at_most(
        "cluster-fanout: events lost without a lag notice (all runs, both modes)",
        unexplained as f64,
        0.0,
        "events",
    )]
}

/// What the table's figures mean.
fn notes() -> Vec<String> {
    vec![
        "embedded is one daemon without `[cluster]`; its CPU is in the daemon (A) column. \
         cluster is two daemons with `[cluster] redis_url` on one `redis-server --save \"\" \
         --appendonly no` that the bench starts on a free loopback port and stops; all three \
         processes count in all servers CPU"
            .to_owned(),
        "vs embedded is cluster / embedded of the medians: below 1× costs throughput for \
         deliveries/s, above 1× adds latency for p99"
            .to_owned(),
        LOSS_NOTE.to_owned(),
        format!(
            "{LATENCY_NOTE}; in cluster mode the timestamp is taken on A and the event parsed from \
             B's stream, both on this machine's clock"
        ),
    ]
}
