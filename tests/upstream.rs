//! Upstream MCP servers behind the daemon, through the library's `upstream` API, against real
//! servers nobody here wrote: `@modelcontextprotocol/server-everything` (TypeScript) and
//! `mcp-server-time` (Python), and against a small script server that breaks on purpose
//! (`tests/upstream/broken_server.py`, run by the system's python3).
//!
//! The real servers are not Rust crates: `bash tests/upstream/setup.sh` installs them under
//! `target/upstream/` (CI does so before running these tests with `--ignored`). Without them the
//! ignored tests fail, saying so, rather than pass without having run.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::gateway::admin_servers;
use common::servers::{HttpServer, broken_script, everything_script, time_server};
use common::{Daemon, client};
use construct_actor::upstream::config::ServerConfig;
use construct_actor::upstream::{State, Status, Upstream, UpstreamNotice, UpstreamProgress};
use rmcp::model::{CallToolResult, JsonObject};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Longest a server may take to become ready (npx-less node and a Python venv start in ~1 s).
const READY_TIMEOUT: Duration = Duration::from_secs(60);

fn stdio(command: &str, args: &[&str]) -> ServerConfig {
    ServerConfig {
        command: Some(command.to_owned()),
        args: args.iter().map(|arg| arg.to_string()).collect(),
        restart_backoff: Duration::from_millis(200),
        ..ServerConfig::default()
    }
}

fn everything() -> ServerConfig {
    stdio("node", &[&everything_script(), "stdio"])
}

/// server-everything behind a shell that copies what it reads to `dir/in.log` and what it
/// writes to `dir/out.log`, and leaves its pid in `dir/pid`.
fn everything_observed(dir: &Path) -> ServerConfig {
    let script = format!(
        "echo $$ > '{dir}/pid'; tee '{dir}/in.log' | node '{server}' stdio | tee '{dir}/out.log'",
        dir = dir.display(),
        server = everything_script()
    );
    stdio("sh", &["-c", &script])
}

fn broken(mode: &str) -> ServerConfig {
    let script = broken_script();
    let mut config = stdio("python3", &[script.to_str().unwrap(), mode]);
    config.max_message_bytes = 1024 * 1024;
    config
}

/// The ready server-everything behind [`everything_observed`]`(dir)`.
async fn observed(dir: &Path) -> Upstream {
    let everything = Upstream::start("everything", everything_observed(dir));
    ready(&everything).await;
    everything
}

/// A long-running operation of `steps` steps over `seconds`, reporting to `progress`.
async fn long_operation(
    upstream: &Upstream,
    seconds: u64,
    progress: mpsc::Sender<UpstreamNotice>,
    cancel: CancellationToken,
) -> Result<CallToolResult, String> {
    let arguments = args(json!({"duration": seconds, "steps": seconds * 2}));
    let call = upstream.call(
        "trigger-long-running-operation",
        arguments,
        progress,
        cancel,
    );
    call.await.map_err(|err| err.to_string())
}

/// Waits for the first progress report on `reports`: the call is under way.
async fn first_progress(reports: &mut mpsc::Receiver<UpstreamNotice>) {
    let first = tokio::time::timeout(Duration::from_secs(10), reports.recv()).await;
    assert!(first.unwrap().is_some(), "no progress from the call");
}

/// The pid a wrapper shell wrote to `path`.
fn pid_in(path: &Path) -> i32 {
    let text = std::fs::read_to_string(path).unwrap();
    text.trim().parse().unwrap()
}

/// Whether process `pid` runs (killed, it may stay a zombie until reaped: that is not running).
fn running(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| !stat.contains(") Z "))
}

/// Polls `upstream` until `done` says its status is the one awaited; fails after
/// [`READY_TIMEOUT`] with the last status.
async fn wait_for(upstream: &Upstream, done: impl Fn(&Status) -> bool) -> Status {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let status = upstream.status().await.unwrap();
        if done(&status) {
            return status;
        }
        assert!(Instant::now() < deadline, "still waiting: {status:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn ready(upstream: &Upstream) -> Status {
    wait_for(upstream, |status| status.state == State::Ready).await
}

fn args(value: Value) -> Option<JsonObject> {
    value.as_object().cloned()
}

fn text(result: &CallToolResult) -> String {
    result
        .content
        .iter()
        .filter_map(|content| content.as_text().map(|text| text.text.clone()))
        .collect()
}

/// A call with no interest in its progress.
async fn call(upstream: &Upstream, tool: &str, arguments: Value) -> Result<String, String> {
    let (progress, _ignored) = mpsc::channel(16);
    upstream
        .call(tool, args(arguments), progress, CancellationToken::new())
        .await
        .map(|result| text(&result))
        .map_err(|err| err.to_string())
}

fn tool_names(status: &Status) -> Vec<String> {
    status
        .tools
        .iter()
        .map(|tool| tool.name.to_string())
        .collect()
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn the_tools_of_a_typescript_and_a_python_server_are_listed_and_called() {
    let everything = Upstream::start("everything", everything());
    let time = Upstream::start("time", stdio(&time_server(), &[]));
    let names = tool_names(&ready(&everything).await);
    for expected in ["echo", "get-sum", "trigger-long-running-operation"] {
        assert!(names.iter().any(|name| name == expected), "{names:?}");
    }
    let names = tool_names(&ready(&time).await);
    assert!(
        names.iter().any(|name| name == "get_current_time"),
        "{names:?}"
    );

    let echoed = call(&everything, "echo", json!({"message": "hello upstream"})).await;
    assert!(echoed.unwrap().contains("hello upstream"));
    let sum = call(&everything, "get-sum", json!({"a": 2, "b": 40})).await;
    assert!(sum.unwrap().contains("42"));
    let now = call(&time, "get_current_time", json!({"timezone": "UTC"})).await;
    assert!(now.unwrap().contains("UTC"));
    // The server's own answer to a tool it does not have (a tool error) is passed on as it is.
    let unknown = call(&everything, "no-such-tool", json!({})).await.unwrap();
    assert!(unknown.contains("not found"), "{unknown}");
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn progress_reaches_the_caller_and_the_filter_hides_tools() {
    let mut config = everything();
    config.tools.deny = vec!["get-sum".into()];
    let everything = Upstream::start("everything", config);
    let names = tool_names(&ready(&everything).await);
    assert!(!names.iter().any(|name| name == "get-sum"), "{names:?}");
    let denied = call(&everything, "get-sum", json!({"a": 1, "b": 2})).await;
    assert!(denied.unwrap_err().contains("does not offer"));

    let (progress, mut reports) = mpsc::channel(16);
    let arguments = args(json!({"duration": 1, "steps": 4}));
    let result = everything
        .call(
            "trigger-long-running-operation",
            arguments,
            progress,
            CancellationToken::new(),
        )
        .await
        .unwrap();
    assert!(text(&result).contains("completed"), "{result:?}");
    let mut seen = Vec::new();
    while let Ok(notice) = reports.try_recv() {
        match notice {
            UpstreamNotice::Progress(report) => seen.push(report),
            other => panic!("not progress: {other:?}"),
        }
    }
    let expected: Vec<UpstreamProgress> = (1..=4)
        .map(|step| UpstreamProgress {
            progress: step as f64,
            total: Some(4.0),
            message: None,
        })
        .collect();
    assert_eq!(seen, expected);
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_cancelled_call_is_cancelled_upstream_with_the_servers_own_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let everything = observed(dir.path()).await;
    let (progress, mut reports) = mpsc::channel(16);
    let cancel = CancellationToken::new();
    let call = long_operation(&everything, 3, progress, cancel.clone());
    let canceller = async {
        first_progress(&mut reports).await;
        cancel.cancel();
    };
    let (result, ()) = tokio::join!(call, canceller);
    let err = result.unwrap_err();
    assert!(
        err.contains("everything") && err.contains("cancelled"),
        "{err}"
    );

    // Past the operation's end: the server was told, with its own id, and never answered.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let read = |name: &str| -> Vec<Value> {
        std::fs::read_to_string(dir.path().join(name))
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    };
    let sent = read("in.log");
    let request = sent
        .iter()
        .find(|message| message["method"] == "tools/call")
        .expect("the call reached the server");
    let id = &request["id"];
    let cancelled = sent
        .iter()
        .find(|message| message["method"] == "notifications/cancelled")
        .expect("the cancellation reached the server");
    assert_eq!(&cancelled["params"]["requestId"], id, "{cancelled}");
    let answered = read("out.log")
        .iter()
        .any(|message| &message["id"] == id && message.get("result").is_some());
    assert!(
        !answered,
        "the server answered a call it was told was cancelled"
    );
    // Its later progress went nowhere: the caller's channel saw none after the cancel.
    assert!(reports.try_recv().is_err());
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_server_killed_mid_call_fails_that_call_and_comes_back() {
    let dir = tempfile::tempdir().unwrap();
    let everything = observed(dir.path()).await;
    let (progress, mut reports) = mpsc::channel(16);
    let call = long_operation(&everything, 10, progress, CancellationToken::new());
    let killer = async {
        first_progress(&mut reports).await;
        // SAFETY: a signal to the test's own server's process group.
        unsafe { libc::killpg(pid_in(&dir.path().join("pid")), libc::SIGKILL) };
    };
    let started = Instant::now();
    let (result, ()) = tokio::join!(call, killer);
    let err = result.unwrap_err();
    assert!(err.contains("everything"), "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the call waited for its end"
    );

    let status = wait_for(&everything, |status| {
        status.state == State::Ready && status.restarts >= 1
    })
    .await;
    assert!(status.last_error.is_some(), "{status:?}");
    let echoed = call_after_restart(&everything).await;
    assert!(echoed.contains("back"), "{echoed}");
}

async fn call_after_restart(upstream: &Upstream) -> String {
    call(upstream, "echo", json!({"message": "back"}))
        .await
        .unwrap()
}

#[tokio::test]
async fn a_command_that_does_not_exist_fails_alone_with_its_reason() {
    let missing = Upstream::start("missing", stdio("/nonexistent/mcp-server", &[]));
    let fine = Upstream::start("fine", broken("ok"));
    let status = wait_for(&missing, |status| status.state == State::Failed).await;
    let reason = status.last_error.unwrap();
    assert!(
        reason.contains("cannot start") && reason.contains("/nonexistent"),
        "{reason}"
    );
    let err = call(&missing, "work", json!({})).await.unwrap_err();
    assert!(
        err.contains("missing") && err.contains("cannot start"),
        "{err}"
    );

    ready(&fine).await;
    assert_eq!(call(&fine, "work", json!({})).await.unwrap(), "done");
}

#[tokio::test]
async fn a_server_printing_garbage_or_an_over_long_line_fails_alone() {
    let garbage = Upstream::start("garbage", broken("garbage"));
    let long = Upstream::start("long", broken("long"));
    let fine = Upstream::start("fine", broken("ok"));
    for upstream in [&garbage, &long, &fine] {
        ready(upstream).await;
    }
    let (garbled, overlong, good) = tokio::join!(
        call(&garbage, "work", json!({})),
        call(&long, "work", json!({})),
        call(&fine, "work", json!({})),
    );
    let err = garbled.unwrap_err();
    assert!(err.contains("garbage"), "{err}");
    let err = overlong.unwrap_err();
    assert!(err.contains("long"), "{err}");
    assert_eq!(good.unwrap(), "done");

    let status = wait_for(&garbage, |status| status.last_error.is_some()).await;
    assert!(status.last_error.unwrap().contains("not JSON"));
    let status = wait_for(&long, |status| status.last_error.is_some()).await;
    assert!(status.last_error.unwrap().contains("max_message_bytes"));
    assert_eq!(call(&fine, "work", json!({})).await.unwrap(), "done");
}

#[tokio::test]
async fn a_server_whose_tool_list_never_ends_is_cut_to_the_bound() {
    let endless = Upstream::start("endless", broken("endless"));
    let status = ready(&endless).await;
    // 4096 kept of pages of 100 that go on forever: the listing stops there, and the server
    // is ready with the first 4096.
    assert_eq!(status.tools.len(), 4096);
    assert_eq!(&*status.tools[0].name, "tool-0-0");
}

#[tokio::test]
async fn the_daemon_starts_its_servers_and_shows_them_to_the_administrator_alone() {
    let script = broken_script();
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let shell = format!(
        "echo $$ > '{}'; exec python3 '{}' ok",
        pid_file.display(),
        script.display()
    );
    let mut daemon = Daemon::start(&format!(
        "[servers.fine]\ncommand = \"sh\"\nargs = [\"-c\", {shell:?}]\n\n\
         [servers.missing]\ncommand = \"/nonexistent/mcp-server\"\n\n\
         [servers.off]\ncommand = \"python3\"\nenabled = false\n"
    ));
    let deadline = Instant::now() + READY_TIMEOUT;
    let servers = loop {
        let servers = admin_servers(&daemon).await;
        let state = |index: usize| servers[index]["state"].clone();
        if state(0) == "ready" && state(1) == "failed" {
            break servers;
        }
        assert!(Instant::now() < deadline, "{servers:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        servers.len(),
        2,
        "a disabled server is not started: {servers:?}"
    );
    assert_eq!(servers[0]["name"], "fine");
    assert_eq!(servers[0]["tools"], json!(["work"]));
    assert_eq!(servers[1]["name"], "missing");
    let reason = servers[1]["last_error"].as_str().unwrap();
    assert!(reason.contains("cannot start"), "{reason}");

    let anonymous = client()
        .get(daemon.url("/admin/servers"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);

    // The daemon's end is its servers' end.
    let pid = pid_in(&pid_file);
    assert!(running(pid));
    assert!(daemon.terminate().success(), "{}", daemon.stderr());
    let deadline = Instant::now() + Duration::from_secs(5);
    while running(pid) {
        assert!(Instant::now() < deadline, "the server outlived the daemon");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// server-everything serving Streamable HTTP on a free loopback port, killed when dropped.
fn http_everything() -> HttpServer {
    let mut command = std::process::Command::new("node");
    command.arg(everything_script()).arg("streamableHttp");
    HttpServer::start(command, |command, port| {
        command.env("PORT", port.to_string());
    })
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_remote_streamable_http_server_is_called_with_progress() {
    let remote = http_everything();
    let config = ServerConfig {
        url: Some(remote.url.clone()),
        ..ServerConfig::default()
    };
    let everything = Upstream::start("remote", config);
    let names = tool_names(&ready(&everything).await);
    assert!(names.iter().any(|name| name == "echo"), "{names:?}");
    let echoed = call(&everything, "echo", json!({"message": "over HTTP"})).await;
    assert!(echoed.unwrap().contains("over HTTP"));
    let (progress, mut reports) = mpsc::channel(16);
    let result = long_operation(&everything, 1, progress, CancellationToken::new()).await;
    assert!(text(&result.unwrap()).contains("completed"));
    let first = reports.recv().await.unwrap();
    assert!(
        matches!(&first, UpstreamNotice::Progress(report) if report.progress == 1.0),
        "{first:?}"
    );
}

/// The local ports of this process's side of every TCP connection to `port` on loopback, in any
/// state (a closed one stays listed in TIME_WAIT for a minute).
fn connections_to(port: u16) -> std::collections::HashSet<u16> {
    let hex_port = |address: &str| {
        let (_, port) = address.rsplit_once(':').unwrap();
        u16::from_str_radix(port, 16).unwrap()
    };
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|table| std::fs::read_to_string(table).ok())
        .flat_map(|table| {
            table
                .lines()
                .skip(1)
                .filter_map(|row| {
                    let fields: Vec<&str> = row.split_whitespace().collect();
                    (hex_port(fields[2]) == port).then(|| hex_port(fields[1]))
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn calls_to_a_remote_server_reuse_its_connections() {
    let remote = http_everything();
    let port: u16 = remote.url["http://127.0.0.1:".len()..]
        .trim_end_matches("/mcp")
        .parse()
        .unwrap();
    let config = ServerConfig {
        url: Some(remote.url.clone()),
        ..ServerConfig::default()
    };
    let everything = Upstream::start("remote", config);
    ready(&everything).await;
    let before = connections_to(port);
    for n in 0..30 {
        let echoed = call(&everything, "echo", json!({"message": format!("call {n}")})).await;
        assert!(echoed.unwrap().contains(&format!("call {n}")));
    }
    // One after another, the calls go over a connection kept alive, not one connection each.
    let opened = connections_to(port).difference(&before).count();
    assert!(opened <= 2, "30 calls opened {opened} connections");
}
