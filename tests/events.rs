//! `GET /session/{id}/events`: every progress event of a session reaches every follower of that
//! session, and only of that session.

mod common;

use common::{Daemon, client, error_text, next_data, next_event};
use serde_json::{Value, json};

async fn sleep_call(
    daemon: &Daemon,
    session: &common::Session,
    steps: u64,
    token: Value,
) -> Vec<Value> {
    daemon
        .call(
            session,
            "sleep",
            json!({"duration_ms": 20 * steps, "steps": steps}),
            json!({"progressToken": token}),
        )
        .await
}

#[tokio::test]
async fn a_follower_receives_every_progress_event_with_the_protocol_fields() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let mut events = daemon.follow(&session).await;
    daemon.wait_for_subscribers(&session, 1).await;
    sleep_call(&daemon, &session, 4, json!("job-1")).await;

    let mut last_id = 0;
    for step in 1..=4u64 {
        let event = next_event(&mut events).await.unwrap();
        let id: u64 = event.id.parse().expect("every event has a numeric id");
        assert!(id > last_id, "ids increase");
        last_id = id;
        let data: Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(data["token"], "job-1");
        assert_eq!(data["progress"], step);
        assert_eq!(data["total"], 4);
        assert_eq!(data["message"], format!("step {step} of 4"));
        assert_eq!(data["tool"], "sleep");
        let stamp =
            chrono::DateTime::parse_from_rfc3339(data["timestamp"].as_str().unwrap()).unwrap();
        assert_eq!(stamp.offset().local_minus_utc(), 0);
    }
}

#[tokio::test]
async fn two_followers_of_one_session_both_receive_everything() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let mut first = daemon.follow(&session).await;
    let mut second = daemon.follow(&session).await;
    daemon.wait_for_subscribers(&session, 2).await;
    sleep_call(&daemon, &session, 3, json!(11)).await;
    for stream in [&mut first, &mut second] {
        for step in 1..=3 {
            let data = next_data(stream).await;
            assert_eq!(data["token"], 11);
            assert_eq!(data["progress"], step);
        }
    }
}

#[tokio::test]
async fn a_follower_of_another_session_receives_nothing_of_this_one() {
    let daemon = Daemon::start("");
    let busy = daemon.session().await;
    let quiet = daemon.session().await;
    let mut watcher = daemon.follow(&quiet).await;
    daemon.wait_for_subscribers(&quiet, 1).await;
    sleep_call(&daemon, &busy, 3, json!("busy")).await;
    // Then something happens in the quiet session: it must be the first thing its follower sees.
    sleep_call(&daemon, &quiet, 1, json!("quiet")).await;
    let first = next_data(&mut watcher).await;
    assert_eq!(first["token"], "quiet");
}

#[tokio::test]
async fn a_follower_that_leaves_is_removed_from_its_session() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let events = daemon.follow(&session).await;
    daemon.wait_for_subscribers(&session, 1).await;
    drop(events);
    daemon.wait_for_subscribers(&session, 0).await;
}

#[tokio::test]
async fn followers_need_the_sessions_token() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let other = daemon.session().await;
    let wrong = daemon.follow_raw(&session.id, &other.token).await;
    assert_eq!(wrong.status(), 401);
    let unknown = daemon
        .follow_raw(&uuid::Uuid::new_v4().to_string(), &session.token)
        .await;
    assert_eq!(unknown.status(), 401);
    let garbled = daemon.follow_raw("not-an-id", &session.token).await;
    assert_eq!(garbled.status(), 401);
    let reasons = [
        error_text(wrong).await,
        error_text(unknown).await,
        error_text(garbled).await,
    ];
    assert!(reasons.iter().all(|r| r == &reasons[0]), "{reasons:?}");
    let anonymous = client()
        .get(daemon.url(&format!("/session/{}/events", session.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
}

#[tokio::test]
async fn followers_beyond_the_limit_get_a_429() {
    let daemon = Daemon::start("[sessions]\nmax_subscribers = 1\n");
    let session = daemon.session().await;
    let _held = daemon.follow(&session).await;
    daemon.wait_for_subscribers(&session, 1).await;
    let refused = daemon.follow_raw(&session.id, &session.token).await;
    assert_eq!(refused.status(), 429);
    assert!(
        error_text(refused)
            .await
            .contains("maximum of 1 subscribers")
    );
}

#[tokio::test]
async fn idle_streams_get_keep_alive_comments() {
    let daemon = Daemon::start("[server]\nkeep_alive = \"100ms\"\n");
    let session = daemon.session().await;
    let response = daemon.follow_raw(&session.id, &session.token).await;
    let mut body = response.bytes_stream();
    let mut seen = String::new();
    while seen.matches(": keep-alive").count() < 2 {
        let chunk = tokio::time::timeout(common::WAIT, futures::StreamExt::next(&mut body))
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}
