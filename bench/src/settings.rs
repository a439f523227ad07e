//! What every scenario is told: sizes and durations (the options, or their full-run or smoke
//! defaults), the daemon binary, and the daemon's configuration built from them.

use std::path::PathBuf;
use std::time::Duration;

use crate::daemon_config::DaemonConfig;
use crate::options::Options;

/// Everything the scenarios need to know.
pub struct Settings {
    /// The daemon binary.
    pub daemon: PathBuf,
    /// Runs per measurement.
    pub runs: usize,
    /// Length of a timed run.
    pub duration: Duration,
    /// Length of the warm-up before timed runs.
    pub warmup: Duration,
    /// Client counts for `calls`.
    pub concurrency: Vec<usize>,
    /// Sessions per `sessions` run.
    pub sessions: usize,
    /// Clients creating them.
    pub session_concurrency: usize,
    /// Longest a `sessions` run may take.
    pub sessions_cap: Duration,
    /// Followers in `fanout`.
    pub subscribers: usize,
    /// Followers in `cluster-fanout`.
    pub cluster_followers: usize,
    /// Events per burst `fanout` and `cluster-fanout` run.
    pub events: u64,
    /// Events per paced `fanout` and `cluster-fanout` run.
    pub paced_events: u64,
    /// Interval between paced events, ms.
    pub fanout_interval_ms: u64,
    /// Events queued per follower.
    pub subscriber_queue: usize,
    /// Sessions in `auth-contention`.
    pub auth_sessions: usize,
    /// Clients in `auth-contention`.
    pub auth_concurrency: usize,
    /// `--set` overrides.
    pub extra: Vec<(String, String)>,
}

impl Settings {
    /// The settings of a run with `options` and the daemon at `daemon`: what `--smoke` makes
    /// tiny, what the options leave out at its full-run or smoke value.
    pub fn new(options: &Options, daemon: PathBuf) -> anyhow::Result<Self> {
        let smoke = options.smoke;
        let pick = |full: usize, tiny: usize| if smoke { tiny } else { full };
        Ok(Settings {
            daemon,
            runs: options.runs.unwrap_or(pick(3, 1)).max(1),
            duration: Duration::from_secs_f64(options.duration.unwrap_or(if smoke {
                0.3
            } else {
                4.0
            })),
            warmup: Duration::from_secs_f64(if smoke { 0.1 } else { 0.5 }),
            concurrency: if options.concurrency.is_empty() {
                vec![1, 16, 64]
            } else {
                options.concurrency.clone()
            },
            sessions: options.sessions.unwrap_or(pick(100_000, 300)).max(1),
            session_concurrency: options.session_concurrency.max(1),
            sessions_cap: Duration::from_secs(if smoke { 30 } else { 300 }),
            subscribers: options.subscribers.unwrap_or(pick(1000, 50)).max(1),
            cluster_followers: options.cluster_followers.unwrap_or(pick(100, 10)).max(1),
            events: options.events.unwrap_or(pick(2000, 50) as u64).max(1),
            paced_events: options.paced_events.unwrap_or(pick(100, 10) as u64).max(1),
            fanout_interval_ms: options.fanout_interval_ms,
            subscriber_queue: options.subscriber_queue.max(1),
            auth_sessions: options.auth_sessions.unwrap_or(pick(1000, 100)).max(1),
            auth_concurrency: options.auth_concurrency.max(1),
            extra: extra_config(&options.set)?,
        })
    }

    /// The daemon's configuration for a scenario needing up to `max_sessions` sessions.
    pub fn daemon_config(&self, max_sessions: usize) -> DaemonConfig {
        let mut config = DaemonConfig::for_benchmarks(max_sessions, 64, self.subscriber_queue);
        for (key, value) in &self.extra {
            config.set(key, value);
        }
        config
    }

    /// The configuration of a daemon serving `followers` followers of one session.
    pub fn fanout_daemon_config(&self, followers: usize) -> DaemonConfig {
        let mut config = self.daemon_config(1000);
        config.set("sessions.max_subscribers", &(followers + 16).to_string());
        config
    }
}

/// The `--set KEY=VALUE` items as `(key, value)`.
fn extra_config(items: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    items
        .iter()
        .map(|item| {
            item.split_once('=')
                .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                .ok_or_else(|| anyhow::anyhow!("--set {item}: expected KEY=VALUE"))
        })
        .collect()
}
