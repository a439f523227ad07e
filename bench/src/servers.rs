//! Starting and stopping the servers under test, each as a process of its own so that its CPU
//! time and memory can be read from /proc the same way: the daemon (release build, with a
//! generated configuration), the ceiling (this binary's hidden `ceiling` subcommand), and for
//! the cluster scenario the `redis-server` the daemons share.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::procfs;

/// How long a server may take to print where it listens.
const START_TIMEOUT: Duration = Duration::from_secs(20);

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
}

impl Kind {
    /// For tables.
    pub fn label(self) -> &'static str {
        match self {
            Self::Daemon => "daemon",
            Self::Ceiling => "ceiling",
            Self::Redis => "redis",
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
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
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
                tail(&self.log)
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
    let pid = child.id();
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
    let mut server = Server {
        kind,
        addr: "127.0.0.1:0".parse()?,
        pid,
        child,
        log,
        _dir: dir,
    };
    let line = match first_rx.recv_timeout(START_TIMEOUT) {
        Ok(Some(Ok(line))) => line,
        _ => {
            server.check_alive()?;
            bail!(
                "the {} printed no address within {START_TIMEOUT:?}; log tail:\n{}",
                kind.label(),
                tail(&server.log)
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

/// The daemon's configuration for benchmarks, as dotted keys and TOML values.
#[derive(Debug, Clone)]
pub struct DaemonConfig {
    entries: Vec<(String, String)>,
    /// Keys that older or newer daemons may not know: dropped (with a note) if refused.
    optional: Vec<String>,
}

impl DaemonConfig {
    /// Discovery off, quiet logs, limits far above anything the scenarios reach, and the
    /// per-address session-creation rate limit effectively off.
    pub fn for_benchmarks(max_sessions: usize, max_subscribers: usize, queue: usize) -> Self {
        let entries = [
            ("server.bind", "\"127.0.0.1\"".to_owned()),
            ("server.port", "0".to_owned()),
            ("server.shutdown_grace", "\"1s\"".to_owned()),
            ("discovery.enabled", "false".to_owned()),
            (
                "security.api_keys",
                format!("[\"{}\"]", crate::client::API_KEY),
            ),
            ("sessions.max_sessions", max_sessions.to_string()),
            ("sessions.max_subscribers", max_subscribers.to_string()),
            ("sessions.subscriber_queue", queue.to_string()),
            ("sessions.create_per_minute", "1000000000".to_owned()),
            ("tools.max_concurrent_calls", "4096".to_owned()),
            ("tools.max_calls_per_session", "64".to_owned()),
            ("log.level", "\"warn\"".to_owned()),
        ];
        Self {
            entries: entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            optional: vec!["sessions.create_per_minute".to_owned()],
        }
    }

    /// Sets (or replaces) `key` to the TOML `value`; `KEY=VALUE` from the command line.
    pub fn set(&mut self, key: &str, value: &str) {
        self.entries.retain(|(k, _)| k != key);
        self.entries.push((key.to_owned(), value.to_owned()));
    }

    /// The TOML text.
    pub fn render(&self) -> String {
        let mut sections: Vec<(&str, Vec<(&str, &str)>)> = Vec::new();
        for (key, value) in &self.entries {
            let (section, leaf) = key.rsplit_once('.').unwrap_or(("", key));
            match sections.iter_mut().find(|(s, _)| *s == section) {
                Some((_, items)) => items.push((leaf, value)),
                None => sections.push((section, vec![(leaf, value)])),
            }
        }
        let mut text = String::new();
        for (section, items) in sections {
            if !section.is_empty() {
                text.push_str(&format!("[{section}]\n"));
            }
            for (leaf, value) in items {
                text.push_str(&format!("{leaf} = {value}\n"));
            }
        }
        text
    }

    /// Writes the configuration to `path`, checked by `daemon check-config`; optional keys the
    /// daemon refuses are dropped. Returns the notes to print.
    pub fn write_checked(&mut self, daemon: &Path, path: &Path) -> anyhow::Result<Vec<String>> {
        let mut notes = Vec::new();
        loop {
            std::fs::write(path, self.render())?;
            let output = Command::new(daemon)
                .arg("check-config")
                .arg(path)
                .output()
                .with_context(|| format!("cannot run {} check-config", daemon.display()))?;
            if output.status.success() {
                return Ok(notes);
            }
            let message = String::from_utf8_lossy(&output.stderr).into_owned();
            let refused = self.optional.iter().position(|key| {
                let leaf = key.rsplit_once('.').map_or(key.as_str(), |(_, l)| l);
                message.contains(leaf)
            });
            match refused {
                Some(index) => {
                    let key = self.optional.remove(index);
                    notes.push(format!("daemon does not know {key}; left out"));
                    self.entries.retain(|(k, _)| *k != key);
                }
                None => bail!("the generated daemon configuration is refused: {message}"),
            }
        }
    }
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
    let dir = tempfile::Builder::new()
        .prefix("construct-bench-ceiling-")
        .tempdir()?;
    let mut command = Command::new(std::env::current_exe()?);
    command
        .arg("ceiling")
        .arg("--queue")
        .arg(queue.to_string())
        .current_dir(dir.path());
    let log = dir.path().join("ceiling.log");
    spawn(Kind::Ceiling, command, dir, log)
}

/// Why a scenario needing Redis cannot run.
pub const NO_REDIS: &str = "redis-server is not on PATH; install it: bash tests/cluster/setup.sh";

/// The `redis-server` executable on PATH, if any.
pub fn redis_server() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("redis-server"))
        .find(|file| {
            std::fs::metadata(file)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Starts `redis-server` (from PATH) on a free loopback port, persisting nothing, in a fresh
/// temporary folder, and waits until it answers PING. The port is free when chosen; should
/// another process take it before Redis binds it, Redis exits and another port is tried (three
/// in all).
pub fn start_redis() -> anyhow::Result<Server> {
    let binary = redis_server().context(NO_REDIS)?;
    let mut attempt = start_redis_on(&binary, free_port()?);
    for _ in 1..3 {
        if attempt.is_ok() {
            break;
        }
        attempt = start_redis_on(&binary, free_port()?);
    }
    attempt
}

/// A loopback port nothing listens on right now.
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn start_redis_on(binary: &Path, port: u16) -> anyhow::Result<Server> {
    let dir = tempfile::Builder::new()
        .prefix("construct-bench-redis-")
        .tempdir()?;
    let log = dir.path().join("redis.log");
    let output = std::fs::File::create(&log)?;
    let mut command = Command::new(binary);
    command
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .arg("--dir")
        .arg(dir.path())
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .stdout(output.try_clone()?)
        .stderr(output);
    let child = command
        .spawn()
        .with_context(|| format!("cannot start redis: {command:?}"))?;
    // From here on, dropping `server` stops the process.
    let mut server = Server {
        kind: Kind::Redis,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        pid: child.id(),
        child,
        log,
        _dir: dir,
    };
    let deadline = Instant::now() + START_TIMEOUT;
    while !answers_ping(server.addr) {
        server.check_alive()?;
        if Instant::now() >= deadline {
            bail!(
                "redis did not answer PING on {} within {START_TIMEOUT:?}; log tail:\n{}",
                server.addr,
                tail(&server.log)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(server)
}

/// Whether a Redis server at `addr` answers `PING` within half a second.
fn answers_ping(addr: SocketAddr) -> bool {
    let timeout = Duration::from_millis(500);
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, timeout) else {
        return false;
    };
    let mut answer = [0u8; 7];
    stream.set_read_timeout(Some(timeout)).is_ok()
        && stream.write_all(b"PING\r\n").is_ok()
        && stream.read_exact(&mut answer).is_ok()
        && answer == *b"+PONG\r\n"
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

    #[test]
    fn configs_render_by_section() {
        let mut config = DaemonConfig::for_benchmarks(10, 20, 30);
        config.set("server.keep_alive", "\"5s\"");
        let text = config.render();
        assert!(
            text.starts_with("[server]\nbind = \"127.0.0.1\"\n"),
            "{text}"
        );
        assert!(text.contains("keep_alive = \"5s\""), "{text}");
        assert_eq!(text.matches("[server]").count(), 1, "{text}");
        assert!(text.contains("[sessions]\nmax_sessions = 10\n"), "{text}");
    }
}
