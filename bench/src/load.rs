//! Closed-loop load: `n` keep-alive clients, each sending its next request as soon as the previous
//! answer has been read in full, for a fixed time or a fixed number of operations. Server CPU time
//! is read from /proc right before the clients start and right after the last one stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::Full;
use tokio::sync::Barrier;

use crate::client::{self, Conn, Creds};
use crate::cpu::CpuWindow;
use crate::servers::Server;
use crate::stats;

/// What one request of the loop is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `tools/call echo`, its SSE read to the end.
    EchoCall,
    /// `ping`: the cheapest authenticated `POST /mcp`.
    Ping,
    /// `GET /health`: no credentials, no actor.
    Health,
    /// `POST /session`.
    CreateSession,
    /// `tools/call` by a standard MCP client (2025-11-25 session), its response read to the
    /// end; an error or an `isError` result fails the run.
    StandardCall(ToolCall),
}

/// Which tool a [`Op::StandardCall`] calls, with what.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ToolCall {
    /// The tool's name as the server lists it (`echo`, `everything__echo`).
    pub name: &'static str,
    /// Its arguments, a JSON object (`{"message":"hello"}`).
    pub arguments: &'static str,
}

impl ToolCall {
    /// The `params` of a `tools/call` of it.
    pub fn params(&self) -> String {
        format!(
            r#"{{"name":"{}","arguments":{}}}"#,
            self.name, self.arguments
        )
    }

    /// Whether `answer`, a result, says that the tool failed.
    pub fn failed(answer: &[u8]) -> bool {
        client::contains(answer, b"\"isError\":true")
    }
}

/// One simulated client: a connection and the sessions it takes turns with.
pub struct Worker {
    conn: Conn,
    sessions: Vec<Creds>,
    turn: usize,
    seq: u64,
}

impl Worker {
    /// A client using `sessions` in turn (may be empty for `Health` and `CreateSession`).
    pub fn new(conn: Conn, sessions: Vec<Creds>) -> Self {
        Self {
            conn,
            sessions,
            turn: 0,
            seq: 0,
        }
    }

    fn next_session(&mut self) -> anyhow::Result<Creds> {
        let creds = self
            .sessions
            .get(self.turn % self.sessions.len().max(1))
            .context("this client has no session")?
            .clone();
        self.turn += 1;
        Ok(creds)
    }

    /// Performs one operation and checks its answer.
    pub async fn run(&mut self, op: Op) -> anyhow::Result<()> {
        self.seq += 1;
        let seq = self.seq;
        match op {
            Op::EchoCall => {
                let creds = self.next_session()?;
                let body = format!(
                    r#"{{"jsonrpc":"2.0","id":{seq},"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"hello"}}}}}}"#
                );
                let request = self.conn.mcp(&creds, Bytes::from(body))?;
                let (status, body) = self.conn.exchange(request).await?;
                expect(status, &body, b"\"result\"", "tools/call echo")
            }
            Op::Ping => {
                let creds = self.next_session()?;
                let body = format!(r#"{{"jsonrpc":"2.0","id":{seq},"method":"ping"}}"#);
                let request = self.conn.mcp(&creds, Bytes::from(body))?;
                let (status, body) = self.conn.exchange(request).await?;
                expect(status, &body, b"\"result\"", "ping")
            }
            Op::Health => {
                let request = self
                    .conn
                    .request(Method::GET, "/health")
                    .body(Full::new(Bytes::new()))?;
                let (status, body) = self.conn.exchange(request).await?;
                expect(status, &body, b"\"ok\"", "GET /health")
            }
            Op::CreateSession => {
                let request = self.conn.session_request()?;
                let (status, body) = self.conn.exchange(request).await?;
                expect(status, &body, b"\"token\"", "POST /session")
            }
            Op::StandardCall(tool) => {
                let creds = self.next_session()?;
                let body = format!(
                    r#"{{"jsonrpc":"2.0","id":{seq},"method":"tools/call","params":{}}}"#,
                    tool.params()
                );
                let request = self.conn.standard_mcp(&creds, Bytes::from(body))?;
                let (status, body) = self.conn.exchange(request).await?;
                expect(status, &body, b"\"result\"", tool.name)?;
                if ToolCall::failed(&body) {
                    bail!("{} failed: {}", tool.name, String::from_utf8_lossy(&body));
                }
                Ok(())
            }
        }
    }
}

fn expect(status: StatusCode, body: &[u8], needle: &[u8], what: &str) -> anyhow::Result<()> {
    if status != StatusCode::OK || !client::contains(body, needle) {
        bail!(
            "{what} answered {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        );
    }
    Ok(())
}

/// Opens `n` connections to `server`.
pub async fn connect(server: &Server, n: usize) -> anyhow::Result<Vec<Conn>> {
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(Conn::connect(server.addr).await?);
    }
    Ok(conns)
}

/// How a client gets its session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    /// `POST /session` (the daemon's own clients).
    Construct,
    /// `initialize` (a standard MCP client, the daemon's or any MCP server's).
    Standard,
}

/// `n` clients, each with a session of its own, made by `handshake`.
pub async fn workers_with_own_sessions(
    server: &Server,
    n: usize,
    handshake: Handshake,
) -> anyhow::Result<Vec<Worker>> {
    let mut workers = Vec::with_capacity(n);
    for mut conn in connect(server, n).await? {
        let creds = match handshake {
            Handshake::Construct => conn.create_session().await?,
            Handshake::Standard => conn.initialize().await?,
        };
        workers.push(Worker::new(conn, vec![creds]));
    }
    Ok(workers)
}

/// How long, or how many operations.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    /// Stop starting operations after this long.
    pub duration: Duration,
    /// Stop after this many operations in all.
    pub max_ops: u64,
}

/// What one closed-loop run measured.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LoadRun {
    /// Clients.
    pub concurrency: usize,
    /// Operations completed.
    pub ops: u64,
    /// Wall time, s.
    pub secs: f64,
    /// Operations per second.
    pub ops_per_sec: f64,
    /// Median latency, ms.
    pub p50_ms: f64,
    /// 99th-percentile latency, ms.
    pub p99_ms: f64,
    /// Server CPU time per operation, µs.
    pub server_cpu_us: f64,
    /// Of which in the kernel (the server's system time: its syscalls, and the loopback TCP
    /// work they carry; an estimate, see [`crate::procfs::Snapshot::kernel_share_since`]), µs per
    /// operation.
    pub server_kernel_us: f64,
    /// Load generator CPU time per operation, µs.
    pub client_cpu_us: f64,
    /// CPU used on the machine by anything but the server and the load generator (other
    /// processes, and kernel threads), in cores: how noisy the run was.
    pub other_cores: f64,
    /// Server threads by name: CPU seconds per wall second (1.0 = one core), busiest first.
    pub threads: Vec<(String, f64)>,
}

/// One client of a closed loop: made ready before the clock starts, then asked for one operation
/// after another. The HTTP [`Worker`]s and the stdio load's clients both run through
/// [`closed_loop`].
pub trait Client: Send + 'static {
    /// Gets ready to start (a closed connection reopened); an error fails the run once every
    /// client has reached the start, so that none waits for it forever.
    fn ready(&mut self) -> impl Future<Output = anyhow::Result<()>> + Send;

    /// Performs one operation and checks its answer.
    fn operate(&mut self) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// A [`Worker`] doing `op` every turn.
struct Looping {
    worker: Worker,
    op: Op,
}

impl Client for Looping {
    async fn ready(&mut self) -> anyhow::Result<()> {
        self.worker.conn.ensure_open().await
    }

    async fn operate(&mut self) -> anyhow::Result<()> {
        self.worker.run(self.op).await
    }
}

/// Runs `op` on every worker in a closed loop within `limit`; returns the workers for reuse.
pub async fn run(
    server: &Server,
    workers: Vec<Worker>,
    op: Op,
    limit: Limit,
) -> anyhow::Result<(LoadRun, Vec<Worker>)> {
    let clients = workers
        .into_iter()
        .map(|worker| Looping { worker, op })
        .collect();
    let (run, clients) = closed_loop(server.pid, clients, limit).await?;
    Ok((
        run,
        clients.into_iter().map(|client| client.worker).collect(),
    ))
}

/// Runs every client in a closed loop within `limit`, all starting together once each is ready;
/// the server's CPU is `pid`'s. Returns the clients for reuse.
pub async fn closed_loop<C: Client>(
    pid: u32,
    clients: Vec<C>,
    limit: Limit,
) -> anyhow::Result<(LoadRun, Vec<C>)> {
    let concurrency = clients.len();
    let barrier = Arc::new(Barrier::new(concurrency + 1));
    let started = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(concurrency);
    let deadline_holder = Arc::new(std::sync::OnceLock::<Instant>::new());
    for mut client in clients {
        let barrier = Arc::clone(&barrier);
        let started = Arc::clone(&started);
        let deadline = Arc::clone(&deadline_holder);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(4096);
            let ready = client.ready().await;
            barrier.wait().await;
            ready?;
            let deadline = *deadline.get().expect("set before the barrier opens");
            while started.fetch_add(1, Ordering::Relaxed) < limit.max_ops {
                let begun = Instant::now();
                if begun >= deadline {
                    break;
                }
                client.operate().await?;
                let micros = begun.elapsed().as_micros();
                latencies.push(u32::try_from(micros).unwrap_or(u32::MAX));
            }
            anyhow::Ok((client, latencies, Instant::now()))
        }));
    }
    let window = CpuWindow::open(&[pid])?;
    let start = window.start;
    let _ = deadline_holder.set(start + limit.duration);
    barrier.wait().await;
    let mut clients = Vec::with_capacity(concurrency);
    let mut latencies = Vec::new();
    let mut end = start;
    for task in tasks {
        let (client, samples, finished) = task.await??;
        clients.push(client);
        latencies.extend(samples);
        end = end.max(finished);
    }
    let run = LoadRun::of(concurrency, latencies, window, end)?;
    Ok((run, clients))
}

/// The daemon's main thread, as the kernel names it (cut to 15 characters): the actix System
/// arbiter, where its actors and its upstream servers' connections run.
pub const DAEMON_MAIN_THREAD: &str = "construct-acto";

impl LoadRun {
    /// How busy the daemon's main thread was, in cores (NaN when the server is not the daemon).
    pub fn main_thread_busy(&self) -> f64 {
        self.threads
            .iter()
            .find(|(name, _)| name.starts_with(DAEMON_MAIN_THREAD))
            .map_or(f64::NAN, |(_, busy)| *busy)
    }

    /// What a run of `concurrency` clients measured: its latencies (µs), what it cost since
    /// `window` opened (the server's CPU is the first pid's), until `end`.
    pub fn of(
        concurrency: usize,
        mut latencies: Vec<u32>,
        window: CpuWindow,
        end: Instant,
    ) -> anyhow::Result<Self> {
        let start = window.start;
        let spent = window.close()?;
        let secs = (end.max(start) - start).as_secs_f64();
        let ops = latencies.len() as u64;
        if ops == 0 {
            bail!("no operation completed");
        }
        Ok(LoadRun {
            concurrency,
            ops,
            secs,
            ops_per_sec: ops as f64 / secs,
            p50_ms: stats::percentile_ms(&mut latencies, 50.0),
            p99_ms: stats::percentile_ms(&mut latencies, 99.0),
            server_cpu_us: spent.servers_us[0] / ops as f64,
            server_kernel_us: spent.servers_kernel_us[0] / ops as f64,
            client_cpu_us: spent.client_us / ops as f64,
            other_cores: spent.other_cores,
            threads: spent.threads(0, secs),
        })
    }
}

/// Medians, field by field, of several runs at the same settings.
pub fn median(runs: &[LoadRun]) -> LoadRun {
    LoadRun {
        concurrency: runs.first().map_or(0, |r| r.concurrency),
        ops: stats::median_of(runs, |r| r.ops as f64) as u64,
        secs: stats::median_of(runs, |r| r.secs),
        ops_per_sec: stats::median_of(runs, |r| r.ops_per_sec),
        p50_ms: stats::median_of(runs, |r| r.p50_ms),
        p99_ms: stats::median_of(runs, |r| r.p99_ms),
        server_cpu_us: stats::median_of(runs, |r| r.server_cpu_us),
        server_kernel_us: stats::median_of(runs, |r| r.server_kernel_us),
        client_cpu_us: stats::median_of(runs, |r| r.client_cpu_us),
        other_cores: stats::median_of(runs, |r| r.other_cores),
        threads: median_threads(runs.iter().map(|r| r.threads.as_slice())),
    }
}

/// Per thread name, the median utilization over runs, busiest first.
pub fn median_threads<'a>(
    runs: impl Iterator<Item = &'a [(String, f64)]> + Clone,
) -> Vec<(String, f64)> {
    let mut names: Vec<String> = Vec::new();
    for run in runs.clone() {
        for (name, _) in run {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    let mut medians: Vec<(String, f64)> = names
        .into_iter()
        .map(|name| {
            let values = runs
                .clone()
                .map(|run| {
                    run.iter()
                        .find(|(n, _)| *n == name)
                        .map_or(0.0, |(_, u)| *u)
                })
                .collect();
            (name, stats::median(values))
        })
        .collect();
    medians.sort_by(|a, b| b.1.total_cmp(&a.1));
    medians
}

/// `workers 0.93, main 0.41` for the busiest threads (at least 5% of a core). The daemon's main
/// thread (`construct-actor`) runs the actix System arbiter, where every actor lives; its HTTP
/// workers are `actix-rt|system:0|arbiter:N` (cut to 15 characters by the kernel).
pub fn describe_threads(threads: &[(String, f64)]) -> String {
    let label = |name: &str| -> String {
        if name.starts_with("actix-rt|system") {
            "workers".into()
        } else if name.starts_with(DAEMON_MAIN_THREAD) {
            "main/actors".into()
        } else if name.starts_with("construct-benc") {
            "main".into()
        } else {
            name.to_owned()
        }
    };
    let busy: Vec<String> = threads
        .iter()
        .filter(|(_, u)| *u >= 0.05)
        .map(|(name, u)| format!("{} {u:.2}", label(name)))
        .collect();
    if busy.is_empty() {
        "-".into()
    } else {
        busy.join(", ")
    }
}
