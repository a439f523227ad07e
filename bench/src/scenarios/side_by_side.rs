//! What the closed-loop scenarios share: the daemon and the ceiling started side by side, the
//! warm-up and timed limits, and one timed run that hands the clients back for the next.

use crate::load::{self, Limit, LoadRun, Op, Worker};
use crate::servers::{self, Server};
use crate::settings::Settings;

/// Starts both servers for a scenario: the daemon (index 0), then the ceiling (index 1).
pub fn start_both(settings: &Settings, max_sessions: usize) -> anyhow::Result<[Server; 2]> {
    let mut config = settings.daemon_config(max_sessions);
    let daemon = servers::start_daemon(&settings.daemon, &mut config)?;
    let ceiling = servers::start_ceiling(settings.subscriber_queue)?;
    Ok([daemon, ceiling])
}

/// As long as the warm-up lasts, however many operations.
pub fn warmup(settings: &Settings) -> Limit {
    Limit {
        duration: settings.warmup,
        max_ops: u64::MAX,
    }
}

/// As long as a timed run lasts, however many operations.
pub fn timed(settings: &Settings) -> Limit {
    Limit {
        duration: settings.duration,
        max_ops: u64::MAX,
    }
}

/// `workers` after a warm-up of `op` on `server`, unmeasured.
pub async fn warmed(
    server: &Server,
    workers: Vec<Worker>,
    op: Op,
    settings: &Settings,
) -> anyhow::Result<Vec<Worker>> {
    let (_, workers) = load::run(server, workers, op, warmup(settings)).await?;
    Ok(workers)
}

/// One timed run of `op` on `server` by `workers` (theirs again afterwards), checking that the
/// server is still up.
pub async fn timed_run(
    server: &mut Server,
    workers: &mut Vec<Worker>,
    op: Op,
    settings: &Settings,
) -> anyhow::Result<LoadRun> {
    let clients = std::mem::take(workers);
    let (run, clients) = load::run(server, clients, op, timed(settings)).await?;
    server.check_alive()?;
    *workers = clients;
    Ok(run)
}
