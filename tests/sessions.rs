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

#[tokio::test]
async fn a_cwd_that_does_not_exist_is_a_400_naming_the_path() {
    let daemon = Daemon::start("");
    let missing = daemon.home.path().join("no-such-dir");
    let response = daemon
        .keyed(client().post(daemon.url("/session")))
        .json(&json!({"cwd": missing}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(
        error_text(response)
            .await
            .contains(missing.to_str().unwrap())
    );
}

#[tokio::test]
async fn a_cwd_that_is_a_file_is_a_400() {
    let daemon = Daemon::start("");
    let file = daemon.home.path().join("construct-actor.toml");
    let response = daemon
        .keyed(client().post(daemon.url("/session")))
        .json(&json!({"cwd": file}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(error_text(response).await.contains("not a directory"));
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
async fn the_session_limit_is_a_503_with_a_reason() {
    let daemon = Daemon::start("[sessions]\nmax_sessions = 2\n");
    daemon.session().await;
    daemon.session().await;
    let response = daemon
        .keyed(client().post(daemon.url("/session")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert!(error_text(response).await.contains("maximum of 2 sessions"));
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
