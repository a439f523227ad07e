//! How fan-out runs are measured, for both fan-out scenarios: where each run publishes and
//! follows ([`Setup`]), how it publishes ([`Variant`]), and [`measure`], which runs every variant
//! on every setup of a [`Plan`], run after run.

use std::time::Duration;

use serde_json::json;

use super::followers;
use super::publisher::Publisher;
use super::results::FanoutRun;
use crate::cpu::CpuWindow;
use crate::servers::Server;
use crate::settings::Settings;

/// Where a fan-out run publishes and follows, and whose CPU time it measures, as indexes into
/// the scenario's servers.
#[derive(Debug)]
pub struct Setup {
    /// For tables, logs and JSON.
    pub label: &'static str,
    /// The server the run publishes on (see [`Publisher`]).
    pub publisher: usize,
    /// The server every follower subscribes to.
    pub followers: usize,
    /// The server processes whose CPU time is measured, with their labels.
    pub measured: Vec<(&'static str, usize)>,
}

impl Setup {
    /// Everything on server `index`.
    pub fn single(label: &'static str, index: usize) -> Self {
        Self {
            label,
            publisher: index,
            followers: index,
            measured: vec![(label, index)],
        }
    }
}

/// How a fan-out variant publishes.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    pub name: &'static str,
    pub steps: u64,
    pub duration_ms: u64,
}

impl Variant {
    /// A burst (as fast as the publisher can) and a paced stream (one event per
    /// `settings.fanout_interval_ms`).
    pub fn both(settings: &Settings) -> [Variant; 2] {
        [
            Variant {
                name: "burst",
                steps: settings.events,
                duration_ms: 0,
            },
            Variant {
                name: "paced",
                steps: settings.paced_events,
                duration_ms: settings.paced_events * settings.fanout_interval_ms,
            },
        ]
    }

    /// Whether the publisher goes as fast as it can.
    pub fn is_burst(&self) -> bool {
        self.duration_ms == 0
    }
}

/// What a fan-out scenario measures: every variant on every setup, with this many followers.
#[derive(Debug)]
pub struct Plan {
    /// Where runs publish and follow, in the table's order.
    pub setups: Vec<Setup>,
    /// How runs publish.
    pub variants: [Variant; 2],
    /// Followers per run.
    pub followers: usize,
}

impl Plan {
    /// A table's title: the followers, `setups` (what the table's setups are, after a `;`, or
    /// an aside), the variants, the runs.
    pub fn title(&self, settings: &Settings, setups: &str) -> String {
        format!(
            "{} followers of one session{setups}; burst: {} events as fast as the publisher goes; \
             paced: {} events, one per {} ms; median of {} runs",
            self.followers,
            settings.events,
            settings.paced_events,
            settings.fanout_interval_ms,
            settings.runs
        )
    }

    /// A table's rows, in order: each variant on each setup, with its median run and the medians
    /// of all setups of that variant (to compare with).
    pub fn rows<'a>(
        &'a self,
        medians: &'a [Vec<FanoutRun>],
    ) -> impl Iterator<Item = (&'a Variant, &'a Setup, &'a FanoutRun, &'a [FanoutRun])> {
        self.variants
            .iter()
            .zip(medians)
            .flat_map(move |(variant, of_variant)| {
                self.setups
                    .iter()
                    .zip(of_variant)
                    .map(move |(setup, run)| (variant, setup, run, of_variant.as_slice()))
            })
    }
}

/// What [`measure`] found.
pub struct Measured {
    /// The median of each variant on each setup: `medians[variant][setup]`.
    pub medians: Vec<Vec<FanoutRun>>,
    /// Every run, as measured.
    pub runs: serde_json::Value,
}

/// Runs every variant on every setup of `plan` `settings.runs` times, alternating run by run so
/// that drift on a noisy machine hits all setups alike; checks after each run that every server
/// is still up.
pub async fn measure(
    scenario: &str,
    settings: &Settings,
    servers: &mut [Server],
    plan: &Plan,
) -> anyhow::Result<Measured> {
    let mut runs: Vec<Vec<Vec<FanoutRun>>> =
        vec![vec![Vec::with_capacity(settings.runs); plan.setups.len()]; plan.variants.len()];
    let mut all_runs = Vec::new();
    for _ in 0..settings.runs {
        for (v, variant) in plan.variants.iter().enumerate() {
            for (s, setup) in plan.setups.iter().enumerate() {
                let run = run_once(servers, setup, plan.followers, variant).await?;
                for server in servers.iter_mut() {
                    server.check_alive()?;
                }
                eprintln!(
                    "  {scenario} {} {}: {}",
                    variant.name,
                    setup.label,
                    run.summary()
                );
                all_runs.push(json!({"variant": variant.name, "setup": setup.label, "run": run}));
                runs[v][s].push(run);
            }
        }
    }
    Ok(Measured {
        medians: runs
            .iter()
            .map(|per_setup| per_setup.iter().map(|r| FanoutRun::median(r)).collect())
            .collect(),
        runs: serde_json::Value::Array(all_runs),
    })
}

/// One fan-out run on `setup` of `servers`: a fresh session (or nchan channel) on the
/// publisher's server, `n` followers on the followers' server, `variant`'s events.
async fn run_once(
    servers: &[Server],
    setup: &Setup,
    n: usize,
    variant: &Variant,
) -> anyhow::Result<FanoutRun> {
    let steps = variant.steps;
    let mut publisher = Publisher::open(&servers[setup.publisher]).await?;
    let stream = publisher.stream(servers[setup.followers].addr);
    let followers = followers::subscribe(&stream, n, steps).await?;
    publisher.reach(&followers, n).await?;
    // Let the last subscriptions settle before measuring.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let pids = setup
        .measured
        .iter()
        .map(|&(_, i)| servers[i].pids())
        .collect::<anyhow::Result<_>>()?;
    let window = CpuWindow::open_servers(pids)?;
    let start = window.start;
    let publish_secs = publisher.publish(steps, variant.duration_ms).await?;
    followers.wait(n).await;
    let spent = window.close()?;
    let seen = followers.finish().await?;
    let labels: Vec<&'static str> = setup.measured.iter().map(|&(label, _)| label).collect();
    FanoutRun::new(&labels, steps, publish_secs, &spent, start, seen)
}
