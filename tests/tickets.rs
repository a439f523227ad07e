//! Stream tickets, over real HTTP: `POST /session/{id}/ticket` with the session's token or the
//! admin token, then `GET /session/{id}/events?ticket=…` without any header, as a browser's
//! `EventSource` does. A ticket is good once, for its session only, for a short while; the
//! `last_event_id` query parameter resumes a stream like the `Last-Event-ID` header.

mod common;

use std::time::Duration;

use common::{Daemon, Events, Session, client, error_text, next_event, sse, stream_client};
use serde_json::{Value, json};

const ADMIN: &str = "admin-0123456789abcdef";

fn daemon_with(extra: &str) -> Daemon {
    Daemon::start(&format!("[admin]\ntoken = \"{ADMIN}\"\n{extra}"))
}

/// `POST /session/{id}/ticket` with `token`, whatever the answer.
async fn ticket_raw(daemon: &Daemon, id: &str, token: Option<&str>) -> reqwest::Response {
    let mut request = client().post(daemon.url(&format!("/session/{id}/ticket")));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.unwrap()
}

/// A ticket for session `id`, obtained with `token`.
async fn ticket(daemon: &Daemon, id: &str, token: &str) -> String {
    let response = ticket_raw(daemon, id, Some(token)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["expires_in_ms"], 30_000);
    body["ticket"].as_str().unwrap().to_owned()
}

/// `GET /session/{id}/events?<query>` with no header at all, whatever the answer.
async fn events_raw(daemon: &Daemon, id: &str, query: &str) -> reqwest::Response {
    stream_client()
        .get(daemon.url(&format!("/session/{id}/events?{query}")))
        .send()
        .await
        .unwrap()
}

/// Runs a `sleep` call of `steps` steps in `session` to its end (its events reach followers).
async fn run_sleep(daemon: &Daemon, session: &Session, steps: u64) {
    let messages = daemon
        .call(
            session,
            "sleep",
            json!({"duration_ms": 30 * steps, "steps": steps}),
            json!({"progressToken": 5}),
        )
        .await;
    assert_eq!(messages.len() as u64, steps + 1);
}

/// The id and progress of the next event, which must be a progress event.
async fn next_progress(stream: &mut Events) -> (u64, u64) {
    let event = next_event(stream).await.expect("the stream is open");
    assert_eq!(event.event, "message");
    let data: Value = serde_json::from_str(&event.data).unwrap();
    (
        event.id.parse().unwrap(),
        data["progress"].as_u64().unwrap(),
    )
}

#[tokio::test]
async fn a_ticket_opens_the_events_stream_once_without_any_header() {
    let daemon = daemon_with("");
    let session = daemon.session().await;
    let ticket = ticket(&daemon, &session.id, &session.token).await;
    assert_eq!(ticket.len(), 64);
    assert_ne!(ticket, session.token);

    let response = events_raw(&daemon, &session.id, &format!("ticket={ticket}")).await;
    assert_eq!(response.status(), 200);
    let mut stream = sse(response);
    daemon.wait_for_subscribers(&session, 1).await;
    run_sleep(&daemon, &session, 2).await;
    assert_eq!(next_progress(&mut stream).await, (1, 1));
    assert_eq!(next_progress(&mut stream).await, (2, 2));

    let again = events_raw(&daemon, &session.id, &format!("ticket={ticket}")).await;
    assert_eq!(again.status(), 401, "a ticket is good once");
    assert!(error_text(again).await.contains("ticket"));
}

#[tokio::test]
async fn the_admin_token_gets_tickets_too_but_no_other_credential_does() {
    let daemon = daemon_with("");
    let mine = daemon.session().await;
    let theirs = daemon.session().await;

    let by_admin = ticket(&daemon, &mine.id, ADMIN).await;
    assert_eq!(
        events_raw(&daemon, &mine.id, &format!("ticket={by_admin}"))
            .await
            .status(),
        200
    );
    for token in [Some(theirs.token.as_str()), Some("not-a-token"), None] {
        let response = ticket_raw(&daemon, &mine.id, token).await;
        assert_eq!(response.status(), 401, "{token:?}");
    }
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        ticket_raw(&daemon, &unknown, Some(ADMIN)).await.status(),
        401
    );
    let ended = daemon.session().await;
    daemon.delete_session(&ended.id, &ended.token).await;
    assert_eq!(
        ticket_raw(&daemon, &ended.id, Some(ADMIN)).await.status(),
        401
    );
}

#[tokio::test]
async fn a_ticket_for_another_session_is_refused_and_spent() {
    let daemon = daemon_with("");
    let a = daemon.session().await;
    let b = daemon.session().await;
    let for_a = ticket(&daemon, &a.id, &a.token).await;
    assert_eq!(
        events_raw(&daemon, &b.id, &format!("ticket={for_a}"))
            .await
            .status(),
        401
    );
    assert_eq!(
        events_raw(&daemon, &a.id, &format!("ticket={for_a}"))
            .await
            .status(),
        401,
        "presenting it anywhere spends it"
    );
}

#[tokio::test]
async fn long_lived_tokens_are_never_accepted_in_the_url() {
    let daemon = daemon_with("");
    let session = daemon.session().await;
    for query in [
        format!("ticket={}", session.token),
        format!("ticket={ADMIN}"),
        format!("token={}", session.token),
        format!("access_token={}", session.token),
    ] {
        let response = events_raw(&daemon, &session.id, &query).await;
        assert_eq!(response.status(), 401, "{query}");
    }
}

#[tokio::test]
async fn an_expired_ticket_is_refused() {
    let daemon = daemon_with("[sessions]\nticket_ttl = \"300ms\"\n");
    let session = daemon.session().await;
    let response = ticket_raw(&daemon, &session.id, Some(&session.token)).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["expires_in_ms"], 300);
    let stale = body["ticket"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(600)).await;
    let response = events_raw(&daemon, &session.id, &format!("ticket={stale}")).await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn tickets_outstanding_for_one_session_are_bounded() {
    let daemon = daemon_with("");
    let session = daemon.session().await;
    for _ in 0..8 {
        ticket(&daemon, &session.id, &session.token).await;
    }
    let response = ticket_raw(&daemon, &session.id, Some(&session.token)).await;
    assert_eq!(response.status(), 429);
    // Another session is not held up by that one.
    let other = daemon.session().await;
    ticket(&daemon, &other.id, &other.token).await;
}

#[tokio::test]
async fn last_event_id_in_the_query_resumes_like_the_header() {
    let daemon = daemon_with("");
    let session = daemon.session().await;
    run_sleep(&daemon, &session, 3).await; // events 1, 2, 3 in the history

    // With a ticket: the events after 1, then live ones.
    let t = ticket(&daemon, &session.id, ADMIN).await;
    let response = events_raw(&daemon, &session.id, &format!("ticket={t}&last_event_id=1")).await;
    assert_eq!(response.status(), 200);
    let mut resumed = sse(response);
    assert_eq!(next_progress(&mut resumed).await, (2, 2));
    assert_eq!(next_progress(&mut resumed).await, (3, 3));
    daemon.wait_for_subscribers(&session, 1).await;
    run_sleep(&daemon, &session, 1).await;
    assert_eq!(next_progress(&mut resumed).await, (4, 1));

    // With the token in the header, the query parameter works the same.
    let response = stream_client()
        .get(daemon.url(&format!("/session/{}/events?last_event_id=3", session.id)))
        .bearer_auth(&session.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(next_progress(&mut sse(response)).await, (4, 1));

    // The header, which EventSource sets on its own reconnections, wins over the query.
    let response = stream_client()
        .get(daemon.url(&format!("/session/{}/events?last_event_id=1", session.id)))
        .bearer_auth(&session.token)
        .header("Last-Event-ID", "2")
        .send()
        .await
        .unwrap();
    assert_eq!(next_progress(&mut sse(response)).await, (3, 3));

    // A malformed one is refused before the ticket is spent.
    let t = ticket(&daemon, &session.id, ADMIN).await;
    let response = events_raw(
        &daemon,
        &session.id,
        &format!("ticket={t}&last_event_id=latest"),
    )
    .await;
    assert_eq!(response.status(), 400);
    assert!(error_text(response).await.contains("last_event_id"));
    let response = events_raw(&daemon, &session.id, &format!("ticket={t}&last_event_id=4")).await;
    assert_eq!(response.status(), 200, "the ticket is still good");
}

#[tokio::test]
async fn session_holders_cannot_take_the_tickets_the_dashboard_needs() {
    // Room for exactly one session's worth of tickets: the first session fills the daemon's
    // allowance for session holders; a second session is refused, and the administrator is not.
    let daemon = daemon_with("[sessions]\nmax_tickets = 8\n");
    let greedy = daemon.session().await;
    for _ in 0..8 {
        ticket(&daemon, &greedy.id, &greedy.token).await;
    }
    let other = daemon.session().await;
    let refused = ticket_raw(&daemon, &other.id, Some(&other.token)).await;
    assert_eq!(refused.status(), 503);
    for session in [&greedy, &other] {
        let admin = ticket(&daemon, &session.id, ADMIN).await;
        let response = events_raw(&daemon, &session.id, &format!("ticket={admin}")).await;
        assert_eq!(response.status(), 200);
    }
}

#[tokio::test]
async fn the_owner_key_gets_tickets_as_the_administrator_does() {
    let daemon = daemon_with("");
    let session = daemon.session().await;
    let owner = ticket(&daemon, &session.id, daemon.api_key()).await;
    let response = events_raw(&daemon, &session.id, &format!("ticket={owner}")).await;
    assert_eq!(response.status(), 200);
}
