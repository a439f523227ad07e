//! What the kernel says about a process: CPU time used (from `/proc/<pid>/stat`), resident
//! memory (`VmRSS` in `/proc/<pid>/status`, `Pss` in `/proc/<pid>/smaps_rollup`), its name and
//! its descendants, plus the file-descriptor limit the fan-out needs.

use std::fs;

use anyhow::{Context as _, bail};

/// Clock ticks per second, the unit of `utime` and `stime`.
fn ticks_per_second() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 { ticks as u64 } else { 100 }
}

/// CPU time a process or thread has used so far, from its `stat` line (clock-tick resolution).
#[derive(Debug, Clone, Copy, Default)]
struct StatCpu {
    /// User plus system time, µs.
    total_us: f64,
    /// System time (in the kernel, on the process's behalf: its syscalls, the TCP work they do,
    /// page faults), µs.
    kernel_us: f64,
}

/// The CPU time process `pid` has used so far, all threads.
fn process_cpu(pid: u32) -> anyhow::Result<StatCpu> {
    let path = format!("/proc/{pid}/stat");
    let text = fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    cpu_from_stat(&text)
}

/// utime + stime, and stime, of a `stat` line, µs.
fn cpu_from_stat(text: &str) -> anyhow::Result<StatCpu> {
    // The command name (field 2) is in parentheses and may contain spaces: count from the last
    // closing parenthesis. After it come field 3 (state), ..., field 14 (utime), 15 (stime).
    let rest = text
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .context("malformed /proc stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    if fields.len() < 13 {
        bail!("malformed /proc stat: {text}");
    }
    let utime: u64 = fields[11].parse().context("utime")?;
    let stime: u64 = fields[12].parse().context("stime")?;
    let us = |ticks: u64| ticks as f64 * 1e6 / ticks_per_second() as f64;
    Ok(StatCpu {
        total_us: us(utime + stime),
        kernel_us: us(stime),
    })
}

/// CPU time (µs) of every live thread of process `pid`, by thread id, with the thread's name.
/// Uses the nanosecond `schedstat` run time when the kernel has it, else the `stat` ticks.
pub fn threads(pid: u32) -> anyhow::Result<Vec<ThreadCpu>> {
    let mut threads = Vec::new();
    for entry in fs::read_dir(format!("/proc/{pid}/task"))? {
        let entry = entry?;
        let Some(tid) = entry.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(entry.path().join("stat")) else {
            continue; // the thread has just exited
        };
        let name = stat
            .split_once('(')
            .and_then(|(_, rest)| rest.rsplit_once(')'))
            .map_or_else(String::new, |(name, _)| name.to_owned());
        let precise = fs::read_to_string(entry.path().join("schedstat"))
            .ok()
            .and_then(|text| text.split_whitespace().next()?.parse::<u64>().ok())
            .map(|ns| ns as f64 / 1000.0);
        let cpu_us = match precise {
            Some(us) => us,
            None => match cpu_from_stat(&stat) {
                Ok(cpu) => cpu.total_us,
                Err(_) => continue,
            },
        };
        threads.push(ThreadCpu { tid, name, cpu_us });
    }
    Ok(threads)
}

/// One thread's CPU time so far.
#[derive(Debug, Clone)]
pub struct ThreadCpu {
    /// Its id.
    pub tid: u32,
    /// Its name (`comm`), e.g. `actix-server w`.
    pub name: String,
    /// User plus system time, µs.
    pub cpu_us: f64,
}

/// A process's (or a few processes') CPU time at one instant: the whole-process `stat` totals
/// (which keep the time of threads that have exited, at clock-tick resolution) and each live
/// thread's precise time.
#[derive(Debug, Clone)]
pub struct Snapshot {
    stat: StatCpu,
    /// The live threads.
    pub threads: Vec<ThreadCpu>,
}

impl Snapshot {
    /// Reads process `pid` now.
    pub fn take(pid: u32) -> anyhow::Result<Self> {
        Self::of_processes(&[pid])
    }

    /// Reads the processes `pids` now, as one (a server of several processes: nginx's master
    /// and workers).
    pub fn of_processes(pids: &[u32]) -> anyhow::Result<Self> {
        let mut snapshot = Self {
            stat: StatCpu::default(),
            threads: Vec::new(),
        };
        for &pid in pids {
            snapshot.threads.extend(threads(pid)?);
            let cpu = process_cpu(pid)?;
            snapshot.stat.total_us += cpu.total_us;
            snapshot.stat.kernel_us += cpu.kernel_us;
        }
        Ok(snapshot)
    }

    /// CPU µs used since `earlier`: summed per thread at nanosecond resolution when every thread
    /// of `earlier` is still alive (new ones counted from zero), else from the `stat` totals.
    pub fn cpu_since(&self, earlier: &Snapshot) -> f64 {
        let all_alive = earlier
            .threads
            .iter()
            .all(|old| self.threads.iter().any(|new| new.tid == old.tid));
        if !all_alive {
            return self.stat.total_us - earlier.stat.total_us;
        }
        self.threads
            .iter()
            .map(|new| {
                let old = earlier
                    .threads
                    .iter()
                    .find(|old| old.tid == new.tid)
                    .map_or(0.0, |old| old.cpu_us);
                new.cpu_us - old
            })
            .sum()
    }

    /// The share of the CPU time since `earlier` spent in the kernel on the processes' behalf,
    /// 0 to 1, by the kernel's own user/system accounting over the same stretch: an estimate
    /// (the kernel samples it at each clock tick, 250 or so a second), meant to split the
    /// precise [`Self::cpu_since`], so that the two figures never disagree.
    pub fn kernel_share_since(&self, earlier: &Snapshot) -> f64 {
        let ticked = self.stat.total_us - earlier.stat.total_us;
        if ticked <= 0.0 {
            return 0.0;
        }
        let system = self.stat.kernel_us - earlier.stat.kernel_us;
        (system / ticked).clamp(0.0, 1.0)
    }

    /// Thread utilization between `earlier` and this snapshot (see [`utilization`]).
    pub fn utilization_since(&self, earlier: &Snapshot, wall_secs: f64) -> Vec<(String, f64)> {
        utilization(&earlier.threads, &self.threads, wall_secs)
    }
}

/// How busy each kind of thread was between two snapshots: CPU seconds per wall second, summed
/// over the threads of one name, busiest first (1.0 = one core all the time).
pub fn utilization(
    before: &[ThreadCpu],
    after: &[ThreadCpu],
    wall_secs: f64,
) -> Vec<(String, f64)> {
    let mut by_name: Vec<(String, f64)> = Vec::new();
    for thread in after {
        let start = before
            .iter()
            .find(|b| b.tid == thread.tid)
            .map_or(0.0, |b| b.cpu_us);
        let busy = (thread.cpu_us - start) / 1e6 / wall_secs;
        match by_name.iter_mut().find(|(name, _)| *name == thread.name) {
            Some((_, total)) => *total += busy,
            None => by_name.push((thread.name.clone(), busy)),
        }
    }
    by_name.sort_by(|a, b| b.1.total_cmp(&a.1));
    by_name
}

/// CPU time the whole machine has spent busy (everything but idle and iowait), all cores, µs.
pub fn machine_busy_us() -> anyhow::Result<f64> {
    let text = fs::read_to_string("/proc/stat")?;
    let line = text.lines().next().context("empty /proc/stat")?;
    let fields: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    if fields.len() < 8 {
        bail!("malformed /proc/stat: {line}");
    }
    // user nice system idle iowait irq softirq steal
    let busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7];
    Ok(busy as f64 * 1e6 / ticks_per_second() as f64)
}

/// Resident set size of process `pid`, in KiB.
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    kib_field(&format!("/proc/{pid}/status"), "VmRSS:")
}

/// Proportional set size of process `pid` (its resident pages, each shared one divided by the
/// processes sharing it), in KiB: what summing over processes counts once.
pub fn pss_kib(pid: u32) -> anyhow::Result<u64> {
    kib_field(&format!("/proc/{pid}/smaps_rollup"), "Pss:")
}

/// The `NAME: <n> kB` line's number in the file at `path`.
fn kib_field(path: &str, name: &str) -> anyhow::Result<u64> {
    let text = fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    text.lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {name} in {path}"))
}

/// The command name of process `pid` (`comm`, at most 15 characters).
pub fn comm(pid: u32) -> anyhow::Result<String> {
    let path = format!("/proc/{pid}/comm");
    let text = fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    Ok(text.trim_end().to_owned())
}

/// Every live descendant of process `pid` (children, their children, ...), found by the parent
/// pid of each process in /proc.
pub fn descendants(pid: u32) -> anyhow::Result<Vec<u32>> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    for entry in fs::read_dir("/proc")? {
        let Some(child) = entry?.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        // A process may exit between the listing and the read.
        if let Ok(text) = fs::read_to_string(format!("/proc/{child}/stat"))
            && let Some(parent) = parent_from_stat(&text)
        {
            parents.push((child, parent));
        }
    }
    let mut found = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for &(child, _) in parents.iter().filter(|(_, p)| *p == parent) {
            found.push(child);
            frontier.push(child);
        }
    }
    Ok(found)
}

/// The parent pid (field 4) of a `stat` line.
fn parent_from_stat(text: &str) -> Option<u32> {
    let (_, rest) = text.rsplit_once(')')?;
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Raises this process's open-file limit to its hard limit (children inherit it); returns the
/// new soft limit.
pub fn raise_fd_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid rlimit for the kernel to fill and read.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur < limit.rlim_max {
            let wanted = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) == 0 {
                return wanted.rlim_cur;
            }
        }
    }
    limit.rlim_cur
}

/// The machine, for the report: cores, CPU model, kernel.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Machine {
    /// Online CPUs.
    pub nproc: usize,
    /// `model name` from /proc/cpuinfo.
    pub cpu: String,
    /// `uname -sr`.
    pub kernel: String,
}

impl Machine {
    /// Reads the facts from /proc.
    pub fn read() -> Self {
        let nproc = std::thread::available_parallelism().map_or(1, usize::from);
        let cpu = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|line| line.strip_prefix("model name"))
                    .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
            })
            .unwrap_or_else(|| "unknown".into());
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|text| format!("Linux {}", text.trim()))
            .unwrap_or_else(|_| "unknown".into());
        Self { nproc, cpu, kernel }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_are_read_past_a_command_name_with_spaces_and_parentheses() {
        let line = "4242 (node (worker) 1) S 17 4242 4242 0 -1 4194560 0 0 0 0 3 4";
        assert_eq!(parent_from_stat(line), Some(17));
        assert_eq!(parent_from_stat("garbage"), None);
    }

    #[test]
    fn system_time_is_read_apart_from_user_time() {
        // Fields after the name: state, ppid, pgrp, session, tty, tpgid, flags, minflt, cminflt,
        // majflt, cmajflt, utime (300 ticks), stime (100 ticks).
        let line = "4242 (a (b) c) R 1 4242 4242 0 -1 0 0 0 0 0 300 100 0 0";
        let cpu = cpu_from_stat(line).unwrap();
        let tick_us = 1e6 / ticks_per_second() as f64;
        assert_eq!(cpu.total_us, 400.0 * tick_us);
        assert_eq!(cpu.kernel_us, 100.0 * tick_us);
        assert!(cpu_from_stat("4242 (short) R 1 2").is_err());
    }

    #[test]
    fn this_process_is_found_among_its_parents_descendants() {
        let me = std::process::id();
        let parent = parent_from_stat(&fs::read_to_string("/proc/self/stat").unwrap()).unwrap();
        assert!(descendants(parent).unwrap().contains(&me));
        assert!(rss_kib(me).unwrap() > 0);
        assert!(pss_kib(me).unwrap() > 0);
        assert!(!comm(me).unwrap().is_empty());
    }
}
