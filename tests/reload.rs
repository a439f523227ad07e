//! Reloading the configuration while the daemon runs (`SIGHUP`, or the file changing): servers
//! added, removed or changed are started, stopped or restarted, and the sessions and the other
//! servers are left as they were. A file that is not valid changes nothing.
//!
//! The servers here are the small script server of `tests/upstream/broken_server.py` in its
//! `ok` mode (it starts at once, so that each test is quick), run behind a shell that writes
//! each process's pid, so that a test can tell a server restarted from one left running; one
//! test runs server-everything, for a call in flight across a reload.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::eras::{messages_within, until};
use common::gateway::{
    READY_TIMEOUT, admin_servers, all_messages, everything_table, final_response, first_text,
    long_operation, offered, running, time_table, tool_names,
};
use common::servers::broken_script;
use common::{Daemon, Session, WAIT};
use serde_json::json;

/// The daemon's environment for a test that reads what a reload logs at `info`.
const INFO: &[(&str, &str)] = &[("CONSTRUCT_ACTOR_LOG__LEVEL", "info")];

/// `[servers.<name>]` running the script server in its `ok` mode behind a shell that appends
/// its pid to `dir/<name>.pids` at each start; `extra` is more of the table.
fn ok_table(name: &str, dir: &Path, extra: &str) -> String {
    let script = format!(
        "echo $$ >> '{dir}/{name}.pids'; exec python3 '{server}' ok",
        dir = dir.display(),
        server = broken_script().display()
    );
    format!("[servers.{name}]\ncommand = \"sh\"\nargs = [\"-c\", {script:?}]\n{extra}\n")
}

/// The pids the server `name` was started with, in order.
fn pids(dir: &Path, name: &str) -> Vec<u32> {
    std::fs::read_to_string(dir.join(format!("{name}.pids")))
        .unwrap_or_default()
        .lines()
        .map(|line| line.parse().unwrap())
        .collect()
}

/// Waits (bounded) until `session` is offered exactly `expected` among the upstream tools
/// (those named `<server>__…`, and `work`).
async fn wait_for_tools(daemon: &Daemon, session: &Session, expected: &[&str]) {
    wait_for_list(daemon, session, expected, |names| {
        let upstream = names
            .iter()
            .filter(|name| name.contains("__") || *name == "work");
        upstream.eq(expected)
    })
    .await;
}

/// Waits (bounded) until the names `tools/list` gives `session` pass `check`; `what` says what
/// was awaited.
async fn wait_for_list(
    daemon: &Daemon,
    session: &Session,
    what: impl std::fmt::Debug,
    check: impl Fn(&[String]) -> bool,
) {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let names = tool_names(daemon, session).await;
        if check(&names) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "offered {names:?}, not {what:?}; stderr: {}",
            daemon.stderr()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (bounded) until the daemon's log holds `text`.
async fn wait_for_log(daemon: &Daemon, text: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        let stderr = daemon.stderr();
        if stderr.contains(text) {
            return stderr;
        }
        assert!(Instant::now() < deadline, "{text:?} not logged: {stderr}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (bounded) until the process `pid` is gone.
async fn wait_until_gone(pid: u32) {
    let deadline = Instant::now() + WAIT;
    while running(pid) {
        assert!(Instant::now() < deadline, "process {pid} still runs");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The value of the metrics line that starts with `series`.
async fn metric(daemon: &Daemon, series: &str) -> f64 {
    let text = daemon.metrics_text().await;
    let line = text
        .lines()
        .find(|line| line.starts_with(series))
        .unwrap_or_else(|| panic!("no {series} in {text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn servers_added_removed_and_changed_in_the_file_are_started_stopped_and_restarted() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let before = ok_table("a", dir, "") + &ok_table("b", dir, "") + &ok_table("c", dir, "");
    let daemon = Daemon::start_with(&before, INFO);
    let session = daemon.session().await;
    wait_for_tools(&daemon, &session, &["a__work", "b__work", "c__work"]).await;
    let (a, b, c) = (pids(dir, "a")[0], pids(dir, "b")[0], pids(dir, "c")[0]);

    let after = ok_table("a", dir, "")
        + &ok_table("c", dir, "call_timeout = \"30s\"")
        + &ok_table("d", dir, "");
    daemon.rewrite_config(&after);
    wait_for_tools(&daemon, &session, &["a__work", "c__work", "d__work"]).await;

    assert_eq!(
        pids(dir, "a"),
        [a],
        "a server left as it was is not restarted"
    );
    assert!(running(a));
    wait_until_gone(b).await;
    wait_until_gone(c).await;
    assert_eq!(pids(dir, "c").len(), 2, "a changed server is started again");
    assert_eq!(pids(dir, "d").len(), 1, "an added server is started");
    // The session is untouched, and calls go to the servers there are now.
    assert_eq!(
        first_text(&final_response(&daemon, &session, "a__work", json!({})).await),
        "done"
    );
    assert_eq!(
        first_text(&final_response(&daemon, &session, "c__work", json!({})).await),
        "done"
    );
    let removed = final_response(&daemon, &session, "b__work", json!({})).await;
    assert_eq!(removed["error"]["code"], -32602, "{removed}");
    let names: Vec<_> = admin_servers(&daemon)
        .await
        .iter()
        .map(|server| server["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names, ["a", "c", "d"]);
    let applied = "construct_config_reloads_total{outcome=\"applied\"}";
    assert_eq!(metric(&daemon, applied).await, 1.0);
    assert_eq!(
        metric(&daemon, "construct_upstream_up{server=\"b\"}").await,
        0.0
    );
    assert_eq!(
        metric(&daemon, "construct_upstream_up{server=\"c\"}").await,
        1.0
    );
    assert_eq!(
        metric(&daemon, "construct_upstream_up{server=\"d\"}").await,
        1.0
    );
    let logged = wait_for_log(&daemon, "configuration reloaded").await;
    assert!(
        logged.contains("started d; stopped b; restarted c"),
        "{logged}"
    );
}

#[tokio::test]
async fn sighup_reloads_and_a_new_prefix_restarts_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let daemon = Daemon::start_with(&ok_table("a", dir, "prefix = \"always\""), INFO);
    let session = daemon.session().await;
    wait_for_tools(&daemon, &session, &["a__work"]).await;
    // Changed in place, to the same size, its time set back: the file looks the same to the
    // daemon's look at it, and only SIGHUP tells it to read it again.
    let file = daemon.config_file();
    let modified = std::fs::metadata(&file).unwrap().modified().unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("\"always\"", "\"never\" ")).unwrap();
    let handle = std::fs::File::options().write(true).open(&file).unwrap();
    handle.set_modified(modified).unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    wait_for_tools(&daemon, &session, &["a__work"]).await;

    daemon.hang_up();
    wait_for_tools(&daemon, &session, &["work"]).await;
    assert_eq!(pids(dir, "a").len(), 1, "a new prefix needs no new process");
    assert_eq!(
        first_text(&final_response(&daemon, &session, "work", json!({})).await),
        "done"
    );
    let logged = wait_for_log(&daemon, "configuration reloaded").await;
    assert!(logged.contains("why=\"SIGHUP\""), "{logged}");
    assert!(logged.contains("shown anew a"), "{logged}");
}

#[tokio::test]
async fn an_invalid_file_changes_nothing_and_is_read_again_once_mended() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let daemon = Daemon::start(&ok_table("a", dir, ""));
    let session = daemon.session().await;
    wait_for_tools(&daemon, &session, &["a__work"]).await;

    daemon.rewrite_config(&ok_table("a", dir, "bogus = 1"));
    let logged = wait_for_log(&daemon, "configuration not reloaded").await;
    assert!(
        logged.contains("bogus"),
        "the error names the key: {logged}"
    );
    let rejected = "construct_config_reloads_total{outcome=\"rejected\"}";
    assert_eq!(metric(&daemon, rejected).await, 1.0);
    assert_eq!(
        first_text(&final_response(&daemon, &session, "a__work", json!({})).await),
        "done"
    );
    assert_eq!(pids(dir, "a").len(), 1);

    // Mended, with a change to a section only read at start: the servers follow, and the log
    // says what was not applied.
    let mended =
        ok_table("a", dir, "") + &ok_table("d", dir, "") + "[sessions]\nmax_sessions = 7\n";
    daemon.rewrite_config(&mended);
    wait_for_tools(&daemon, &session, &["a__work", "d__work"]).await;
    let logged = wait_for_log(&daemon, "only read at start").await;
    assert!(logged.contains("sections=\"sessions\""), "{logged}");
    assert_eq!(pids(dir, "a").len(), 1);
}

#[tokio::test]
async fn a_sessions_own_servers_follow_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let daemon = Daemon::start(&ok_table("s", dir, "scope = \"session\""));
    let session = daemon.session().await;
    wait_for_tools(&daemon, &session, &["s__work"]).await;
    let first = pids(dir, "s")[0];
    let servers = admin_servers(&daemon).await;
    assert_eq!(servers.len(), 1, "{servers:?}");
    let shown = &servers[0];
    assert_eq!(
        (&shown["name"], &shown["scope"]),
        (&json!("s"), &json!("session"))
    );
    assert_eq!(
        shown["sessions"][0]["session"],
        session.id.as_str(),
        "{shown}"
    );
    assert_eq!(shown["sessions"][0]["state"], "ready", "{shown}");
    assert_eq!(shown["state"], "ready");
    let up = "construct_upstream_up{server=\"s\"}";
    assert_eq!(metric(&daemon, up).await, 1.0);

    daemon.rewrite_config(&ok_table(
        "s",
        dir,
        "scope = \"session\"\ncall_timeout = \"30s\"",
    ));
    wait_until_gone(first).await;
    let deadline = Instant::now() + WAIT;
    while pids(dir, "s").len() < 2 {
        assert!(
            Instant::now() < deadline,
            "the session's server not started again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    wait_for_tools(&daemon, &session, &["s__work"]).await;
    assert_eq!(
        first_text(&final_response(&daemon, &session, "s__work", json!({})).await),
        "done"
    );

    daemon.rewrite_config("");
    wait_until_gone(pids(dir, "s")[1]).await;
    wait_for_tools(&daemon, &session, &[]).await;
    assert!(admin_servers(&daemon).await.is_empty());
    assert_eq!(metric(&daemon, up).await, 0.0);
    assert_eq!(
        daemon.describe_status(&session).await,
        200,
        "the session lives on"
    );
}

#[tokio::test]
#[ignore = "needs the servers installed by tests/upstream/setup.sh"]
async fn a_call_in_flight_on_a_server_the_reload_leaves_alone_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let daemon = Daemon::start(&(everything_table(dir.path(), "") + &time_table()));
    let session = daemon.session().await;
    offered(
        &daemon,
        &session,
        &[
            "everything__trigger-long-running-operation",
            "time__get_current_time",
        ],
    )
    .await;
    let call = daemon.mcp(&session, long_operation(1, 2, "across")).await;
    daemon.rewrite_config(&everything_table(dir.path(), ""));
    let gone = "time__get_current_time";
    wait_for_list(&daemon, &session, gone, |names| {
        !names.iter().any(|n| n == gone)
    })
    .await;
    let messages = all_messages(call).await;
    let (last, progress) = messages.split_last().unwrap();
    assert!(first_text(last).contains("completed"), "{last}");
    assert_eq!(progress.len(), 4, "{progress:?}");
    let pids = std::fs::read_to_string(dir.path().join("pids")).unwrap();
    assert_eq!(
        pids.lines().count(),
        1,
        "server-everything was left running"
    );
}

/// The upstream tools `tools/list` gives the standard session `id` (`<server>__…` names).
async fn standard_tools(daemon: &Daemon, id: &str) -> Vec<String> {
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let response = daemon.standard_post(id, list).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let tools = body["result"]["tools"].as_array().unwrap().iter();
    let names = tools.map(|tool| tool["name"].as_str().unwrap().to_owned());
    names.filter(|name| name.contains("__")).collect()
}

#[tokio::test]
async fn a_session_is_told_when_its_own_servers_tools_change_and_no_other_session_is() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let daemon = Daemon::start(&ok_table("s", dir, "scope = \"session\""));
    let (mine, other) = (
        daemon.initialize("2025-11-25").await,
        daemon.initialize("2025-11-25").await,
    );
    // Opened before the session's servers are started: its first tools/list starts them.
    let mut told = daemon.standalone_stream(&mine).await;
    let mut untold = daemon.standalone_stream(&other).await;
    assert_eq!(standard_tools(&daemon, &mine).await, ["s__work"]);
    until(&mut told, "notifications/tools/list_changed").await;

    // A reload that takes the tool away restarts the session's server without it.
    daemon.rewrite_config(&ok_table(
        "s",
        dir,
        "scope = \"session\"\ntools = { deny = [\"work\"] }",
    ));
    until(&mut told, "notifications/tools/list_changed").await;
    assert!(standard_tools(&daemon, &mine).await.is_empty());
    let heard = messages_within(&mut untold, Duration::from_millis(500)).await;
    assert!(
        heard.is_empty(),
        "another session's servers are not its own: {heard:?}"
    );
}

#[tokio::test]
async fn a_file_every_user_may_write_is_refused_and_a_syntax_error_shows_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let daemon = Daemon::start(&ok_table("a", dir, ""));
    let session = daemon.session().await;
    wait_for_tools(&daemon, &session, &["a__work"]).await;

    let secret = "[servers.r]\nurl = \"http://127.0.0.1:9/mcp\"\nheaders = { Authorization = \"Bearer sk-SECRET-42\"\n";
    daemon.rewrite_config(&(ok_table("a", dir, "") + secret));
    let logged = wait_for_log(&daemon, "not valid TOML at line").await;
    assert!(!logged.contains("sk-SECRET-42"), "{logged}");

    daemon.rewrite_config_with_mode(&(ok_table("a", dir, "") + &ok_table("d", dir, "")), 0o666);
    wait_for_log(&daemon, "is writable by every user").await;
    let rejected = "construct_config_reloads_total{outcome=\"rejected\"}";
    assert_eq!(metric(&daemon, rejected).await, 2.0);
    wait_for_tools(&daemon, &session, &["a__work"]).await;
    assert!(pids(dir, "d").is_empty(), "nothing in a refused file runs");
}
