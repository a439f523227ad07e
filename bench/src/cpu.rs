//! What a measured stretch of a run cost in CPU time: each server process's, the load
//! generator's own, and the rest of the machine's (how noisy the run was). Closed-loop load and
//! fan-out runs read /proc the same way around the stretch they time: the machine, the servers,
//! then this process before it, and the servers, this process, then the machine after it.

use std::time::Instant;

use crate::procfs::{self, Snapshot};

/// The readings taken when a measured stretch began.
pub struct CpuWindow {
    /// Each server's processes.
    servers_pids: Vec<Vec<u32>>,
    machine_us: f64,
    servers: Vec<Snapshot>,
    client: Snapshot,
    /// When the stretch began, right after the readings.
    pub start: Instant,
}

/// What a measured stretch cost.
pub struct CpuSpent {
    /// Each server's snapshot when the stretch began, in the order of the servers given.
    before: Vec<Snapshot>,
    /// The same when it ended.
    after: Vec<Snapshot>,
    /// CPU µs each server used, in the order of the servers given.
    pub servers_us: Vec<f64>,
    /// Of which in the kernel (system time), µs, in the same order.
    pub servers_kernel_us: Vec<f64>,
    /// CPU µs this process (the load generator) used.
    pub client_us: f64,
    /// CPU used by anything but the servers and the load generator (other processes, kernel
    /// threads), in cores.
    pub other_cores: f64,
    /// How long the stretch lasted, s.
    pub wall_secs: f64,
}

/// Snapshots of each server's processes, now.
fn snapshots(servers_pids: &[Vec<u32>]) -> anyhow::Result<Vec<Snapshot>> {
    servers_pids
        .iter()
        .map(|pids| Snapshot::of_processes(pids))
        .collect()
}

impl CpuWindow {
    /// Begins a stretch measuring the server processes `pids`, one process per server.
    pub fn open(pids: &[u32]) -> anyhow::Result<Self> {
        Self::open_servers(pids.iter().map(|&pid| vec![pid]).collect())
    }

    /// Begins a stretch measuring servers of one or more processes each: `servers_pids[i]` are
    /// server `i`'s.
    pub fn open_servers(servers_pids: Vec<Vec<u32>>) -> anyhow::Result<Self> {
        let machine_us = procfs::machine_busy_us()?;
        let servers = snapshots(&servers_pids)?;
        let client = Snapshot::take(std::process::id())?;
        Ok(Self {
            servers_pids,
            machine_us,
            servers,
            client,
            start: Instant::now(),
        })
    }

    /// Ends the stretch: what it cost.
    pub fn close(self) -> anyhow::Result<CpuSpent> {
        let after = snapshots(&self.servers_pids)?;
        let client = Snapshot::take(std::process::id())?;
        let machine_us = procfs::machine_busy_us()?;
        let wall_secs = self.start.elapsed().as_secs_f64();
        let servers_us: Vec<f64> = after
            .iter()
            .zip(&self.servers)
            .map(|(after, before)| after.cpu_since(before))
            .collect();
        let servers_kernel_us = after
            .iter()
            .zip(&self.servers)
            .zip(&servers_us)
            .map(|((after, before), us)| us * after.kernel_share_since(before))
            .collect();
        let client_us = client.cpu_since(&self.client);
        let others_us = machine_us - self.machine_us - servers_us.iter().sum::<f64>() - client_us;
        Ok(CpuSpent {
            before: self.servers,
            after,
            servers_us,
            servers_kernel_us,
            client_us,
            other_cores: (others_us / 1e6 / wall_secs).max(0.0),
            wall_secs,
        })
    }
}

impl CpuSpent {
    /// How busy each kind of thread of the `index`-th server was, over `wall_secs`.
    pub fn threads(&self, index: usize, wall_secs: f64) -> Vec<(String, f64)> {
        self.after[index].utilization_since(&self.before[index], wall_secs)
    }
}
