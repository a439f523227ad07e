//! Starting and stopping the servers under test, each as a process of its own so that its CPU
//! time and memory can be read from /proc the same way: the daemon (release build, with a
//! generated configuration), the ceiling (this binary's hidden `ceiling` subcommand), the
//! upstream MCP servers of the `forwarded` scenario (server-everything over Streamable HTTP, and
//! this binary's hidden `echo-upstream` subcommand), for the cluster scenario the
//! `redis-server` the daemons share (started by [`crate::redis`]), and for the fan-out scenario
//! nginx with the nchan module (started by [`crate::nchan`]).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::daemon_config::DaemonConfig;
use crate::procfs;

/// How long a server may take to print where it listens.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);

/// Which server a measurement is of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// construct-actor.
    Daemon,
    /// The minimal actix-web server doing the same HTTP exchange and no work.
    Ceiling,
    /// The Redis server of a cluster of daemons.
    Redis,
    /// `@modelcontextprotocol/server-everything` (node) over Streamable HTTP.
    Everything,
    /// The rmcp Streamable HTTP server with one echo tool (`echo-upstream`).
    RmcpEcho,
    /// nginx with the nchan pub/sub module.
    Nchan,
}

impl Kind {
    /// For tables.
    pub fn label(self) -> &'static str {
        match self {
            Self::Daemon => "daemon",
            Self::Ceiling => "ceiling",
            Self::Redis => "redis",
            Self::Everything => "server-everything",
            Self::RmcpEcho => "rmcp echo",
            Self::Nchan => "nchan",
        }
    }
}

/// A running server process, stopped (SIGTERM, then SIGKILL) when dropped.
pub struct Server {
    /// Which one.
    pub kind: Kind,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its process id.
    pub pid: u32,
    /// Whether its child processes are part of it (nginx's workers), see [`Server::pids`].
    with_children: bool,
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    /// The server `child` of `kind`, listening at `addr`, its output in `log`, its files in
    /// `dir` (removed once it is stopped).
    pub fn new(
        kind: Kind,
        addr: SocketAddr,
        child: Child,
        log: PathBuf,
        dir: tempfile::TempDir,
    ) -> Self {
        Self {
            kind,
            addr,
            pid: child.id(),
            with_children: false,
            child,
            log,
            _dir: dir,
        }
    }

    /// The same server, whose child processes are part of it: nginx's master process only
    /// manages the worker processes that serve.
    pub fn with_children(mut self) -> Self {
        self.with_children = true;
        self
    }

    /// The processes whose CPU time is the server's: its own, and its children's when they
    /// are part of it.
    pub fn pids(&self) -> anyhow::Result<Vec<u32>> {
        let mut pids = vec![self.pid];
        if self.with_children {
            pids.extend(procfs::descendants(self.pid)?);
        }
        Ok(pids)
    }

    /// The last lines of its log.
    pub fn log_tail(&self) -> String {
        tail(&self.log)
    }

    /// Its resident memory, in KiB.
    pub fn rss_kib(&self) -> anyhow::Result<u64> {
        procfs::rss_kib(self.pid)
    }

    /// Fails, with the tail of its log, if the process has exited.
    pub fn check_alive(&mut self) -> anyhow::Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "the {} exited ({status}); log tail:\n{}",
                self.kind.label(),
                self.log_tail()
            );
        }
        Ok(())
    }

    /// Stops the process by its pid: SIGTERM, up to 5 s, then SIGKILL.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let pid = libc::pid_t::try_from(self.pid).unwrap_or(0);
        if pid > 0 {
            // SAFETY: plain kill(2) on our own child's pid.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Stops every server, in order.
pub fn stop_all(servers: impl IntoIterator<Item = Server>) {
    for server in servers {
        server.stop();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.terminate();
    }
}

/// The last lines of a log file.
fn tail(path: &Path) -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        let _ = file.read_to_string(&mut text);
    }
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

/// Spawns `command` (stdout piped, stderr to `log`) and waits for its first stdout line, which
/// must contain `http://ADDR`.
fn spawn(
    kind: Kind,
    mut command: Command,
    dir: tempfile::TempDir,
    log: PathBuf,
) -> anyhow::Result<Server> {
    let stderr = std::fs::File::create(&log)?;
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr);
    let mut child = command
        .spawn()
        .with_context(|| format!("cannot start the {}: {command:?}", kind.label()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let (first_tx, first_rx) = mpsc::channel();
    // Reads the first line, then keeps draining so that the server can never block on a full
    // pipe.
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next();
        let _ = first_tx.send(first);
        for _ in lines {}
    });
    let mut server = Server::new(kind, "127.0.0.1:0".parse()?, child, log, dir);
    let line = match first_rx.recv_timeout(START_TIMEOUT) {
        Ok(Some(Ok(line))) => line,
        _ => {
            server.check_alive()?;
            bail!(
                "the {} printed no address within {START_TIMEOUT:?}; log tail:\n{}",
                kind.label(),
                server.log_tail()
            );
        }
    };
    server.addr = parse_url(&line).with_context(|| {
        format!(
            "no http://ADDR in the {}'s first line {line:?}",
            kind.label()
        )
    })?;
    Ok(server)
}

/// The socket address of the first `http://HOST:PORT` in `line`.
fn parse_url(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("http://")? + "http://".len()..];
    let end = rest
        .find(|c: char| c == '/' || c.is_whitespace() || c == ')')
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

/// Starts the daemon at `binary` with `config`, in a fresh temporary folder (its cwd, where the
/// sessions live), and waits until it prints its URL.
pub fn start_daemon(binary: &Path, config: &mut DaemonConfig) -> anyhow::Result<Server> {
    let dir = tempfile::Builder::new()
        .prefix("construct-bench-")
        .tempdir()?;
    let path = dir.path().join("daemon.toml");
    // Sessions work in the daemon's own folder (its working directory), outside any home.
    let folder = dir
        .path()
        .to_str()
        .context("the temporary folder is not UTF-8")?;
    config.set("tools.workspace_roots", &format!("[{folder:?}]"));
    for note in config.write_checked(binary, &path)? {
        eprintln!("note: {note}");
    }
    let mut command = Command::new(binary);
    command.arg("--config").arg(&path).current_dir(dir.path());
    // The daemon's environment overrides would change what is measured.
    for (name, _) in std::env::vars_os() {
        if name
            .to_str()
            .is_some_and(|n| n.starts_with("CONSTRUCT_ACTOR_"))
        {
            command.env_remove(name);
        }
    }
    let log = dir.path().join("daemon.log");
    spawn(Kind::Daemon, command, dir, log)
}

/// Starts the ceiling server: this binary's `ceiling` subcommand, its broadcast holding `queue`
/// events per subscriber, as the daemon's subscriber queue does.
pub fn start_ceiling(queue: usize) -> anyhow::Result<Server> {
    start_own(Kind::Ceiling, &["ceiling", "--queue", &queue.to_string()])
}

/// Starts the rmcp echo server: this binary's `echo-upstream` subcommand.
pub fn start_echo_upstream() -> anyhow::Result<Server> {
    start_own(Kind::RmcpEcho, &["echo-upstream"])
}

/// Starts this binary with `args` (a hidden subcommand) as the server `kind`, in a fresh
/// temporary folder.
fn start_own(kind: Kind, args: &[&str]) -> anyhow::Result<Server> {
    let dir = temporary_folder(kind)?;
    let mut command = Command::new(std::env::current_exe()?);
    command.args(args).current_dir(dir.path());
    let log = dir.path().join("server.log");
    spawn(kind, command, dir, log)
}

fn temporary_folder(kind: Kind) -> anyhow::Result<tempfile::TempDir> {
    let prefix = format!("construct-bench-{}-", kind.label().replace(' ', "-"));
    Ok(tempfile::Builder::new().prefix(&prefix).tempdir()?)
}

/// Starts server-everything's Streamable HTTP transport (`node SCRIPT streamableHttp`, told its
/// port by `PORT`) on a free loopback port (another, should the port be taken meanwhile), and
/// waits until it accepts connections. Its MCP endpoint is `/mcp`.
pub fn start_everything_http(script: &Path) -> anyhow::Result<Server> {
    on_a_free_port(|port| {
        let mut command = Command::new("node");
        command
            .arg(script)
            .arg("streamableHttp")
            .env("PORT", port.to_string());
        let dir = temporary_folder(Kind::Everything)?;
        spawn_until_ready(
            Kind::Everything,
            command,
            dir,
            port,
            "accept connections",
            |addr| std::net::TcpStream::connect(addr).is_ok(),
        )
    })
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// Runs `start` on a free loopback port. The port is free when chosen; should another process
/// take it before the server binds it, the server exits and another port is tried (three in
/// all).
pub fn on_a_free_port(start: impl Fn(u16) -> anyhow::Result<Server>) -> anyhow::Result<Server> {
    let mut attempt = start(free_port()?);
    for _ in 1..3 {
        if attempt.is_ok() {
            break;
        }
        attempt = start(free_port()?);
    }
    attempt
}

/// Whether the server at `addr` answers `request` with bytes starting with `expected`, within
/// half a second.
pub fn answers(addr: SocketAddr, request: &[u8], expected: &[u8]) -> bool {
    let timeout = Duration::from_millis(500);
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, timeout) else {
        return false;
    };
    let mut answer = vec![0u8; expected.len()];
    stream.set_read_timeout(Some(timeout)).is_ok()
        && stream.write_all(request).is_ok()
        && stream.read_exact(&mut answer).is_ok()
        && answer == expected
}

/// The executable `name` in the first folder of `PATH` (or else of `also`) that has one.
pub fn executable(name: &str, also: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(also.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|file| {
            std::fs::metadata(file)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Spawns `command` in `dir` (its output to a log there) as the server `kind` listening on
/// loopback `port`, and waits up to [`START_TIMEOUT`] until `ready` says it is (`what` it must
/// do, for the error).
pub fn spawn_until_ready(
    kind: Kind,
    mut command: Command,
    dir: tempfile::TempDir,
    port: u16,
    what: &str,
    ready: impl Fn(SocketAddr) -> bool,
) -> anyhow::Result<Server> {
    let log = dir.path().join("server.log");
    let output = std::fs::File::create(&log)?;
    command
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(output.try_clone()?)
        .stderr(output);
    let child = command
        .spawn()
        .with_context(|| format!("cannot start the {}: {command:?}", kind.label()))?;
    // From here on, dropping `server` stops the process.
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let mut server = Server::new(kind, addr, child, log, dir);
    let deadline = Instant::now() + START_TIMEOUT;
    while !ready(addr) {
        server.check_alive()?;
        if Instant::now() >= deadline {
            bail!(
                "the {} did not {what} on {addr} within {START_TIMEOUT:?}; log tail:\n{}",
                kind.label(),
                server.log_tail()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(server)
}

/// Where the daemon binary is, building it first when asked.
pub fn locate_daemon(explicit: Option<&Path>, build: bool) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        if !path.is_file() {
            bail!("--daemon {}: no such file", path.display());
        }
        return Ok(path.to_owned());
    }
    // This binary lives in the same target directory as the release daemon.
    let exe = std::env::current_exe()?;
    let beside = exe
        .parent()
        .context("the bench binary has no folder")?
        .join("construct-actor");
    if build {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .context("bench crate outside a workspace")?;
        eprintln!("building the daemon: cargo build --release --bin construct-actor");
        let status = Command::new(cargo)
            .args(["build", "--release", "--bin", "construct-actor"])
            .current_dir(workspace)
            .status()
            .context("cannot run cargo")?;
        if !status.success() {
            bail!("cargo build --release --bin construct-actor failed ({status})");
        }
    }
    if beside.is_file() {
        return Ok(beside);
    }
    let fallback = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/release/construct-actor");
    if fallback.is_file() {
        return Ok(fallback);
    }
    bail!(
        "no daemon binary at {}: run `cargo build --release --bin construct-actor` or pass --daemon PATH",
        beside.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_from_the_first_line() {
        assert_eq!(
            parse_url(
                "construct-actor listening on http://127.0.0.1:4567 (MCP endpoint http://127.0.0.1:4567/mcp)"
            ),
            Some("127.0.0.1:4567".parse().unwrap())
        );
        assert_eq!(
            parse_url("ceiling listening on http://127.0.0.1:80"),
            Some("127.0.0.1:80".parse().unwrap())
        );
        assert_eq!(parse_url("nothing here"), None);
    }
}
