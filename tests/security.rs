//! The Origin/Host fence against DNS rebinding, and optional API keys.

mod common;

use common::{Daemon, binary, client, error_text};
use serde_json::json;

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
