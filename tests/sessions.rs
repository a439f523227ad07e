//! `POST /session`, `GET /session/{id}` and `GET /health` over real HTTP.

mod common;

use common::{Daemon, canonical, client, error_text};
use serde_json::{Value, json};

#[tokio::test]
async fn health_reports_the_process() {
    let daemon = Daemon::start("");
    let response = client().get(daemon.url("/health")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let health: Value = response.json().await.unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["pid"], daemon.pid());
    assert!(health["uptime_seconds"].is_u64());
    assert!(chrono::DateTime::parse_from_rfc3339(health["started_at"].as_str().unwrap()).is_ok());
    assert_eq!(health["protocol_version"], "2025-11-25");
}

#[tokio::test]
async fn a_session_gets_a_v4_id_an_unguessable_token_and_its_cwd() {
    let daemon = Daemon::start("");
    let dir = tempfile::tempdir_in(daemon.home.path()).unwrap();
    let session = daemon
        .session_with(json!({"cwd": dir.path(), "label": "build"}))
        .await;
    let id = uuid::Uuid::parse_str(&session.id).unwrap();
    assert_eq!(id.get_version_num(), 4);
    assert_eq!(session.id, id.hyphenated().to_string());
    assert_eq!(session.token.len(), 64);
    assert!(session.token.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(session.cwd, canonical(dir.path()));

    let described = daemon.describe(&session).await;
    assert_eq!(described["label"], "build");
    assert_eq!(described["cwd"], session.cwd);
    assert_eq!(described["subscribers"], 0);
}

#[tokio::test]
async fn without_a_cwd_the_daemons_own_directory_is_used() {
    let daemon = Daemon::start("");
    let response = daemon
        .keyed(client().post(daemon.url("/session")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["cwd"], canonical(daemon.home.path()));
}

#[tokio::test]
async fn a_tilde_cwd_is_expanded_to_the_home_directory() {
    let daemon = Daemon::start("");
    std::fs::create_dir(daemon.home.path().join("project")).unwrap();
    let session = daemon.session_with(json!({"cwd": "~/project"})).await;
    assert_eq!(session.cwd, canonical(&daemon.home.path().join("project")));
}

/// `POST /session` asking for `cwd`, which the daemon refuses: the status and the one-line reason.
async fn refused_cwd(daemon: &Daemon, cwd: Value) -> (u16, String) {
    let response = daemon
        .keyed(client().post(daemon.url("/session")))
        .json(&json!({ "cwd": cwd }))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), error_text(response).await)
}

#[tokio::test]
async fn a_cwd_that_does_not_exist_is_a_400_naming_the_path() {
    let daemon = Daemon::start("");
    let missing = daemon.home.path().join("no-such-dir");
    let (status, reason) = refused_cwd(&daemon, json!(missing)).await;
    assert_eq!(status, 400);
    assert!(reason.contains(missing.to_str().unwrap()), "{reason}");
}

#[tokio::test]
async fn a_cwd_that_is_a_file_is_a_400() {
    let daemon = Daemon::start("");
    let file = daemon.home.path().join("construct-actor.toml");
    let (status, reason) = refused_cwd(&daemon, json!(file)).await;
    assert_eq!(status, 400);
    assert!(reason.contains("not a directory"), "{reason}");
}

#[tokio::test]
async fn a_cwd_longer_than_path_max_is_a_400_before_the_filesystem_is_asked() {
    let daemon = Daemon::start("");
    // 4097 bytes under an existing folder: no path that long names a directory.
    let long = format!("{}/{}", daemon.home.path().display(), "a".repeat(4096));
    let (status, reason) = refused_cwd(&daemon, json!(long)).await;
    assert_eq!(status, 400);
    assert!(reason.contains("longer than 4096 bytes"), "{reason}");
}

#[tokio::test]
async fn a_malformed_session_body_is_a_400() {
    let daemon = Daemon::start("");
    for body in ["{not json", "[1,2]", r#"{"cwd": 5}"#] {
        let response = daemon
            .keyed(client().post(daemon.url("/session")))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        assert!(
            error_text(response)
                .await
                .starts_with("invalid session request")
        );
    }
}

#[tokio::test]
async fn an_overlong_label_is_a_400() {
    let daemon = Daemon::start("");
    let response = daemon
        .keyed(client().post(daemon.url("/session")))
        .json(&json!({"label": "x".repeat(257)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(error_text(response).await.contains("label"));
}

#[tokio::test]
async fn an_oversized_body_is_a_413() {
    let daemon = Daemon::start("[server]\nmax_body_bytes = 100\n");
    let response = daemon
        .keyed(client().post(daemon.url("/session")))
        .json(&json!({"label": "x".repeat(200)}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    assert!(error_text(response).await.contains("100 bytes"));
}

#[tokio::test]
async fn the_session_limit_is_a_503_with_a_reason_until_a_session_ends() {
    let daemon = Daemon::start("[sessions]\nmax_sessions = 2\n");
    // One keep-alive connection: after its first, its worker makes the sessions itself.
    let http = client();
    let create = || daemon.keyed(http.post(daemon.url("/session"))).send();
    let first: Value = create().await.unwrap().json().await.unwrap();
    assert_eq!(create().await.unwrap().status(), 200);
    for _ in 0..3 {
        let response = create().await.unwrap();
        assert_eq!(response.status(), 503);
        assert!(error_text(response).await.contains("maximum of 2 sessions"));
    }
    let ended = http
        .delete(daemon.url(&format!(
            "/session/{}",
            first["session_id"].as_str().unwrap()
        )))
        .bearer_auth(first["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), 204);
    // Its place is free once the registry has heard it ended.
    let deadline = std::time::Instant::now() + common::WAIT;
    loop {
        let response = create().await.unwrap();
        if response.status() == 200 {
            break;
        }
        assert_eq!(response.status(), 503);
        assert!(
            std::time::Instant::now() < deadline,
            "the place was never freed"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(create().await.unwrap().status(), 503);
}

#[tokio::test]
async fn the_creation_rate_limit_holds_on_one_connection_and_says_when_to_try_again() {
    let daemon = Daemon::start("[sessions]\ncreate_per_minute = 3\n");
    let http = client();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let response = daemon
            .keyed(http.post(daemon.url("/session")))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        if status == 429 {
            let text = error_text(response).await;
            assert!(
                text.contains("already created 3 sessions this minute; try again in"),
                "{text}"
            );
        }
        statuses.push(status);
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429]);
}

#[tokio::test]
async fn describing_a_session_needs_its_token() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let other = daemon.session().await;
    let url = daemon.url(&format!("/session/{}", session.id));
    let wrong = client()
        .get(&url)
        .bearer_auth(&other.token)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let missing = client().get(&url).send().await.unwrap();
    assert_eq!(missing.status(), 401);
    assert_eq!(error_text(missing).await, "missing Authorization header");
}
