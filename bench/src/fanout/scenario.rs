//! `fanout`: many followers of one session's events stream, one tool publishing progress as fast
//! as it can (`sleep` with `duration_ms: 0` publishes one event per step). Measures deliveries per
//! second, publish→receive latency (the event's RFC 3339 `timestamp` against the receive time),
//! server CPU per delivery, and loss: every follower checks that its `id:` sequence has no gap
//! that a `lagged` notice does not account for.

use super::measure::{self, Plan, Setup, Variant};
use super::results::{self, FanoutRun};
use crate::load;
use crate::report::{ScenarioReport, Table, Target, fmt, fmt_pair, ratio};
use crate::servers::{self, Kind, Server};
use crate::settings::Settings;

/// The scenario: a burst and a paced stream, daemon and ceiling alternating, `settings.runs`
/// times.
pub async fn fanout(settings: &Settings) -> anyhow::Result<ScenarioReport> {
    let plan = Plan {
        setups: vec![
            Setup::single(Kind::Daemon.label(), 0),
            Setup::single(Kind::Ceiling.label(), 1),
        ],
        variants: Variant::both(settings),
        followers: settings.subscribers,
    };
    let mut servers = start_servers(settings, plan.followers)?;
    let measured = measure::measure("fanout", settings, &mut servers, &plan).await?;
    servers::stop_all(servers);
    Ok(ScenarioReport {
        name: "fanout",
        tables: vec![table(settings, &plan, &measured.medians)],
        targets: targets(&plan, &measured.medians),
        notes: notes(),
        runs: measured.runs,
    })
}

/// The daemon, ready for `followers` followers, and the ceiling.
fn start_servers(settings: &Settings, followers: usize) -> anyhow::Result<[Server; 2]> {
    let mut config = settings.fanout_daemon_config(followers);
    let daemon = servers::start_daemon(&settings.daemon, &mut config)?;
    let ceiling = servers::start_ceiling(settings.subscriber_queue)?;
    Ok([daemon, ceiling])
}

/// The medians of each variant on the daemon and the ceiling, side by side.
fn table(settings: &Settings, plan: &Plan, medians: &[Vec<FanoutRun>]) -> Table {
    let mut table = Table::new(
        plan.title(settings, ""),
        &results::columns(
            "server",
            &[
                "vs ceiling",
                "publish→receive p50 / p99 ms",
                "CPU µs/delivery",
                "client CPU µs/delivery",
            ],
            &["threads (cores busy)", "other load (cores)"],
        ),
    );
    for (variant, setup, run, of_variant) in plan.rows(medians) {
        let ceiling = &of_variant[1];
        let own = vec![
            ratio(run.deliveries_per_sec, ceiling.deliveries_per_sec),
            fmt_pair(run.p50_ms, run.p99_ms),
            fmt(run.servers_cpu_us_per_delivery()),
            fmt(run.client_cpu_us_per_delivery),
        ];
        let last = vec![
            load::describe_threads(&run.servers[0].threads),
            fmt(run.other_cores),
        ];
        table.row(run.row(variant.name, setup.label, own, last));
    }
    table
}

/// The daemon's CPU per delivery in the burst, and its losses in all runs.
fn targets(plan: &Plan, medians: &[Vec<FanoutRun>]) -> Vec<Target> {
    let mut targets = Vec::new();
    let mut unexplained = 0;
    for (variant, medians) in plan.variants.iter().zip(medians) {
        let daemon = &medians[0];
        // The target is for a publisher going as fast as it can; the paced stream (one write
        // per follower per event, no batching possible) measures latency.
        if variant.is_burst() {
            targets.push(Target::at_most(
                format!("fanout: daemon CPU per delivery, {}", variant.name),
                daemon.servers_cpu_us_per_delivery(),
                2.0,
                "µs",
            ));
        }
        unexplained += daemon.unexplained_gaps;
    }
    targets.push(Target::at_most(
        "fanout: events lost without a lag notice (all runs)",
        unexplained as f64,
        0.0,
        "events",
    ));
    targets
}

/// What the table's figures mean.
fn notes() -> Vec<String> {
    vec![
        LOSS_NOTE.to_owned(),
        format!(
            "{LATENCY_NOTE}; in the burst the publisher outruns what one load-generator process \
             can read, so this is mostly time spent queued in socket buffers"
        ),
        "the ceiling broadcasts pre-formatted events through one tokio broadcast channel of the \
         same capacity as the daemon's subscriber queue, yielding after each (burst) or sleeping \
         like the `sleep` tool (paced); the daemon also streams each progress notification back \
         to the publishing call"
            .to_owned(),
    ]
}

/// How a follower's losses are counted, for the notes of both fan-out scenarios.
pub const LOSS_NOTE: &str = "a follower is complete when it received all events; one that fell \
     more than the subscriber queue behind is sent `event: lagged` with the count it missed \
     (counted above); an id gap no lag notice accounts for is an unexplained gap (a loss)";

/// How latency is measured, for the notes of both fan-out scenarios.
pub const LATENCY_NOTE: &str = "publish→receive is the event's own `timestamp` (taken when the \
     tool reports) against the time the load generator parsed it";
