//! The process-wide metrics recorder, and the metrics of tool calls, upstream servers and HTTP
//! requests: the
//! `metrics` facade, rendered as Prometheus text by `metrics-exporter-prometheus` for
//! `GET /metrics` (see `crate::http::metrics`).
//!
//! Facts are counted where they happen: sessions, followers and events in the actor crate
//! (`construct_actors::session_metrics`), tool calls in `crate::mcp`, HTTP requests in the
//! request log middleware (`crate::http::request_log`). Every label value is bounded: a tool name
//! (`&'static str` of an enabled tool, or `unknown`), an upstream server's configured name (never
//! a tool name a server chose), an outcome, a route *pattern* (never a raw
//! path, which holds session ids), a method, a status. With metrics disabled no recorder is installed and
//! every recording is a no-op.

use std::cell::RefCell;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use metrics::{
    Counter, Histogram, Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge,
    histogram,
};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Counter: tool calls, by `tool` and `outcome`.
pub const TOOL_CALLS: &str = "construct_tool_calls_total";
/// Histogram: how long tool calls that started ran, by `tool`.
pub const TOOL_CALL_DURATION: &str = "construct_tool_call_duration_seconds";
/// Counter: calls forwarded to an upstream server, by `server` and `outcome`.
pub const UPSTREAM_CALLS: &str = "construct_upstream_calls_total";
/// Histogram: how long forwarded calls ran, by `server`.
pub const UPSTREAM_CALL_DURATION: &str = "construct_upstream_call_duration_seconds";
/// Gauge: the ready connections to an upstream server, by `server` (0 or 1 for a shared one).
pub const UPSTREAM_UP: &str = "construct_upstream_up";
/// Counter: restarts of an upstream server after a failure, by `server`.
pub const UPSTREAM_RESTARTS: &str = "construct_upstream_restarts_total";
/// Counter: reloads of the configuration, by `outcome` ([`Reload`]).
pub const CONFIG_RELOADS: &str = "construct_config_reloads_total";
/// Histogram: time from a request's arrival to its response head, by `route`, `method` and
/// `status`; for streams (SSE), until the stream starts.
pub const HTTP_REQUEST_DURATION: &str = "construct_http_request_duration_seconds";

/// Buckets of [`TOOL_CALL_DURATION`], in seconds: from a millisecond echo to a ten-minute shell.
const TOOL_CALL_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
    600.0,
];
/// Buckets of [`HTTP_REQUEST_DURATION`], in seconds.
const HTTP_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often histogram samples are folded into their buckets between scrapes, so that memory
/// stays bounded whether or not anyone scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// How a tool call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It returned a result that is not an error.
    Ok,
    /// It ran and failed: a result with `isError: true`.
    ToolError,
    /// Its name or arguments were refused (`-32602`), before it ran or by the tool itself.
    InvalidParams,
    /// It panicked (`-32603`).
    Panicked,
    /// It was cancelled (`notifications/cancelled`, its stream closed, its session ended).
    Cancelled,
    /// The daemon stopped it, shutting down (`-32603`).
    Stopped,
    /// Its upstream server failed it: down, gone, too slow, or refusing the request.
    UpstreamError,
}

impl Outcome {
    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::ToolError => "tool_error",
            Self::InvalidParams => "invalid_params",
            Self::Panicked => "panicked",
            Self::Cancelled => "cancelled",
            Self::Stopped => "stopped",
            Self::UpstreamError => "upstream_error",
        }
    }

    /// Every outcome.
    pub const ALL: [Self; 7] = [
        Self::Ok,
        Self::ToolError,
        Self::InvalidParams,
        Self::Panicked,
        Self::Cancelled,
        Self::Stopped,
        Self::UpstreamError,
    ];
}

/// How a reload of the configuration ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reload {
    /// The new configuration is in force.
    Applied,
    /// It could not be read or is not valid: the running one stays.
    Rejected,
}

impl Reload {
    /// Every outcome, each shown at zero from the start.
    pub const ALL: [Self; 2] = [Self::Applied, Self::Rejected];

    /// The `outcome` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Rejected => "rejected",
        }
    }
}

/// The tool label of a call whose tool is not one the daemon offers: client-chosen names never
/// become label values.
pub const UNKNOWN_TOOL: &str = "unknown";

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process-wide recorder (once; later calls reuse it), describes every metric and
/// shows each tool's counters, and the reloads, at zero (each upstream server's are shown as it
/// is configured). Returns the handle that renders them.
pub fn install(
    tools: impl IntoIterator<Item = &'static str>,
) -> anyhow::Result<&'static PrometheusHandle> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle);
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(TOOL_CALL_DURATION.into()), TOOL_CALL_BUCKETS)?
        .set_buckets_for_metric(
            Matcher::Full(UPSTREAM_CALL_DURATION.into()),
            TOOL_CALL_BUCKETS,
        )?
        .set_buckets_for_metric(Matcher::Full(HTTP_REQUEST_DURATION.into()), HTTP_BUCKETS)?
        .install_recorder()?;
    let handle = HANDLE.get_or_init(|| handle);
    construct_actors::session_metrics::describe();
    describe_counter!(
        TOOL_CALLS,
        Unit::Count,
        "Tool calls, by tool and outcome (ok, tool_error, invalid_params, panicked, cancelled, stopped); calls to upstream servers' tools are counted in construct_upstream_calls_total."
    );
    describe_histogram!(
        TOOL_CALL_DURATION,
        Unit::Seconds,
        "How long tool calls that started ran, by tool."
    );
    describe_upstream();
    describe_histogram!(
        HTTP_REQUEST_DURATION,
        Unit::Seconds,
        "Time to the response head (for streams: until the stream starts), by route pattern, method and status."
    );
    for tool in tools {
        for outcome in Outcome::ALL {
            counter!(TOOL_CALLS, "tool" => tool, "outcome" => outcome.as_str()).increment(0);
        }
    }
    for outcome in Reload::ALL {
        counter!(CONFIG_RELOADS, "outcome" => outcome.as_str()).increment(0);
    }
    Ok(handle)
}

/// Shows the upstream server `server`'s series at zero: it was just configured (at the start,
/// or by a reload), and has served nothing yet. Series it already has are left as they are.
pub fn upstream_configured(server: &str) {
    let server = server.to_owned();
    for outcome in Outcome::ALL {
        counter!(UPSTREAM_CALLS, "server" => server.clone(), "outcome" => outcome.as_str())
            .increment(0);
    }
    counter!(UPSTREAM_RESTARTS, "server" => server.clone()).increment(0);
    gauge!(UPSTREAM_UP, "server" => server).increment(0.0);
}

fn describe_upstream() {
    describe_counter!(
        UPSTREAM_CALLS,
        Unit::Count,
        "Calls forwarded to an upstream MCP server, by server and outcome (as for tool calls, and upstream_error)."
    );
    describe_histogram!(
        UPSTREAM_CALL_DURATION,
        Unit::Seconds,
        "How long calls forwarded to an upstream MCP server ran, by server."
    );
    describe_gauge!(
        UPSTREAM_UP,
        Unit::Count,
        "Ready connections to an upstream MCP server, by server: 1 while a shared server is ready, 0 while it starts, failed or restarts; for a session-scoped server, one per session whose connection is ready."
    );
    describe_counter!(
        UPSTREAM_RESTARTS,
        Unit::Count,
        "Restarts of an upstream MCP server after it failed, by server."
    );
    describe_counter!(
        CONFIG_RELOADS,
        Unit::Count,
        "Reloads of the configuration (SIGHUP, or the file changing), by outcome: applied, or rejected (the file could not be read or is not valid; nothing changed)."
    );
}

/// The installed recorder's handle; `None` when metrics are disabled.
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE.get()
}

/// Folds histogram samples into their buckets every few seconds, for as long as the actix
/// system runs. Call once, inside it, after [`install`].
pub fn spawn_upkeep(handle: &'static PrometheusHandle) {
    actix_rt::spawn(async move {
        let mut every = tokio::time::interval(UPKEEP_EVERY);
        loop {
            every.tick().await;
            handle.run_upkeep();
        }
    });
}

/// A tool call that ended with `outcome`; `ran` is how long it ran, `None` when it never
/// started (refused parameters).
pub fn tool_call(tool: &'static str, outcome: Outcome, ran: Option<Duration>) {
    thread_local! {
        static CALLS: Handles<(&'static str, Outcome), Counter> = const { Handles::new() };
        static DURATIONS: Handles<&'static str, Histogram> = const { Handles::new() };
    }
    let calls = CALLS.with(|calls| {
        calls.get(
            |&(name, was)| name == tool && was == outcome,
            || (tool, outcome),
            || counter!(TOOL_CALLS, "tool" => tool, "outcome" => outcome.as_str()),
        )
    });
    calls.increment(1);
    if let Some(ran) = ran {
        let durations = DURATIONS.with(|durations| {
            durations.get(
                |&name| name == tool,
                || tool,
                || histogram!(TOOL_CALL_DURATION, "tool" => tool),
            )
        });
        durations.record(ran);
    }
}

/// A call forwarded to the upstream server `server` that ended with `outcome`; `ran` as for
/// [`tool_call`].
pub fn upstream_call(server: &Arc<str>, outcome: Outcome, ran: Option<Duration>) {
    thread_local! {
        static CALLS: Handles<(Arc<str>, Outcome), Counter> = const { Handles::new() };
        static DURATIONS: Handles<Arc<str>, Histogram> = const { Handles::new() };
    }
    let calls = CALLS.with(|calls| {
        calls.get(
            |(name, was)| name == server && *was == outcome,
            || (Arc::clone(server), outcome),
            || counter!(UPSTREAM_CALLS, "server" => Arc::clone(server), "outcome" => outcome.as_str()),
        )
    });
    calls.increment(1);
    if let Some(ran) = ran {
        let durations = DURATIONS.with(|durations| {
            durations.get(
                |name| name == server,
                || Arc::clone(server),
                || histogram!(UPSTREAM_CALL_DURATION, "server" => Arc::clone(server)),
            )
        });
        durations.record(ran);
    }
}

/// One connection to the upstream server `server` became ready (`up`), or stopped being ready:
/// the gauge counts them, one at most for a shared server, one per session using a
/// session-scoped one.
pub fn upstream_up(server: &str, up: bool) {
    gauge!(UPSTREAM_UP, "server" => server.to_owned()).increment(if up { 1.0 } else { -1.0 });
}

/// A reload of the configuration ended with `outcome`.
pub fn config_reload(outcome: Reload) {
    counter!(CONFIG_RELOADS, "outcome" => outcome.as_str()).increment(1);
}

/// The upstream server `server` is being started again after a failure.
pub fn upstream_restarted(server: &str) {
    counter!(UPSTREAM_RESTARTS, "server" => server.to_owned()).increment(1);
}

/// An HTTP request answered with `status` after `took`. `route` is the matched pattern.
pub fn http_request(route: &str, method: &'static str, status: u16, took: Duration) {
    thread_local! {
        static DURATIONS: Handles<(Box<str>, &'static str, u16), Histogram> =
            const { Handles::new() };
    }
    let histogram = DURATIONS.with(|durations| {
        durations.get(
            |(pattern, verb, code)| *code == status && *verb == method && **pattern == *route,
            || (route.into(), method, status),
            || {
                histogram!(
                    HTTP_REQUEST_DURATION,
                    "route" => route.to_owned(),
                    "method" => method,
                    "status" => status.to_string()
                )
            },
        )
    });
    histogram.record(took);
}

/// Most handles of one metric a thread keeps (label values are bounded, so this is never
/// reached in practice; past it, handles are asked of the recorder every time).
const MAX_HANDLES: usize = 256;

/// Handles of one metric by their label values, kept by each thread that records it. Asking the
/// recorder for a handle builds its labels and hashes and compares them under the registry's
/// lock, several times what recording costs; a handle stays valid for as long as the recorder.
struct Handles<K, H>(RefCell<Vec<(K, H)>>);

impl<K, H: Clone> Handles<K, H> {
    const fn new() -> Self {
        Self(RefCell::new(Vec::new()))
    }

    /// The handle whose labels `matches` says are the ones wanted, made by `make` (and kept,
    /// under `key()`) the first time.
    fn get(
        &self,
        matches: impl Fn(&K) -> bool,
        key: impl FnOnce() -> K,
        make: impl FnOnce() -> H,
    ) -> H {
        let mut handles = self.0.borrow_mut();
        if let Some((_, handle)) = handles.iter().find(|(labels, _)| matches(labels)) {
            return handle.clone();
        }
        let handle = make();
        if handles.len() < MAX_HANDLES {
            handles.push((key(), handle.clone()));
        }
        handle
    }
}
