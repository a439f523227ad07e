//! `fanout`: many followers of one events stream, one publisher going as fast as it can (burst)
//! or paced, on the daemon, the ceiling and nginx + nchan alternating. On the daemon (and the
//! ceiling) the stream is a session's and `sleep` with `duration_ms: 0` publishes one progress
//! event per step; on nchan it is a channel the bench posts one message per step to. Measures
//! deliveries per second, publish→receive latency (the event's RFC 3339 `timestamp` against
//! the receive time), server CPU per delivery, and loss: every follower checks that the events'
//! numbers have no gap that a `lagged` notice does not account for. nchan is left out, with a
//! note, when it is not installed.

use super::measure::{self, Plan, Setup, Variant};
use super::results::{self, FanoutRun};
use crate::load;
use crate::nchan::{self, Nginx};
use crate::report::{ScenarioReport, Table, Target, fmt, fmt_pair, ratio};
use crate::servers::{self, Server};
use crate::settings::Settings;

/// The scenario's servers, by index (nchan only when installed).
const DAEMON: usize = 0;
const CEILING: usize = 1;
const NCHAN: usize = 2;

/// The scenario: a burst and a paced stream, daemon, ceiling and nchan alternating,
/// `settings.runs` times.
pub async fn fanout(settings: &Settings) -> anyhow::Result<ScenarioReport> {
    let (mut servers, nchan_skipped) = start_servers(settings, settings.subscribers)?;
    let plan = Plan {
        setups: servers
            .iter()
            .enumerate()
            .map(|(index, server)| Setup::single(server.kind.label(), index))
            .collect(),
        variants: Variant::both(settings),
        followers: settings.subscribers,
    };
    let measured = measure::measure("fanout", settings, &mut servers, &plan).await?;
    servers::stop_all(servers);
    Ok(ScenarioReport {
        name: "fanout",
        tables: vec![table(settings, &plan, &measured.medians)],
        targets: targets(&plan, &measured.medians),
        notes: notes(settings, nchan_skipped.as_deref()),
        runs: measured.runs,
    })
}

/// The daemon, ready for `followers` followers, the ceiling, and nchan if installed (else why
/// it was skipped).
fn start_servers(
    settings: &Settings,
    followers: usize,
) -> anyhow::Result<(Vec<Server>, Option<String>)> {
    let mut config = settings.fanout_daemon_config(followers);
    let daemon = servers::start_daemon(&settings.daemon, &mut config)?;
    let ceiling = servers::start_ceiling(settings.subscriber_queue)?;
    let mut servers = vec![daemon, ceiling];
    match Nginx::find() {
        Ok(nginx) => servers.push(nginx.start(followers, settings.subscriber_queue)?),
        Err(err) => {
            eprintln!("fanout: skipping nchan: {err:#}");
            return Ok((servers, Some(format!("{err:#}"))));
        }
    }
    Ok((servers, None))
}

/// The medians of each variant on each server, side by side, each against the ceiling and
/// nchan.
fn table(settings: &Settings, plan: &Plan, medians: &[Vec<FanoutRun>]) -> Table {
    let mut table = Table::new(
        plan.title(
            settings,
            if plan.setups.len() > NCHAN {
                " (nchan: of one channel)"
            } else {
                ""
            },
        ),
        &results::columns(
            "server",
            &[
                "vs ceiling",
                "vs nchan",
                "publish→receive p50 / p99 ms",
                "p99 vs nchan",
                "CPU µs/delivery",
                "client CPU µs/delivery",
            ],
            &["threads (cores busy)", "other load (cores)"],
        ),
    );
    for (variant, setup, run, of_variant) in plan.rows(medians) {
        let ceiling = &of_variant[CEILING];
        let against_nchan = |figure: fn(&FanoutRun) -> f64| {
            of_variant
                .get(NCHAN)
                .map_or_else(|| "-".to_owned(), |nchan| ratio(figure(run), figure(nchan)))
        };
        let own = vec![
            ratio(run.deliveries_per_sec, ceiling.deliveries_per_sec),
            against_nchan(|r| r.deliveries_per_sec),
            fmt_pair(run.p50_ms, run.p99_ms),
            against_nchan(|r| r.p99_ms),
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

/// The daemon's CPU per delivery in the burst, its deliveries/s and p99 against nchan's, and
/// its losses in all runs.
fn targets(plan: &Plan, medians: &[Vec<FanoutRun>]) -> Vec<Target> {
    let mut targets = Vec::new();
    let mut unexplained = 0;
    for (variant, medians) in plan.variants.iter().zip(medians) {
        let daemon = &medians[DAEMON];
        // The targets are for a publisher going as fast as it can; the paced stream (one write
        // per follower per event, no batching possible) measures latency.
        if variant.is_burst() {
            targets.push(Target::at_most(
                format!("fanout: daemon CPU per delivery, {}", variant.name),
                daemon.servers_cpu_us_per_delivery(),
                2.0,
                "µs",
            ));
            if let Some(nchan) = medians.get(NCHAN) {
                targets.extend(against_nchan(variant.name, daemon, nchan));
            }
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

/// The daemon's deliveries/s at least nchan's, its p99 at most nchan's, in `variant`.
fn against_nchan(variant: &str, daemon: &FanoutRun, nchan: &FanoutRun) -> [Target; 2] {
    [
        Target::at_least_of(
            format!("fanout {variant}: daemon deliveries/s"),
            daemon.deliveries_per_sec,
            ("nchan", nchan.deliveries_per_sec),
            "/s",
        ),
        Target::at_most_of(
            format!("fanout {variant}: daemon publish→receive p99"),
            daemon.p99_ms,
            ("nchan", nchan.p99_ms),
            "ms",
        ),
    ]
}

/// What the table's figures mean; `nchan_skipped` says why nchan is not in it.
fn notes(settings: &Settings, nchan_skipped: Option<&str>) -> Vec<String> {
    let nchan = match nchan_skipped {
        Some(why) => format!("nchan was skipped: {why}"),
        None => format!(
            "nchan is the bench's own nginx with the nchan module, {} worker processes (one per \
             core, as the daemon and the ceiling run a worker thread per core), each run on a \
             fresh channel keeping its last {} messages (`nchan_message_buffer_length`, the \
             subscriber queue), followed as EventSource; its CPU is the master's and the \
             workers'. Before the first event the bench posts unnumbered messages until every \
             follower has one, then POSTs each event (the ceiling's JSON, stamped just before) on \
             one keep-alive connection, the next as soon as nginx accepted the last (burst) or \
             after the `sleep` tool's pause (paced). nchan's ids are `time:tag`: gaps are checked \
             on the data's `progress`; it sends no lag notice",
            nchan::worker_processes(),
            settings.subscriber_queue
        ),
    };
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
        nchan,
        "vs ceiling and vs nchan are deliveries/s over theirs (above 1×: more); p99 vs nchan is \
         p99 over nchan's (below 1×: less latency)"
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
