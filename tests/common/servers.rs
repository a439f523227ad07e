//! The real MCP servers tests put behind the daemon, installed by `tests/upstream/setup.sh`
//! under `target/upstream/`; the script server that breaks on purpose
//! (`tests/upstream/broken_server.py`); and the smallest server on the Python SDK whose lists
//! change (`tests/upstream/changing_server.py`). A test that needs a server that is not
//! installed fails, saying how to install it, rather than pass without having run.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Longest a server may take to become ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How to install the servers.
pub const SETUP: &str = "bash tests/upstream/setup.sh";

/// A static document server-everything lists.
pub const FEATURES: &str = "demo://resource/static/document/features.md";

/// The crate's root, where `target/upstream/` lies.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `path` (relative to the crate root), which must exist: otherwise the servers were not
/// installed.
pub fn installed(path: &str) -> String {
    let full = root().join(path);
    assert!(
        full.exists(),
        "{} is missing: the upstream MCP servers are not installed; run `{SETUP}` from {} first",
        full.display(),
        root().display()
    );
    full.display().to_string()
}

/// The entry point of `@modelcontextprotocol/server-everything`, run by `node`.
pub fn everything_script() -> String {
    installed(
        "target/upstream/node/node_modules/@modelcontextprotocol/server-everything/dist/index.js",
    )
}

/// `[servers.<name>]` running server-everything over stdio behind a shell that writes its pid
/// (its process group's, for a test that kills it) to `pid_file`; `extra` lines end the table.
pub fn everything_table(name: &str, pid_file: &Path, extra: &str) -> String {
    let script = format!(
        "echo $$ > '{pid}'; exec node '{server}' stdio",
        pid = pid_file.display(),
        server = everything_script()
    );
    format!("[servers.{name}]\ncommand = \"sh\"\nargs = [\"-c\", {script:?}]\n{extra}\n")
}

/// Kills (`SIGKILL`) the process group of the server whose pid [`everything_table`] wrote to
/// `pid_file`.
pub fn kill_group(pid_file: &Path) {
    let pid: i32 = std::fs::read_to_string(pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: a plain kill(2) of the process group the daemon made for the server.
    assert_eq!(unsafe { libc::kill(-pid, libc::SIGKILL) }, 0);
}

/// The entry point of `@modelcontextprotocol/server-filesystem`, run by `node`.
pub fn filesystem_script() -> String {
    installed(
        "target/upstream/node/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js",
    )
}

/// The `mcp-server-time` program (Python, in its venv).
pub fn time_server() -> String {
    installed("target/upstream/venv/bin/mcp-server-time")
}

/// The script server that breaks on purpose, run by the system's `python3` with its mode.
pub fn broken_script() -> PathBuf {
    root().join("tests/upstream/broken_server.py")
}

/// `[servers.<name>]` running the server whose tools and resources change
/// (`tests/upstream/changing_server.py`, on the Python SDK installed with `mcp-server-time`,
/// speaking 2026-07-28 to the daemon) with the arguments `args`; `extra` lines end the table.
pub fn changing_table(name: &str, args: &[&str], extra: &str) -> String {
    let mut all = vec![changing_script()];
    all.extend(args.iter().map(|arg| (*arg).to_owned()));
    let python = python();
    format!("[servers.{name}]\ncommand = {python:?}\nargs = {all:?}\n{extra}\n")
}

/// The Python of the venv the servers' Python SDK is installed in.
pub fn python() -> String {
    installed("target/upstream/venv/bin/python")
}

/// The server whose tools and resources change, run by [`python`].
pub fn changing_script() -> String {
    root()
        .join("tests/upstream/changing_server.py")
        .display()
        .to_string()
}

/// A server the test runs serving Streamable HTTP on a free loopback port; killed when dropped.
pub struct HttpServer {
    child: Child,
    /// Its MCP endpoint.
    pub url: String,
}

impl HttpServer {
    /// Runs `command`, told its port by `with_port`, and waits until it listens.
    pub fn start(mut command: Command, with_port: impl FnOnce(&mut Command, u16)) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        with_port(&mut command, port);
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + READY_TIMEOUT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "{command:?} did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        let url = format!("http://127.0.0.1:{port}/mcp");
        Self { child, url }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
