//! The daemon as a process: its command line, configuration, discovery file and shutdown.

mod common;

use std::process::Command;

use common::{Daemon, binary, client, next_data};
use serde_json::{Value, json};

#[tokio::test]
async fn the_discovery_file_names_the_url_and_is_removed_on_sigterm() {
    let mut daemon = Daemon::start("");
    let text = std::fs::read_to_string(&daemon.discovery).unwrap();
    let discovery: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(discovery["url"], daemon.url("/mcp"));
    assert_eq!(discovery["pid"], daemon.pid());
    assert!(
        chrono::DateTime::parse_from_rfc3339(discovery["started_at"].as_str().unwrap()).is_ok()
    );
    let status = daemon.terminate();
    assert!(status.success(), "{status:?}");
    assert!(!daemon.discovery.exists());
}

#[tokio::test]
async fn a_disabled_discovery_file_is_not_written() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("c.toml");
    std::fs::write(
        &config,
        "[discovery]\nenabled = false\n[security]\napi_keys = [\"0123456789abcdef-key\"]\n",
    )
    .unwrap();
    let mut command = Command::new(binary());
    command.arg("--config").arg(&config);
    let discovery = home.path().join(".construct/mcp.json");
    let daemon = Daemon::spawn(command, home, discovery, &[]);
    assert!(!daemon.discovery.exists());
}

#[test]
fn a_generated_key_needs_the_discovery_file_to_reach_its_owner() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("c.toml");
    std::fs::write(&config, "[discovery]\nenabled = false\n").unwrap();
    let output = Command::new(binary())
        .arg("check-config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("discovery.enabled") && stderr.contains("security.require_api_key"),
        "{stderr}"
    );
}

#[tokio::test]
async fn without_a_config_the_daemon_runs_on_safe_defaults() {
    let home = tempfile::tempdir().unwrap();
    let discovery = home.path().join(".construct/mcp.json");
    let daemon = Daemon::spawn(Command::new(binary()), home, discovery, &[]);
    assert!(daemon.base.starts_with("http://127.0.0.1:"));
    assert!(!daemon.base.ends_with(":0"));
    assert!(
        daemon.discovery.exists(),
        "the default discovery path is under the home directory"
    );
    let session = daemon.session().await;
    let tools = daemon.rpc(&session, "tools/list", json!({})).await;
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    assert!(!names.contains(&"shell") && !names.contains(&"http_request"));
    assert!(names.contains(&"file_read") && names.contains(&"echo"));
}

/// A daemon with `shutdown_grace = grace`, running a `sleep` call of `duration_ms` in `steps`
/// whose first progress notification has arrived; the call's stream.
async fn running_sleep(grace: &str, duration_ms: u64, steps: u64) -> (Daemon, common::Events) {
    let daemon = Daemon::start(&format!("[server]\nshutdown_grace = \"{grace}\"\n"));
    let session = daemon.session().await;
    let response = daemon
        .mcp(
            &session,
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": "sleep",
                              "arguments": {"duration_ms": duration_ms, "steps": steps}}}),
        )
        .await;
    let mut stream = common::sse(response);
    let first = next_data(&mut stream).await;
    assert_eq!(first["method"], "notifications/progress");
    (daemon, stream)
}

#[tokio::test]
async fn a_running_call_finishes_during_graceful_shutdown() {
    let (mut daemon, mut stream) = running_sleep("10s", 800, 2).await;
    let pid = daemon.pid();
    let terminating = std::thread::spawn(move || {
        // SAFETY: signalling the daemon child process this test started.
        unsafe { libc::kill(i32::try_from(pid).unwrap(), libc::SIGTERM) }
    });
    assert_eq!(next_data(&mut stream).await["params"]["progress"], 2);
    assert_eq!(next_data(&mut stream).await["result"]["isError"], false);
    assert_eq!(terminating.join().unwrap(), 0);
    assert!(daemon.terminate_wait().success());
}

/// A call still running when the grace period is over is stopped, and its client is told so
/// with an error response (not a connection that just breaks off); the shutdown is not held up.
#[tokio::test]
async fn a_call_outlasting_the_grace_period_ends_with_a_clear_error() {
    let (mut daemon, mut stream) = running_sleep("1s", 60_000, 600).await;
    let pid = daemon.pid();
    let started = std::time::Instant::now();
    let terminating = std::thread::spawn(move || {
        // SAFETY: signalling the daemon child process this test started.
        unsafe { libc::kill(i32::try_from(pid).unwrap(), libc::SIGTERM) }
    });
    let last = loop {
        let message = next_data(&mut stream).await;
        if message["method"] != "notifications/progress" {
            break message;
        }
    };
    assert_eq!(last["error"]["code"], -32603, "{last}");
    let reason = last["error"]["message"].as_str().unwrap();
    assert!(reason.contains("shutting down"), "{reason}");
    assert_eq!(terminating.join().unwrap(), 0);
    assert!(daemon.terminate_wait().success());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn sigterm_ends_event_streams() {
    let mut daemon = Daemon::start("");
    let session = daemon.session().await;
    let mut events = daemon.follow(&session).await;
    daemon.wait_for_subscribers(&session, 1).await;
    let status = daemon.terminate();
    assert!(status.success());
    assert!(common::next_event(&mut events).await.is_none());
}

#[tokio::test]
async fn flags_override_the_file_and_the_environment_overrides_the_file() {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("c.toml");
    std::fs::write(
        &config,
        "[discovery]\nenabled = false\n[security]\nrequire_api_key = false\n\
         [server]\nport = 1\nmax_body_bytes = 1000000\n",
    )
    .unwrap();
    let mut command = Command::new(binary());
    command
        .arg("--config")
        .arg(&config)
        .arg("--port")
        .arg(port.to_string());
    let discovery = home.path().join("none");
    let daemon = Daemon::spawn(
        command,
        home,
        discovery,
        &[("CONSTRUCT_ACTOR_SERVER__MAX_BODY_BYTES", "64")],
    );
    assert_eq!(daemon.base, format!("http://127.0.0.1:{port}"));
    let response = daemon
        .keyed(client().post(daemon.url("/session")))
        .json(&json!({"label": "x".repeat(100)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
}

#[test]
fn check_config_accepts_the_example_and_names_the_key_of_a_bad_one() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config/construct-actor.toml");
    let ok = Command::new(binary())
        .args(["check-config", example])
        .output()
        .unwrap();
    assert!(ok.status.success());
    assert!(String::from_utf8_lossy(&ok.stdout).contains("ok"));

    let dir = tempfile::tempdir().unwrap();
    for (text, needle) in [
        ("[server]\nprot = 80\n", "prot"),
        (
            "[sessions]\nsubscriber_queue = 0\n",
            "sessions.subscriber_queue",
        ),
        ("[log]\nformat = \"xml\"\n", "format"),
        ("[tools]\nenabled = [\"rm\"]\n", "tools.enabled"),
        ("[tools]\nenabled = [\"shell\"]\n", "tools.shell.allow"),
        ("not toml at all", "c.toml"),
    ] {
        let file = dir.path().join("c.toml");
        std::fs::write(&file, text).unwrap();
        let bad = Command::new(binary())
            .arg("check-config")
            .arg(&file)
            .output()
            .unwrap();
        assert!(!bad.status.success(), "{text}");
        let stderr = String::from_utf8_lossy(&bad.stderr);
        assert!(stderr.contains(needle), "{stderr} should name {needle}");
    }
}

#[test]
fn a_bad_config_stops_the_daemon_before_it_listens() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(&file, "[server]\nbind = \"not an address\"\n").unwrap();
    let output = Command::new(binary())
        .arg("--config")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("bind"));
    assert!(output.stdout.is_empty());
}

/// A Redis URL the client library cannot even parse is a configuration mistake, reported at
/// start; an unreachable Redis is not (the daemon starts and answers `503` until it is back:
/// `tests/cluster.rs`).
#[test]
fn an_unusable_redis_url_stops_the_daemon_before_it_listens() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(&file, "[cluster]\nredis_url = \"http://not-redis\"\n").unwrap();
    let output = Command::new(binary())
        .arg("--config")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cluster.redis_url"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[test]
fn a_port_in_use_is_a_clear_startup_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let home = tempfile::tempdir().unwrap();
    let output = Command::new(binary())
        .args(["--port", &port])
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot listen on 127.0.0.1"));
}

#[test]
fn the_client_commands_environment_does_not_disturb_the_daemons_config() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/config/construct-actor.toml");
    let output = Command::new(binary())
        .args(["check-config", example])
        .env("CONSTRUCT_ACTOR_API_KEY", "k-0123456789abcdef")
        .env("CONSTRUCT_ACTOR_ADMIN_TOKEN", "a-0123456789abcdef")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let unknown = Command::new(binary())
        .args(["check-config", example])
        .env("CONSTRUCT_ACTOR_SERVER__PROT", "1")
        .output()
        .unwrap();
    assert!(
        !unknown.status.success(),
        "other unknown keys are still errors"
    );
}
