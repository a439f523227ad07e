//! `construct-actor sessions` against a live daemon: every session listed with the admin token,
//! refused without it or with a session's token; the client a standard session was opened by is
//! shown, and such a session that only looked ends after `mcp.initialize_idle_timeout`.

mod common;

use std::process::{Command, Stdio};

use common::{Daemon, WAIT, canonical};
use serde_json::{Value, json};

/// The admin token the daemon is configured with.
const ADMIN_TOKEN: &str = "admin-token-0123456789abcdef";

/// The daemon configuration that sets it.
fn admin_config() -> String {
    format!("[admin]\ntoken = \"{ADMIN_TOKEN}\"\n")
}

/// What the command did.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `construct-actor sessions` with `args` and `env`, bounded in time.
fn sessions(args: &[&str], env: &[(&str, &str)]) -> Run {
    let home = tempfile::tempdir().unwrap();
    let child = Command::new(common::binary())
        .arg("sessions")
        .args(args)
        .env("HOME", home.path())
        .env_remove("CONSTRUCT_ACTOR_ADMIN_TOKEN")
        .env_remove("CONSTRUCT_ACTOR_DISCOVERY__PATH")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let output = match rx.recv_timeout(WAIT * 2) {
        Ok(output) => output.unwrap(),
        Err(_) => {
            // SAFETY: killing the child this test spawned, which has not been reaped.
            unsafe { libc::kill(i32::try_from(pid).unwrap(), libc::SIGKILL) };
            panic!("`construct-actor sessions` did not finish in time");
        }
    };
    Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[tokio::test]
async fn every_session_is_listed_with_the_admin_token() {
    let daemon = Daemon::start(&admin_config());
    let one = tempfile::tempdir_in(daemon.home.path()).unwrap();
    let two = tempfile::tempdir_in(daemon.home.path()).unwrap();
    let first = daemon
        .session_with(json!({"cwd": one.path(), "label": "frontend"}))
        .await;
    let second = daemon
        .session_with(json!({"cwd": two.path(), "label": "backend"}))
        .await;
    let discovery = daemon.discovery.to_str().unwrap();

    let table = sessions(
        &["--admin-token", ADMIN_TOKEN, "--discovery", discovery],
        &[],
    );
    assert_eq!(table.code, Some(0), "{}", table.stderr);
    let lines: Vec<&str> = table.stdout.lines().collect();
    assert!(
        lines[0].starts_with("SESSION") && lines[0].contains("LABEL") && lines[0].contains("CWD"),
        "{}",
        table.stdout
    );
    for (session, label, dir) in [
        (&first, "frontend", one.path()),
        (&second, "backend", two.path()),
    ] {
        let row = lines
            .iter()
            .find(|line| line.starts_with(&session.id))
            .unwrap_or_else(|| panic!("{} is listed: {}", session.id, table.stdout));
        assert!(
            row.contains(label) && row.contains(&canonical(dir)),
            "{row}"
        );
    }
    assert!(
        !table.stdout.contains(&first.token),
        "tokens are never listed"
    );

    // The token from the environment, and the daemon's JSON as it is.
    let listed = sessions(
        &["--json", "--discovery", discovery],
        &[("CONSTRUCT_ACTOR_ADMIN_TOKEN", ADMIN_TOKEN)],
    );
    assert_eq!(listed.code, Some(0), "{}", listed.stderr);
    let body: Value = serde_json::from_str(&listed.stdout).unwrap();
    let entry = body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["session_id"] == first.id.as_str())
        .expect("the first session is listed");
    for field in [
        "session_id",
        "label",
        "cwd",
        "created_at",
        "last_activity",
        "subscribers",
        "running_calls",
    ] {
        assert!(entry.get(field).is_some(), "{field} in {entry}");
    }
    assert_eq!(entry["label"], "frontend");
    assert_eq!(entry["cwd"], canonical(one.path()));
}

#[tokio::test]
async fn a_wrong_admin_token_or_a_session_token_is_refused() {
    let daemon = Daemon::start(&admin_config());
    let session = daemon.session().await;
    let discovery = daemon.discovery.to_str().unwrap();
    for token in ["not-the-admin-token-at-all", session.token.as_str()] {
        let run = sessions(&["--admin-token", token, "--discovery", discovery], &[]);
        assert_eq!(run.code, Some(1), "{}", run.stdout);
        assert!(
            run.stderr.contains("refused the admin token"),
            "{}",
            run.stderr
        );
        assert!(!run.stdout.contains(&session.id), "{}", run.stdout);
    }
}

#[test]
fn without_an_admin_token_it_says_how_to_give_one() {
    let run = sessions(&["--url", "http://127.0.0.1:9/mcp"], &[]);
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("--admin-token") && run.stderr.contains("CONSTRUCT_ACTOR_ADMIN_TOKEN"),
        "{}",
        run.stderr
    );
}

#[tokio::test]
async fn the_owner_key_from_the_discovery_file_lists_sessions_without_a_token() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let run = sessions(
        &["--json", "--discovery", daemon.discovery.to_str().unwrap()],
        &[],
    );
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert!(run.stdout.contains(&session.id), "{}", run.stdout);
}

/// Posts `message` in the standard session `id` (its `Mcp-Session-Id`); it must succeed.
async fn post(daemon: &Daemon, id: &str, message: Value) {
    let response = daemon.standard_post(id, message).await;
    assert!(response.status().is_success(), "{}", response.status());
    // The whole answer (a tool call streams until it ends).
    response.bytes().await.unwrap();
}

#[tokio::test]
async fn standard_sessions_show_their_client_and_only_used_ones_outlive_the_initialize_timeout() {
    let unused = std::time::Duration::from_secs(1);
    let daemon = Daemon::start(&format!(
        "{}\n[mcp]\ninitialize_idle_timeout = \"1s\"\n",
        admin_config()
    ));
    let discovery = daemon.discovery.to_str().unwrap();
    // Two standard clients: one only lists the tools (as `mcp list` commands do), one calls one.
    let looked = daemon.initialize("2025-11-25").await;
    let worked = daemon.initialize("2025-11-25").await;
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    post(&daemon, &looked, list.clone()).await;
    post(&daemon, &worked, list).await;
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "echo", "arguments": {"text": "hi"}}});
    post(&daemon, &worked, call).await;
    let id = |header: &str| header.split('.').next().unwrap().to_owned();
    let (looked, worked) = (id(&looked), id(&worked));

    let table = sessions(
        &["--admin-token", ADMIN_TOKEN, "--discovery", discovery],
        &[],
    );
    assert_eq!(table.code, Some(0), "{}", table.stderr);
    assert!(
        table.stdout.lines().next().unwrap().contains("CLIENT"),
        "{}",
        table.stdout
    );
    for session in [&looked, &worked] {
        let row = table
            .stdout
            .lines()
            .find(|line| line.starts_with(session.as_str()))
            .unwrap_or_else(|| panic!("{session} is listed: {}", table.stdout));
        assert!(row.contains("standard-test"), "{row}");
    }
    let listed = sessions(
        &[
            "--json",
            "--admin-token",
            ADMIN_TOKEN,
            "--discovery",
            discovery,
        ],
        &[],
    );
    let body: Value = serde_json::from_str(&listed.stdout).unwrap();
    let entry = body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["session_id"] == looked.as_str())
        .unwrap();
    assert_eq!(
        entry["client"],
        json!({"name": "standard-test", "version": "1"})
    );

    // Past the shorter timeout: the session that only looked is gone, the one put to work stays.
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let table = sessions(
            &["--admin-token", ADMIN_TOKEN, "--discovery", discovery],
            &[],
        );
        if !table.stdout.contains(&looked) {
            assert!(table.stdout.contains(&worked), "{}", table.stdout);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{}", table.stdout);
        std::thread::sleep(unused / 4);
    }
    std::thread::sleep(unused * 2);
    let table = sessions(
        &["--admin-token", ADMIN_TOKEN, "--discovery", discovery],
        &[],
    );
    assert!(table.stdout.contains(&worked), "{}", table.stdout);
}
