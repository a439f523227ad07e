//! What the `forwarded` scenario reports: every route's medians, what the daemon adds over
//! calling the same upstream program directly (its CPU, the latency), issue 16's targets, and
//! what forwarding costs the daemon over a built-in call.

use super::forwarded_routes::{ROUTES, built_in};
use crate::load::LoadRun;
use crate::report::{Table, Target, fmt, fmt_pair};
use crate::settings::Settings;

/// One route's medians: its run, and its upstream's CPU µs per call (NaN if not read).
pub struct RouteRun {
    pub run: LoadRun,
    pub upstream_cpu_us: f64,
}

/// The medians at one concurrency, route by route.
pub type AtConcurrency = (usize, Vec<RouteRun>);

/// A through-the-daemon route's latency over its direct route's, ms: p50 and p99.
fn added(routes: &[RouteRun], index: usize) -> Option<(f64, f64)> {
    let direct = &routes[ROUTES[index].direct?].run;
    let via = &routes[index].run;
    Some((via.p50_ms - direct.p50_ms, via.p99_ms - direct.p99_ms))
}

/// One row per concurrency and route.
pub fn routes_table(settings: &Settings, medians: &[AtConcurrency]) -> Table {
    let mut table = Table::new(
        format!(
            "`tools/call echo`, every route, {} s per run, median of {} runs",
            settings.duration.as_secs_f64(),
            settings.runs
        ),
        &[
            "concurrency",
            "route",
            "calls/s",
            "p50 / p99 ms",
            "daemon CPU µs/call",
            "upstream CPU µs/call",
            "client CPU µs/call",
            "other load (cores)",
        ],
    );
    for (concurrency, routes) in medians {
        for (route, measured) in ROUTES.iter().zip(routes) {
            let run = &measured.run;
            let (daemon, upstream) = if route.through_daemon() {
                (fmt(run.server_cpu_us), fmt(measured.upstream_cpu_us))
            } else {
                ("-".into(), fmt(run.server_cpu_us))
            };
            table.row(vec![
                concurrency.to_string(),
                route.label.to_owned(),
                fmt(run.ops_per_sec),
                fmt_pair(run.p50_ms, run.p99_ms),
                daemon,
                upstream,
                fmt(run.client_cpu_us),
                fmt(run.other_cores),
            ]);
        }
    }
    table
}

/// For each forwarded route with a direct counterpart: what going through the daemon adds. The
/// main thread's share is the upstream side (the connection, rmcp, the transport; a built-in
/// call costs it nothing); the rest is the HTTP workers' (the client's request and the answer's
/// way back).
pub fn added_table(medians: &[AtConcurrency]) -> Table {
    let mut table = Table::new(
        "Added by the daemon over calling the same upstream program directly (a direct call costs \
         the daemon nothing: all of its CPU is added)",
        &[
            "concurrency",
            "route",
            "daemon CPU µs/call",
            "of which its main thread (the connections)",
            "p50 / p99 added ms",
            "upstream CPU µs/call, direct → through the daemon",
        ],
    );
    for (concurrency, routes) in medians {
        for (i, route) in ROUTES.iter().enumerate() {
            let (Some(direct), Some((p50, p99))) = (route.direct, added(routes, i)) else {
                continue;
            };
            let run = &routes[i].run;
            table.row(vec![
                concurrency.to_string(),
                route.label.to_owned(),
                fmt(run.server_cpu_us),
                fmt(run.main_thread_busy() * 1e6 / run.ops_per_sec),
                fmt_pair(p50, p99),
                format!(
                    "{} → {}",
                    fmt(routes[direct].run.server_cpu_us),
                    fmt(routes[i].upstream_cpu_us)
                ),
            ]);
        }
    }
    table
}

/// Issue 16's targets for forwarded calls: the daemon's CPU per forwarded call at the highest
/// concurrency (≤ 10 µs), and the p50 it adds for a single client (≤ 0.1 ms).
pub fn targets(medians: &[AtConcurrency]) -> Vec<Target> {
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
pub fn notes(medians: &[AtConcurrency]) -> Vec<String> {
    let built_in = built_in();
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
