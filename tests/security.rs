//! Who may use the daemon: the Origin/Host fence against DNS rebinding, the owner key it
//! generates by default (or the configured API keys), and the folders sessions may work in.

mod common;

use std::os::unix::fs::PermissionsExt as _;

use common::{ACCEPT, Daemon, binary, client, error_text, initialize_body};
use serde_json::{Value, json};

const KEY: &str = "k-0123456789abcdef";

fn port(daemon: &Daemon) -> u16 {
    daemon.base.rsplit(':').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_foreign_origin_is_refused_with_403_on_every_route() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    for (method, path) in [("POST", "/session"), ("POST", "/mcp"), ("GET", "/health")] {
        let response = client()
            .request(method.parse().unwrap(), daemon.url(path))
            .header("Origin", "http://evil.example")
            .bearer_auth(&session.token)
            .header("X-Construct-Session", &session.id)
            .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{method} {path}");
        assert_eq!(
            error_text(response).await,
            "the request's Origin is not allowed"
        );
    }
}

#[tokio::test]
async fn the_daemons_own_loopback_origins_are_allowed() {
    let daemon = Daemon::start("");
    for name in ["127.0.0.1", "localhost", "[::1]"] {
        let response = daemon
            .keyed(client().post(daemon.url("/session")))
            .header("Origin", format!("http://{name}:{}", port(&daemon)))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{name}");
    }
    let other_port = daemon
        .keyed(client().post(daemon.url("/session")))
        .header("Origin", format!("http://localhost:{}", port(&daemon) + 1))
        .send()
        .await
        .unwrap();
    assert_eq!(other_port.status(), 403);
}

#[tokio::test]
async fn a_rebinding_host_is_refused_and_loopback_hosts_pass() {
    let daemon = Daemon::start("");
    let rebound = daemon
        .keyed(client().post(daemon.url("/session")))
        .header("Host", format!("evil.example:{}", port(&daemon)))
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    assert_eq!(
        error_text(rebound).await,
        "the request's Host is not allowed"
    );
    let local = daemon
        .keyed(client().post(daemon.url("/session")))
        .header("Host", format!("localhost:{}", port(&daemon)))
        .send()
        .await
        .unwrap();
    assert_eq!(local.status(), 200);
}

#[tokio::test]
async fn configured_origins_and_hosts_are_allowed() {
    let daemon = Daemon::start(
        "[security]\nallowed_origins = [\"https://dash.example\"]\nallowed_hosts = [\"devbox:1\"]\n",
    );
    let response = daemon
        .keyed(client().post(daemon.url("/session")))
        .header("Origin", "https://dash.example")
        .header("Host", "devbox:1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn with_api_keys_creating_a_session_needs_one() {
    let daemon = Daemon::start(&format!("[security]\napi_keys = [\"{KEY}\"]\n"));
    let missing = client().post(daemon.url("/session")).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    let wrong = client()
        .post(daemon.url("/session"))
        .bearer_auth("k-not-the-right-key")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    assert_eq!(error_text(wrong).await, "the API key is not valid");
    let right = client()
        .post(daemon.url("/session"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 200);
}

#[test]
fn a_non_loopback_bind_without_api_keys_refuses_to_start() {
    let home = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(binary())
        .args(["--bind", "0.0.0.0", "--port", "0"])
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("security.api_keys"), "{stderr}");
    assert!(output.stdout.is_empty());
}

#[tokio::test]
async fn by_default_only_the_holder_of_the_owner_key_gets_in() {
    let daemon = Daemon::start("");
    let key = daemon.api_key().to_owned();
    assert_eq!(key.len(), 64);
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&daemon.discovery), 0o600);
    assert_eq!(mode(daemon.discovery.parent().unwrap()), 0o700);
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&daemon.discovery).unwrap()).unwrap();
    for field in ["url", "pid", "started_at", "api_key"] {
        assert!(written.get(field).is_some(), "{field} in {written}");
    }

    // Every way of opening a session, and the anonymous stateless path, without the key or
    // with a wrong one.
    let create = || client().post(daemon.url("/session"));
    let initialize = || {
        client()
            .post(daemon.url("/mcp"))
            .header("Accept", ACCEPT)
            .json(&initialize_body("2025-11-25"))
    };
    let stateless = || {
        client()
            .post(daemon.url("/mcp"))
            .header("Accept", ACCEPT)
            .header("MCP-Protocol-Version", "2026-07-28")
            .header("Mcp-Method", "server/discover")
            .json(
                &json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover",
                          "params": {"_meta": {
                              "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                              "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
                              "io.modelcontextprotocol/clientCapabilities": {}}}}),
            )
    };
    for (what, request) in [
        (
            "POST /session",
            &create as &dyn Fn() -> reqwest::RequestBuilder,
        ),
        ("initialize", &initialize),
        ("stateless", &stateless),
    ] {
        let missing = request().send().await.unwrap();
        assert_eq!(missing.status(), 401, "{what}");
        assert!(error_text(missing).await.contains("api_key"), "{what}");
        let wrong = request().bearer_auth("f".repeat(64)).send().await.unwrap();
        assert_eq!(wrong.status(), 401, "{what}");
        let right = request().bearer_auth(&key).send().await.unwrap();
        assert_eq!(right.status(), 200, "{what}");
    }

    // A session's own token works as it always did, without the key.
    let session = daemon.session().await;
    let listed = daemon.rpc(&session, "tools/list", json!({})).await;
    assert!(listed["result"]["tools"].is_array());
    // And a session's token is no key.
    let response = client()
        .post(daemon.url("/session"))
        .bearer_auth(&session.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn the_owner_key_lists_sessions_but_a_configured_key_does_not() {
    let daemon = Daemon::start("");
    let listed = client()
        .get(daemon.url("/admin/sessions"))
        .bearer_auth(daemon.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);

    let keyed = Daemon::start(&format!("[security]\napi_keys = [\"{KEY}\"]\n"));
    let refused = client()
        .get(keyed.url("/admin/sessions"))
        .bearer_auth(KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
}

#[tokio::test]
async fn with_require_api_key_off_local_processes_get_in_without_one() {
    let daemon = Daemon::start("[security]\nrequire_api_key = false\n");
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&daemon.discovery).unwrap()).unwrap();
    assert!(written.get("api_key").is_none(), "{written}");
    let created = client().post(daemon.url("/session")).send().await.unwrap();
    assert_eq!(created.status(), 200);
}

#[tokio::test]
async fn a_cwd_outside_the_workspace_roots_is_refused_naming_the_key() {
    let daemon = Daemon::start("");
    for cwd in ["/", "/etc", "~/.."] {
        let response = daemon
            .keyed(client().post(daemon.url("/session")))
            .json(&json!({ "cwd": cwd }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{cwd}");
        let reason = error_text(response).await;
        assert!(reason.contains("tools.workspace_roots"), "{cwd}: {reason}");
    }
    // A root of the operator's choosing admits what it holds, and nothing else.
    let root = tempfile::tempdir().unwrap();
    let wide = Daemon::start(&format!(
        "[tools]\nworkspace_roots = [{:?}]\n",
        root.path().to_str().unwrap()
    ));
    wide.session_with(json!({"cwd": root.path()})).await;
    let home = wide
        .keyed(client().post(wide.url("/session")))
        .json(&json!({"cwd": wide.home.path()}))
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), 400);
}

#[tokio::test]
async fn every_loopback_address_counts_as_one_client_for_the_creation_limit() {
    let daemon = Daemon::start("[sessions]\ncreate_per_minute = 5\n");
    let mut created = 0;
    for n in 0..300u32 {
        let source = std::net::Ipv4Addr::new(127, 0, (n / 250) as u8 + 1, (n % 250) as u8 + 1);
        let rotating = reqwest::Client::builder()
            .local_address(std::net::IpAddr::V4(source))
            .timeout(common::WAIT)
            .build()
            .unwrap();
        let response = daemon
            .keyed(rotating.post(daemon.url("/session")))
            .send()
            .await
            .unwrap();
        match response.status().as_u16() {
            200 => created += 1,
            429 => {}
            other => panic!("from {source}: {other}"),
        }
    }
    assert_eq!(
        created, 5,
        "sessions created from 300 rotating loopback addresses"
    );
}

#[test]
fn an_api_key_of_spaces_is_refused() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("c.toml");
    std::fs::write(&file, "[security]\napi_keys = [\"                \"]\n").unwrap();
    let output = std::process::Command::new(binary())
        .arg("check-config")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("security.api_keys") && stderr.contains("visible ASCII"),
        "{stderr}"
    );
}

/// The write end of a pipe whose read end is already closed, as `| head` leaves it.
fn closed_pipe() -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd as _;
    let mut fds = [0; 2];
    // SAFETY: a fresh pipe; the read end is closed at once, the write end owned by the caller.
    unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        libc::close(fds[0]);
        std::os::fd::OwnedFd::from_raw_fd(fds[1])
    }
}

#[test]
fn check_config_into_a_closed_pipe_exits_on_its_verdict_without_a_panic() {
    let home = tempfile::tempdir().unwrap();
    let good = home.path().join("good.toml");
    std::fs::write(&good, "").unwrap();
    let output = std::process::Command::new(binary())
        .arg("check-config")
        .arg(&good)
        .stdout(std::process::Stdio::from(closed_pipe()))
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    // A verdict of "invalid", said to a closed standard error.
    let bad = home.path().join("bad.toml");
    std::fs::write(&bad, "[server]\nport = \"high\"\n").unwrap();
    let status = std::process::Command::new(binary())
        .arg("check-config")
        .arg(&bad)
        .stdout(std::process::Stdio::from(closed_pipe()))
        .stderr(std::process::Stdio::from(closed_pipe()))
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
}

#[tokio::test]
async fn requests_the_http_parser_cannot_read_do_not_write_to_the_log() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let daemon = Daemon::start_with("", &[("CONSTRUCT_ACTOR_LOG__LEVEL", "info")]);
    let addr = daemon.base.trim_start_matches("http://").to_owned();
    for _ in 0..20 {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let request = format!("GET /health HTTP/1.1\r\nHost: {addr}\r\nX: \u{1}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(common::WAIT, stream.read_to_end(&mut answer)).await;
        assert!(answer.starts_with(b"HTTP/1.1 400"), "{answer:?}");
    }
    // The daemon is still well, and said nothing about the twenty bad requests.
    let health = client().get(daemon.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let log = daemon.stderr();
    assert!(!log.contains("ERROR"), "{log}");
    assert!(!log.contains("parse error"), "{log}");
}

/// The text of a tool call's final result, and whether it is an error.
async fn tool_text(
    daemon: &Daemon,
    session: &common::Session,
    tool: &str,
    args: Value,
) -> (String, bool) {
    let messages = daemon.call(session, tool, args, json!({})).await;
    let result = &messages.last().expect("a final response")["result"];
    let text = result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    (text, result["isError"] == true)
}

#[tokio::test]
async fn no_tool_reads_the_discovery_file_or_the_configuration_even_from_home() {
    // The harness keeps both in the daemon's home: discovery/mcp.json, construct-actor.toml.
    let daemon = Daemon::start("[admin]\ntoken = \"admin-0123456789abcdef\"\n");
    let session = daemon.session().await;
    let key = daemon.api_key().to_owned();
    for path in [
        "discovery/mcp.json",
        "construct-actor.toml",
        "./discovery/../construct-actor.toml",
    ] {
        let (text, is_error) =
            tool_text(&daemon, &session, "file_read", json!({"path": path})).await;
        assert!(
            is_error && text.contains("daemon's own files"),
            "{path}: {text}"
        );
        let (text, is_error) = tool_text(
            &daemon,
            &session,
            "file_write",
            json!({"path": path, "content": "x"}),
        )
        .await;
        assert!(
            is_error && text.contains("daemon's own files"),
            "{path}: {text}"
        );
    }
    for secret in [key.as_str(), "admin-0123456789abcdef"] {
        let (text, _) = tool_text(
            &daemon,
            &session,
            "content_search",
            json!({"pattern": secret, "path": "."}),
        )
        .await;
        assert!(
            !text.contains("mcp.json") && !text.contains("construct-actor.toml"),
            "{text}"
        );
    }
    let (text, _) = tool_text(&daemon, &session, "glob_search", json!({"pattern": "**/*"})).await;
    assert!(
        !text.contains("mcp.json") && !text.contains("construct-actor.toml"),
        "{text}"
    );
}
