//! The admin token and `GET /admin/sessions`, over real HTTP: the token is required and checked
//! (session tokens never do), generated and printed once when unset, taken from the file or the
//! environment when set; the list shows every session with its facts.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Daemon, WAIT, canonical, client, error_text};
use serde_json::{Value, json};

/// The admin token the daemon is configured with, in most tests.
const ADMIN: &str = "admin-0123456789abcdef";

fn configured() -> Daemon {
    Daemon::start(&format!("[admin]\ntoken = \"{ADMIN}\"\n"))
}

/// `GET /admin/sessions` with `authorization` as the whole header value, when given.
async fn list_raw(daemon: &Daemon, authorization: Option<&str>) -> reqwest::Response {
    let mut request = client().get(daemon.url("/admin/sessions"));
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    request.send().await.unwrap()
}

/// The sessions listed with `token`, which must be accepted.
async fn list(daemon: &Daemon, token: &str) -> Vec<Value> {
    let response = list_raw(daemon, Some(&format!("Bearer {token}"))).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    body["sessions"]
        .as_array()
        .expect("a sessions array")
        .clone()
}

fn find<'a>(sessions: &'a [Value], id: &str) -> Option<&'a Value> {
    sessions.iter().find(|s| s["session_id"] == id)
}

#[tokio::test]
async fn the_admin_token_is_required_and_checked() {
    let daemon = configured();
    let session = daemon.session().await;
    let refusals = [
        (None, "missing Authorization header"),
        (Some("Bearer not-the-admin-token"), "wrong admin token"),
        (Some("Bearer admin-0123456789abcdeF"), "wrong admin token"),
        (Some("Bearer admin-0123456789abcde"), "wrong admin token"),
        (Some("Basic YWRtaW46YWRtaW4="), "Bearer"),
    ];
    for (header, reason) in refusals {
        let response = list_raw(&daemon, header).await;
        assert_eq!(response.status(), 401, "{header:?}");
        let text = error_text(response).await;
        assert!(text.contains(reason), "{header:?}: {text}");
    }
    // A session's own token is a token, but not the admin's.
    let response = list_raw(&daemon, Some(&format!("Bearer {}", session.token))).await;
    assert_eq!(response.status(), 401);
    assert_eq!(error_text(response).await, "wrong admin token");

    assert!(find(&list(&daemon, ADMIN).await, &session.id).is_some());
}

#[tokio::test]
async fn the_list_shows_every_session_with_its_facts_oldest_first() {
    let daemon = configured();
    let work = daemon.home.path().join("work");
    std::fs::create_dir(&work).unwrap();
    let busy = daemon
        .session_with(json!({"cwd": work, "label": "claude · api"}))
        .await;
    let quiet = daemon.session().await;
    let gone = daemon.session_with(json!({"label": "short-lived"})).await;
    assert_eq!(
        daemon.delete_session(&gone.id, &gone.token).await.status(),
        204
    );

    // One follower and one running call in `busy`.
    let _follower = daemon.follow(&busy).await;
    daemon.wait_for_subscribers(&busy, 1).await;
    let call = {
        let base = daemon.base.clone();
        let (id, token) = (busy.id.clone(), busy.token.clone());
        tokio::spawn(async move {
            common::stream_client()
                .post(format!("{base}/mcp"))
                .bearer_auth(token)
                .header("X-Construct-Session", id)
                .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                    "params": {"name": "sleep", "arguments": {"duration_ms": 3000, "steps": 3}}}))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
    };
    let deadline = Instant::now() + WAIT;
    let sessions = loop {
        let sessions = list(&daemon, ADMIN).await;
        if find(&sessions, &busy.id).is_some_and(|s| s["running_calls"] == 1) {
            break sessions;
        }
        assert!(
            Instant::now() < deadline,
            "the call never showed: {sessions:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };

    let entry = find(&sessions, &busy.id).unwrap();
    let mut keys: Vec<&str> = entry
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "client",
            "created_at",
            "cwd",
            "label",
            "last_activity",
            "owner",
            "running_calls",
            "session_id",
            "subscribers"
        ]
    );
    assert_eq!(entry["label"], "claude · api");
    assert_eq!(entry["client"], Value::Null, "no initialize in it yet");
    assert_eq!(entry["cwd"], canonical(&work));
    assert_eq!(entry["subscribers"], 1);
    assert_eq!(entry["running_calls"], 1);
    assert_eq!(entry["owner"], "client");
    for key in ["created_at", "last_activity"] {
        let at = entry[key].as_str().unwrap();
        chrono::DateTime::parse_from_rfc3339(at).unwrap_or_else(|_| panic!("{key}: {at}"));
    }
    let plain = find(&sessions, &quiet.id).unwrap();
    assert_eq!(plain["label"], Value::Null);
    assert_eq!(plain["subscribers"], 0);
    assert_eq!(plain["running_calls"], 0);
    assert!(
        find(&sessions, &gone.id).is_none(),
        "ended sessions are gone"
    );

    // The daemon's own session, in which stateless requests run, is listed and marked.
    let own: Vec<&Value> = sessions.iter().filter(|s| s["owner"] == "daemon").collect();
    assert_eq!(own.len(), 1);
    assert_eq!(own[0]["label"], "stateless requests");
    assert_eq!(sessions.len(), 3);

    let created: Vec<&str> = sessions
        .iter()
        .map(|s| s["created_at"].as_str().unwrap())
        .collect();
    let parsed: Vec<_> = created
        .iter()
        .map(|at| chrono::DateTime::parse_from_rfc3339(at).unwrap())
        .collect();
    assert!(parsed.is_sorted(), "oldest first: {created:?}");
    assert_eq!(sessions[0]["owner"], "daemon", "the daemon's is the oldest");

    let output = call.await.unwrap();
    assert!(output.contains("slept 3000 ms"), "{output}");
    // Listing is not activity: it does not keep sessions alive.
    let before = find(&list(&daemon, ADMIN).await, &quiet.id).unwrap()["last_activity"].clone();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after = find(&list(&daemon, ADMIN).await, &quiet.id).unwrap()["last_activity"].clone();
    assert_eq!(before, after);
}

#[tokio::test]
async fn an_unset_admin_token_is_generated_and_printed_once_on_the_second_line() {
    let daemon = Daemon::start("");
    let token = daemon
        .printed_admin_token()
        .expect("the second line of standard output is `admin token: <token>`");
    assert_eq!(token.len(), 64);
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()), "{token}");
    assert_eq!(daemon.stdout().matches("admin token").count(), 1);
    let sessions = list(&daemon, &token).await;
    assert_eq!(sessions.len(), 1, "only the daemon's own session");

    // Each start has its own.
    let other = Daemon::start("");
    let other_token = other.printed_admin_token().unwrap();
    assert_ne!(token, other_token);
    assert_eq!(
        list_raw(&daemon, Some(&format!("Bearer {other_token}")))
            .await
            .status(),
        401
    );
}

#[tokio::test]
async fn a_configured_admin_token_is_used_and_never_printed() {
    let from_file = configured();
    assert_eq!(list(&from_file, ADMIN).await.len(), 1);

    let from_env = "from-the-environment-0123456789";
    let daemon = Daemon::start_with(
        &format!("[admin]\ntoken = \"{ADMIN}\"\n"),
        &[("CONSTRUCT_ACTOR_ADMIN__TOKEN", from_env)],
    );
    assert_eq!(list(&daemon, from_env).await.len(), 1);
    assert_eq!(
        list_raw(&daemon, Some(&format!("Bearer {ADMIN}")))
            .await
            .status(),
        401,
        "the environment overrides the file"
    );

    // The second line, had there been one, is written before the daemon answers anything.
    tokio::time::sleep(Duration::from_millis(100)).await;
    for daemon in [&from_file, &daemon] {
        assert!(
            !daemon.stdout().contains("admin token"),
            "{}",
            daemon.stdout()
        );
    }
}

#[test]
fn a_short_admin_token_is_refused_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(&file, "[admin]\ntoken = \"short\"\n").unwrap();
    let output = Command::new(common::binary())
        .arg("check-config")
        .arg(&file)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("admin.token"), "{stderr}");
}
