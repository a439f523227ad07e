//! The `shell` tool over real HTTP: output as progress, results, allow-lists, timeouts, and
//! cancellation that leaves no process behind.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Daemon, Events, Session, WAIT, next_data, next_event};
use serde_json::{Value, json};

/// How long killed processes may take to disappear.
const GONE_WITHIN: Duration = Duration::from_secs(5);

/// A command that records its shell's pid and a background child's pid in the cwd, says
/// `ready`, then waits for the child: the shape of a real build or server run.
const LONG_RUNNER: &str = "sleep 30 & echo $! > child; echo $$ > pid; echo ready; wait";

/// A daemon with `shell` enabled and allowed to run `allow` (a TOML array), plus `extra` keys of
/// `[tools.shell]` and then any further TOML.
fn shell_daemon(allow: &str, extra: &str) -> Daemon {
    Daemon::start(&format!(
        "[tools]\nenabled = [\"shell\"]\n[tools.shell]\nallow = {allow}\n{extra}"
    ))
}

/// Runs `command` and returns every message of the call, final response last.
async fn run(daemon: &Daemon, session: &Session, arguments: Value) -> Vec<Value> {
    daemon
        .call(session, "shell", arguments, json!({"progressToken": 1}))
        .await
}

/// The text and `isError` of a call's final response.
fn outcome(messages: &[Value]) -> (String, bool) {
    let result = &messages.last().expect("a final response")["result"];
    let text = result["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("a text result: {result}"));
    (text.to_owned(), result["isError"].as_bool().unwrap())
}

/// The progress messages of a call, in order.
fn progress_lines(messages: &[Value]) -> Vec<String> {
    messages
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .map(|m| m["params"]["message"].as_str().unwrap().to_owned())
        .collect()
}

/// Starts the `shell` call `command` with request id `id` and returns its open stream.
async fn start(daemon: &Daemon, session: &Session, id: u64, command: &str) -> Events {
    let response = daemon
        .mcp(
            session,
            json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                   "params": {"name": "shell", "arguments": {"command": command}}}),
        )
        .await;
    assert_eq!(response.status(), 200);
    common::sse(response)
}

/// Reads the call's stream up to the progress line `ready`.
async fn wait_for_ready(stream: &mut Events) {
    loop {
        let message = next_data(stream).await;
        assert_eq!(message["method"], "notifications/progress", "{message}");
        if message["params"]["message"] == "ready" {
            return;
        }
    }
}

/// The pids [`LONG_RUNNER`] wrote in `dir`.
fn recorded_pids(dir: &Path) -> Vec<i32> {
    ["pid", "child"]
        .iter()
        .map(|name| {
            let text = std::fs::read_to_string(dir.join(name)).unwrap();
            text.trim().parse().unwrap()
        })
        .collect()
}

/// Whether `pid` no longer runs: gone, or a zombie waiting for its parent to reap it.
fn is_gone(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return true;
    };
    // The state is the first field after the parenthesized command name.
    let state = stat.rsplit(')').next().unwrap().trim_start().chars().next();
    matches!(state, Some('Z' | 'X'))
}

/// Fails unless every process in `pids` is gone within [`GONE_WITHIN`].
async fn assert_all_gone(pids: &[i32]) {
    let deadline = Instant::now() + GONE_WITHIN;
    while !pids.iter().all(|&pid| is_gone(pid)) {
        assert!(
            Instant::now() < deadline,
            "still running: {:?}",
            pids.iter()
                .filter(|&&pid| !is_gone(pid))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the session runs `count` calls.
async fn wait_for_running(daemon: &Daemon, session: &Session, count: u64) {
    let deadline = Instant::now() + WAIT;
    while daemon.describe(session).await["running_calls"] != count {
        assert!(
            Instant::now() < deadline,
            "running_calls never became {count}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// After a cancelled call: the session's call slot is free again and the same request id works.
async fn assert_session_still_usable(daemon: &Daemon, session: &Session) {
    wait_for_running(daemon, session, 0).await;
    let messages = run(daemon, session, json!({"command": "echo again"})).await;
    let (text, is_error) = outcome(&messages);
    assert!(!is_error, "{text}");
    assert!(text.contains("again"), "{text}");
}

#[tokio::test]
async fn output_lines_are_progress_for_the_caller_and_the_followers() {
    let daemon = shell_daemon("[\"*\"]", "");
    let session = daemon.session().await;
    let mut events = daemon.follow(&session).await;
    daemon.wait_for_subscribers(&session, 1).await;

    let messages = run(
        &daemon,
        &session,
        json!({"command": "echo one; echo two; echo three >&2"}),
    )
    .await;
    assert_eq!(messages.len(), 4, "{messages:?}");
    let expected: BTreeSet<String> = ["one", "two", "three"].map(String::from).into();
    assert_eq!(
        progress_lines(&messages)
            .into_iter()
            .collect::<BTreeSet<_>>(),
        expected
    );
    for (i, note) in messages[..3].iter().enumerate() {
        assert_eq!(note["params"]["progressToken"], 1);
        assert_eq!(note["params"]["progress"], i as u64 + 1);
        assert!(note["params"].get("total").is_none(), "{note}");
    }
    assert!(!outcome(&messages).1);

    let mut followed = BTreeSet::new();
    for _ in 0..3 {
        let event = next_data(&mut events).await;
        assert_eq!(event["tool"], "shell");
        assert_eq!(event["token"], 1);
        followed.insert(event["message"].as_str().unwrap().to_owned());
    }
    assert_eq!(followed, expected);
}

#[tokio::test]
async fn the_result_has_the_exit_code_and_both_streams() {
    let daemon = shell_daemon("[\"*\"]", "");
    let session = daemon.session().await;

    let messages = run(
        &daemon,
        &session,
        json!({"command": "echo out; echo err >&2; exit 3"}),
    )
    .await;
    let (text, is_error) = outcome(&messages);
    assert!(is_error, "a non-zero exit is a failure");
    assert!(text.starts_with("exit code 3\n"), "{text}");
    assert!(text.contains("--- stdout ---\nout\n"), "{text}");
    assert!(text.contains("--- stderr ---\nerr\n"), "{text}");

    let messages = run(&daemon, &session, json!({"command": "printf done"})).await;
    let (text, is_error) = outcome(&messages);
    assert!(!is_error, "{text}");
    assert_eq!(text, "exit code 0\n--- stdout ---\ndone\n--- stderr ---\n");

    let messages = run(&daemon, &session, json!({"command": "kill -TERM $$"})).await;
    let (text, is_error) = outcome(&messages);
    assert!(is_error);
    assert!(text.starts_with("killed by signal 15\n"), "{text}");
}

#[tokio::test]
async fn commands_run_in_the_session_cwd() {
    let daemon = shell_daemon("[\"*\"]", "");
    let dir = daemon.home.path().join("project");
    std::fs::create_dir(&dir).unwrap();
    let session = daemon.session_with(json!({"cwd": dir})).await;
    let messages = run(&daemon, &session, json!({"command": "pwd"})).await;
    let (text, is_error) = outcome(&messages);
    assert!(!is_error, "{text}");
    assert!(
        text.contains(&format!("--- stdout ---\n{}\n", common::canonical(&dir))),
        "{text}"
    );
}

#[tokio::test]
async fn a_timeout_kills_the_whole_group_and_keeps_the_output() {
    let daemon = shell_daemon("[\"*\"]", "");
    let session = daemon.session().await;
    let started = Instant::now();
    let messages = run(
        &daemon,
        &session,
        json!({"command": LONG_RUNNER, "timeout_ms": 1000}),
    )
    .await;
    assert!(started.elapsed() < WAIT, "took {:?}", started.elapsed());
    let (text, is_error) = outcome(&messages);
    assert!(is_error);
    assert!(text.starts_with("timed out after 1000 ms"), "{text}");
    assert!(text.contains("--- stdout ---\nready\n"), "{text}");
    assert_all_gone(&recorded_pids(daemon.home.path())).await;
}

#[tokio::test]
async fn background_jobs_die_when_the_command_exits() {
    let daemon = shell_daemon("[\"*\"]", "");
    let session = daemon.session().await;
    let messages = run(
        &daemon,
        &session,
        json!({"command": "sleep 30 & echo $! > child; echo done", "timeout_ms": 20_000}),
    )
    .await;
    let (text, is_error) = outcome(&messages);
    assert!(!is_error, "{text}");
    assert!(
        text.starts_with("exit code 0\n--- stdout ---\ndone\n"),
        "{text}"
    );
    let child = std::fs::read_to_string(daemon.home.path().join("child")).unwrap();
    assert_all_gone(&[child.trim().parse().unwrap()]).await;
}

#[tokio::test]
async fn a_detached_process_holding_the_output_does_not_hold_the_call() {
    let daemon = shell_daemon("[\"*\"]", "");
    let session = daemon.session().await;
    let started = Instant::now();
    let messages = run(
        &daemon,
        &session,
        json!({"command": "setsid sh -c 'echo $$ > detached; exec sleep 30' & echo done",
               "timeout_ms": 20_000}),
    )
    .await;
    let detached = daemon.home.path().join("detached");
    if let Ok(pid) = std::fs::read_to_string(&detached) {
        // It left the group, so the tool could not kill it; the test cleans up after itself.
        // SAFETY: signalling a process this test started through the daemon.
        unsafe { libc::kill(pid.trim().parse().unwrap(), libc::SIGKILL) };
    }
    assert!(started.elapsed() < WAIT, "took {:?}", started.elapsed());
    let (text, is_error) = outcome(&messages);
    assert!(!is_error, "{text}");
    assert!(
        text.starts_with("exit code 0\n--- stdout ---\ndone\n"),
        "{text}"
    );
}

#[tokio::test]
async fn timeouts_default_and_are_capped_by_the_configuration() {
    let daemon = shell_daemon(
        "[\"*\"]",
        "default_timeout = \"200ms\"\nmax_timeout = \"400ms\"\n",
    );
    let session = daemon.session().await;
    let messages = run(&daemon, &session, json!({"command": "sleep 30"})).await;
    let (text, _) = outcome(&messages);
    assert!(text.starts_with("timed out after 200 ms"), "{text}");
    let messages = run(
        &daemon,
        &session,
        json!({"command": "sleep 30", "timeout_ms": 60_000}),
    )
    .await;
    let (text, _) = outcome(&messages);
    assert!(text.starts_with("timed out after 400 ms"), "{text}");
}

#[tokio::test]
async fn an_allow_list_runs_only_listed_programs_and_no_shell() {
    let daemon = shell_daemon("[\"echo\"]", "");
    let session = daemon.session().await;

    let messages = run(&daemon, &session, json!({"command": "echo a; ls"})).await;
    let (text, is_error) = outcome(&messages);
    assert!(!is_error, "{text}");
    assert!(text.contains("--- stdout ---\na; ls\n"), "{text}");

    let messages = run(
        &daemon,
        &session,
        json!({"command": "echo 'two  spaces' \"$HOME\""}),
    )
    .await;
    assert!(outcome(&messages).0.contains("\ntwo  spaces $HOME\n"));

    for (command, needle) in [
        ("ls", "ls is not an allowed program (allowed: echo)"),
        ("/bin/echo hi", "/bin/echo is not an allowed program"),
        ("sh -c 'echo hi'", "sh is not an allowed program"),
        ("echo 'unbalanced", "unbalanced quote"),
        ("", "the command is empty"),
    ] {
        let messages = run(&daemon, &session, json!({"command": command})).await;
        assert_eq!(messages.len(), 1, "{command}: nothing ran, nothing printed");
        let (text, is_error) = outcome(&messages);
        assert!(is_error, "{command}");
        assert!(text.contains(needle), "{command}: {text}");
    }
}

#[tokio::test]
async fn shell_is_off_by_default() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let listed = daemon.rpc(&session, "tools/list", json!({})).await;
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"shell"), "{names:?}");
    let messages = run(&daemon, &session, json!({"command": "echo hi"})).await;
    assert_eq!(messages[0]["error"]["code"], -32602);
    assert!(
        messages[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("unknown tool: shell")
    );
}

#[tokio::test]
async fn bad_arguments_are_32602() {
    let daemon = shell_daemon("[\"*\"]", "");
    let session = daemon.session().await;
    for arguments in [
        json!({}),
        json!({"command": 1}),
        json!({"command": "true", "timeout_ms": 0}),
        json!({"command": "true", "cwd": "/"}),
    ] {
        let messages = run(&daemon, &session, arguments.clone()).await;
        assert_eq!(messages[0]["error"]["code"], -32602, "{arguments}");
    }
}

#[tokio::test]
async fn output_beyond_the_cap_is_counted_not_kept() {
    let daemon = shell_daemon("[\"*\"]", "max_output_bytes = 10\n");
    let session = daemon.session().await;
    let messages = run(
        &daemon,
        &session,
        json!({"command": "echo 0123456789; echo abcdefghij; echo short >&2"}),
    )
    .await;
    assert_eq!(
        progress_lines(&messages).len(),
        3,
        "every line is still reported"
    );
    let (text, is_error) = outcome(&messages);
    assert!(!is_error, "{text}");
    assert!(
        text.contains("--- stdout (truncated: first 10 of 22 bytes) ---\n0123456789\n--- stderr"),
        "{text}"
    );
    assert!(text.contains("--- stderr ---\nshort\n"), "{text}");
}

#[tokio::test]
async fn notifications_cancelled_kills_the_process_group_without_a_response() {
    let daemon = shell_daemon("[\"*\"]", "");
    let session = daemon.session().await;
    let mut stream = start(&daemon, &session, 7, LONG_RUNNER).await;
    wait_for_ready(&mut stream).await;
    let pids = recorded_pids(daemon.home.path());
    assert!(!pids.iter().any(|&pid| is_gone(pid)), "{pids:?} run");

    let cancel = daemon
        .mcp(
            &session,
            json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                   "params": {"requestId": 7}}),
        )
        .await;
    assert_eq!(cancel.status(), 202);
    assert_all_gone(&pids).await;
    while let Some(event) = next_event(&mut stream).await {
        let message: Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(message["method"], "notifications/progress", "{message}");
    }
    assert_session_still_usable(&daemon, &session).await;
}

#[tokio::test]
async fn closing_the_call_stream_kills_the_process_group() {
    let daemon = shell_daemon("[\"*\"]", "");
    let session = daemon.session().await;
    let mut stream = start(&daemon, &session, 7, LONG_RUNNER).await;
    wait_for_ready(&mut stream).await;
    let pids = recorded_pids(daemon.home.path());
    assert!(!pids.iter().any(|&pid| is_gone(pid)), "{pids:?} run");

    drop(stream);
    assert_all_gone(&pids).await;
    assert_session_still_usable(&daemon, &session).await;
}
