//! The official MCP SDK clients against the real daemon over Streamable HTTP, one of each era:
//! the Python `mcp` 2.x client (which probes `server/discover` and so speaks 2026-07-28) and the
//! TypeScript `@modelcontextprotocol/sdk` 1.x client (`initialize`, 2025-11-25, a session).
//! Each lists the tools, calls `sleep` receiving its progress, calls `echo`, and ends cleanly.
//!
//! The SDKs are not Rust crates: `bash tests/sdk/setup.sh` installs them under `target/sdk/`
//! (CI does so before running these tests with `--ignored`). Without them the tests fail, saying
//! so, rather than pass without having run.

mod common;

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Daemon;
use serde_json::Value;

/// Longest a client script may run before it is killed and the test fails.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

const SETUP: &str = "bash tests/sdk/setup.sh";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `path` (relative to the crate root), which must exist: otherwise the SDKs were not installed.
fn installed(path: &str) -> PathBuf {
    let full = root().join(path);
    assert!(
        full.exists(),
        "{} is missing: the MCP SDKs are not installed; run `{SETUP}` from {} first",
        full.display(),
        root().display()
    );
    full
}

/// Runs `program args… url` and returns the JSON line it printed; fails the test on a non-zero
/// exit, a timeout (after killing the client), or output that is not one JSON object.
fn run_client(daemon: &Daemon, program: &Path, script: &Path) -> Value {
    let url = daemon.url("/mcp");
    let mut child = Command::new(program)
        .arg(script)
        .arg(&url)
        .env("CONSTRUCT_ACTOR_API_KEY", daemon.api_key())
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {}: {err}", program.display()));
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + CLIENT_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = out.join().unwrap();
    let err = err.join().unwrap();
    let context = format!(
        "client {} {url}\n--- stdout\n{out}--- stderr\n{err}--- daemon stderr\n{}",
        script.display(),
        daemon.stderr()
    );
    let Some(status) = status else {
        panic!("the client ran over {CLIENT_TIMEOUT:?} and was killed\n{context}");
    };
    assert!(status.success(), "the client failed: {status}\n{context}");
    let line = out
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_else(|| panic!("the client printed nothing\n{context}"));
    eprintln!("{}: {line}", script.display());
    let report: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("the client's last line is not JSON: {e}\n{context}"));
    assert!(report.is_object(), "not a JSON object\n{context}");
    report
}

/// What every client must have seen, whatever its era.
fn assert_common(report: &Value, echo: &str) {
    let tools: Vec<&str> = report["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {report}"))
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        tools.contains(&"echo") && tools.contains(&"sleep"),
        "tools/list lacks echo or sleep: {report}"
    );
    let progress: Vec<f64> = report["progress"]
        .as_array()
        .unwrap_or_else(|| panic!("no progress in {report}"))
        .iter()
        .map(|p| p.as_f64().expect("numeric progress"))
        .collect();
    assert_eq!(
        progress,
        [1.0, 2.0, 3.0],
        "sleep(steps: 3) reports progress 1, 2, 3: {report}"
    );
    assert_eq!(report["echo"], echo, "{report}");
    assert_eq!(report["sleep"], "slept 300 ms", "{report}");
}

#[test]
#[ignore = "needs the MCP SDKs: bash tests/sdk/setup.sh"]
fn the_python_sdk_client_discovers_the_modern_era_and_calls_tools_with_progress() {
    let python = installed("target/sdk/venv/bin/python");
    let importable = Command::new(&python)
        .args(["-c", "import mcp.client.streamable_http"])
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        importable,
        "the venv cannot import the `mcp` package; run `{SETUP}` first"
    );
    let daemon = Daemon::start("");
    let report = run_client(&daemon, &python, &root().join("tests/sdk/python_client.py"));
    assert_common(&report, "hello from the python sdk");
    assert_eq!(
        report["era"], "2026-07-28",
        "the daemon answers server/discover, so the client adopts the modern era: {report}"
    );
    assert_eq!(
        report["handshake"], "discover",
        "no fallback to initialize: {report}"
    );
}

#[test]
#[ignore = "needs the MCP SDKs: bash tests/sdk/setup.sh"]
fn the_typescript_sdk_client_opens_a_2025_11_25_session_calls_tools_and_ends_it() {
    installed("target/sdk/node/node_modules/@modelcontextprotocol/sdk/package.json");
    let daemon = Daemon::start("");
    let report = run_client(
        &daemon,
        Path::new("node"),
        &root().join("tests/sdk/ts_client.mjs"),
    );
    assert_common(&report, "hello from the typescript sdk");
    assert_eq!(report["era"], "2025-11-25", "{report}");
    assert_eq!(
        report["terminated"], true,
        "terminateSession() sent DELETE /mcp and the daemon accepted it: {report}"
    );
    assert_eq!(
        report["after_delete"], 404,
        "a request naming the ended session is refused as unknown: {report}"
    );
}
