//! What one fan-out run measured, and the median of several: deliveries per second,
//! publish→receive latency, CPU per delivery of each measured server process, and what the
//! followers missed.

use std::time::Instant;

use anyhow::bail;

use super::followers::Follower;
use crate::cpu::CpuSpent;
use crate::load;
use crate::report::fmt;
use crate::stats;

/// The columns of a fan-out table: the variant, the setup (named `setup`), how fast events went
/// out and arrived, the scenario's `own` columns, what the followers missed, then the scenario's
/// `last` columns; [`FanoutRun::row`] fills them.
pub fn columns<'a>(setup: &'a str, own: &[&'a str], last: &[&'a str]) -> Vec<&'a str> {
    [
        &["variant", setup][..],
        &["events published/s", "deliveries/s"],
        own,
        &[
            "followers complete / lagged",
            "events missed (announced)",
            "unexplained gaps",
        ],
        last,
    ]
    .concat()
}

/// What one run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FanoutRun {
    subscribers: usize,
    events_published: u64,
    /// How long the publishing `tools/call` took, s.
    publish_secs: f64,
    deliveries: u64,
    secs: f64,
    pub deliveries_per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// Each measured server process, in the order of the setup's `measured`.
    pub servers: Vec<ServerCpu>,
    pub client_cpu_us_per_delivery: f64,
    /// Followers that received every event.
    pub complete: usize,
    /// Followers told they lagged.
    pub lagged: usize,
    pub missed: u64,
    pub unexplained_gaps: u64,
    /// CPU used by everything else on the machine, cores.
    pub other_cores: f64,
}

/// One measured server process's share of a run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServerCpu {
    /// Its label in the setup's `measured`.
    pub label: &'static str,
    pub cpu_us_per_delivery: f64,
    /// Cores busy per kind of thread, busiest first.
    pub threads: Vec<(String, f64)>,
}

impl FanoutRun {
    /// The run's figures from what its followers `seen` (`n` of them, `steps` events each
    /// expected) and what the stretch from the first publish to the end cost (`spent`, of the
    /// processes `labels`); the publishing call took `publish_secs`.
    pub fn new(
        labels: &[&'static str],
        steps: u64,
        publish_secs: f64,
        spent: &CpuSpent,
        start: Instant,
        mut seen: Vec<Follower>,
    ) -> anyhow::Result<Self> {
        let end = seen
            .iter()
            .filter_map(|f| f.last_receive)
            .max()
            .unwrap_or(start);
        let secs = (end - start).as_secs_f64().max(1e-6);
        let deliveries: u64 = seen.iter().map(|f| f.events).sum();
        let mut latencies: Vec<u32> = seen
            .iter_mut()
            .flat_map(|f| std::mem::take(&mut f.latencies_us))
            .collect();
        if deliveries == 0 {
            bail!("no event reached any follower");
        }
        let servers = labels
            .iter()
            .enumerate()
            .map(|(i, &label)| ServerCpu {
                label,
                cpu_us_per_delivery: spent.servers_us[i] / deliveries as f64,
                threads: spent.threads(i, spent.wall_secs),
            })
            .collect();
        Ok(FanoutRun {
            subscribers: seen.len(),
            events_published: steps,
            publish_secs,
            deliveries,
            secs,
            deliveries_per_sec: deliveries as f64 / secs,
            p50_ms: stats::percentile_ms(&mut latencies, 50.0),
            p99_ms: stats::percentile_ms(&mut latencies, 99.0),
            servers,
            client_cpu_us_per_delivery: spent.client_us / deliveries as f64,
            complete: seen.iter().filter(|f| f.events == steps).count(),
            lagged: seen.iter().filter(|f| f.lag_notices > 0).count(),
            missed: seen.iter().map(|f| f.missed).sum(),
            unexplained_gaps: seen.iter().map(|f| f.unexplained).sum(),
            other_cores: spent.other_cores,
        })
    }

    /// Events the publisher produced per second.
    pub fn published_per_sec(&self) -> f64 {
        self.events_published as f64 / self.publish_secs
    }

    /// CPU per delivery of all measured server processes together, µs.
    pub fn servers_cpu_us_per_delivery(&self) -> f64 {
        self.servers.iter().map(|s| s.cpu_us_per_delivery).sum()
    }

    /// The median of each field over `r` (all of one variant and setup); any unexplained gap
    /// in any run counts.
    pub fn median(r: &[FanoutRun]) -> FanoutRun {
        let servers = r[0]
            .servers
            .iter()
            .enumerate()
            .map(|(i, first)| ServerCpu {
                label: first.label,
                cpu_us_per_delivery: stats::median_of(r, |x| x.servers[i].cpu_us_per_delivery),
                threads: load::median_threads(r.iter().map(|x| x.servers[i].threads.as_slice())),
            })
            .collect();
        FanoutRun {
            subscribers: r[0].subscribers,
            events_published: r[0].events_published,
            publish_secs: stats::median_of(r, |x| x.publish_secs),
            deliveries: stats::median_of(r, |x| x.deliveries as f64) as u64,
            secs: stats::median_of(r, |x| x.secs),
            deliveries_per_sec: stats::median_of(r, |x| x.deliveries_per_sec),
            p50_ms: stats::median_of(r, |x| x.p50_ms),
            p99_ms: stats::median_of(r, |x| x.p99_ms),
            servers,
            client_cpu_us_per_delivery: stats::median_of(r, |x| x.client_cpu_us_per_delivery),
            complete: stats::median_of(r, |x| x.complete as f64) as usize,
            lagged: stats::median_of(r, |x| x.lagged as f64) as usize,
            missed: stats::median_of(r, |x| x.missed as f64) as u64,
            unexplained_gaps: r.iter().map(|x| x.unexplained_gaps).sum(),
            other_cores: stats::median_of(r, |x| x.other_cores),
        }
    }

    /// Its row in a table of [`columns`], of `variant` on `setup`, with the scenario's `own` and
    /// `last` cells.
    pub fn row(
        &self,
        variant: &str,
        setup: &str,
        own: Vec<String>,
        last: Vec<String>,
    ) -> Vec<String> {
        [
            vec![variant.to_owned(), setup.to_owned()],
            vec![fmt(self.published_per_sec()), fmt(self.deliveries_per_sec)],
            own,
            vec![
                format!("{} / {}", self.complete, self.lagged),
                self.missed.to_string(),
                self.unexplained_gaps.to_string(),
            ],
            last,
        ]
        .concat()
    }

    /// One line for the progress log.
    pub fn summary(&self) -> String {
        let cpu: Vec<String> = self
            .servers
            .iter()
            .map(|s| format!("{} {:.2}", s.label, s.cpu_us_per_delivery))
            .collect();
        format!(
            "{} deliveries, {:.0}/s, published in {:.2} s, p50 {:.2} ms, p99 {:.2} ms, µs CPU/delivery: {}, {} complete, {} lagged, {} unexplained",
            self.deliveries,
            self.deliveries_per_sec,
            self.publish_secs,
            self.p50_ms,
            self.p99_ms,
            cpu.join(", "),
            self.complete,
            self.lagged,
            self.unexplained_gaps
        )
    }
}
