//! Standard MCP over Streamable HTTP, legacy era (revision 2025-11-25 and before): sessions made
//! by `initialize`, the statuses of the transport, resumable streams, and Construct sessions
//! reached through the standard headers.

mod common;

use common::{ACCEPT, Daemon, Events, client, error_text, initialize_body, next_event};
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

/// Posts `message` in standard session `id`.
async fn post(daemon: &Daemon, id: &str, message: Value) -> reqwest::Response {
    daemon.standard_post(id, message).await
}

fn call(id: u64, tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": tool, "arguments": arguments}})
}

#[tokio::test]
async fn initialize_without_a_session_opens_one_named_by_mcp_session_id() {
    let daemon = Daemon::start("");
    let id = daemon.initialize("2025-11-25").await;
    assert!(
        id.bytes().all(|b| (0x21..=0x7e).contains(&b)),
        "visible ASCII only"
    );
    let initialized = post(
        &daemon,
        &id,
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
    )
    .await;
    assert_eq!(initialized.status(), 202);
    let tools = post(
        &daemon,
        &id,
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    assert_eq!(tools.status(), 200);
    let body: Value = tools.json().await.unwrap();
    assert!(body["result"]["tools"].as_array().unwrap().len() > 2);
}

#[tokio::test]
async fn the_standard_session_lives_in_the_same_registry_with_its_own_events_stream() {
    let daemon = Daemon::start("");
    let header = daemon.initialize("2025-11-25").await;
    let (uuid, token) = header.split_once('.').unwrap();
    let session = common::Session {
        id: uuid.to_owned(),
        token: token.to_owned(),
        cwd: String::new(),
    };
    assert_eq!(daemon.describe(&session).await["label"], "standard-test");
    let mut events = daemon.follow(&session).await;
    daemon.wait_for_subscribers(&session, 1).await;
    let response = post(
        &daemon,
        &header,
        call(3, "sleep", json!({"duration_ms": 10, "steps": 1})),
    )
    .await;
    drain(common::sse(response)).await;
    assert_eq!(common::next_data(&mut events).await["tool"], "sleep");
}

#[tokio::test]
async fn requests_without_a_session_other_than_initialize_are_400() {
    let daemon = Daemon::start("");
    let response = client()
        .post(daemon.url("/mcp"))
        .header("Accept", ACCEPT)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(error_text(response).await.contains("Mcp-Session-Id"));
}

#[tokio::test]
async fn unknown_ended_or_forged_sessions_are_404() {
    let daemon = Daemon::start("");
    let id = daemon.initialize("2025-11-25").await;
    let (uuid, _) = id.split_once('.').unwrap();
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    for forged in [
        format!("{}.{}", uuid::Uuid::new_v4(), "0".repeat(64)),
        format!("{uuid}.{}", "0".repeat(64)),
        uuid.to_owned(),
        "garbage".to_owned(),
    ] {
        assert_eq!(
            post(&daemon, &forged, list.clone()).await.status(),
            404,
            "{forged}"
        );
    }
    let deleted = client()
        .delete(daemon.url("/mcp"))
        .header("Mcp-Session-Id", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert_eq!(post(&daemon, &id, list).await.status(), 404);
}

#[tokio::test]
async fn an_unsupported_protocol_version_header_is_400() {
    let daemon = Daemon::start("");
    let id = daemon.initialize("2025-11-25").await;
    let response = client()
        .post(daemon.url("/mcp"))
        .header("Accept", ACCEPT)
        .header("Mcp-Session-Id", &id)
        .header("MCP-Protocol-Version", "1999-01-01")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    // Any supported revision is fine on a session, as clients and the conformance suite expect.
    let older = client()
        .post(daemon.url("/mcp"))
        .header("Accept", ACCEPT)
        .header("Mcp-Session-Id", &id)
        .header("MCP-Protocol-Version", "2025-03-26")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}))
        .send()
        .await
        .unwrap();
    assert_eq!(older.status(), 200);
}

#[tokio::test]
async fn posts_that_do_not_accept_both_content_types_are_406() {
    let daemon = Daemon::start("");
    for accept in ["application/json", "text/event-stream", "text/html"] {
        let response = client()
            .post(daemon.url("/mcp"))
            .header("Accept", accept)
            .json(&initialize_body("2025-11-25"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 406, "{accept}");
    }
}

#[tokio::test]
async fn get_opens_a_standalone_stream_or_is_406_or_405() {
    let daemon = Daemon::start("[server]\nkeep_alive = \"100ms\"\n");
    let id = daemon.initialize("2025-11-25").await;
    let get = |accept: &'static str, version: &'static str| {
        client()
            .get(daemon.url("/mcp"))
            .header("Accept", accept)
            .header("Mcp-Session-Id", &id)
            .header("MCP-Protocol-Version", version)
            .send()
    };
    let stream = get("text/event-stream", "2025-11-25").await.unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    assert_eq!(
        get("application/json", "2025-11-25")
            .await
            .unwrap()
            .status(),
        406
    );
    let modern = get("text/event-stream", "2026-07-28").await.unwrap();
    assert_eq!(modern.status(), 405);
    assert_eq!(modern.headers()["allow"], "POST");
    let anonymous = client()
        .get(daemon.url("/mcp"))
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 400);
}

#[tokio::test]
async fn delete_ends_the_session_and_its_standalone_stream() {
    let daemon = Daemon::start("");
    let id = daemon.initialize("2025-11-25").await;
    let stream = client()
        .get(daemon.url("/mcp"))
        .header("Accept", "text/event-stream")
        .header("Mcp-Session-Id", &id)
        .send()
        .await
        .unwrap();
    let mut events = common::sse(stream);
    let deleted = client()
        .delete(daemon.url("/mcp"))
        .header("Mcp-Session-Id", &id)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 204);
    assert!(
        next_event(&mut events).await.is_none(),
        "the stream ends with the session"
    );
    let anonymous = client().delete(daemon.url("/mcp")).send().await.unwrap();
    assert_eq!(anonymous.status(), 400);
}

/// Every event of a stream, until it ends.
async fn drain(mut stream: Events) -> Vec<eventsource_stream::Event> {
    let mut events = Vec::new();
    while let Some(event) = next_event(&mut stream).await {
        events.push(event);
    }
    events
}

#[tokio::test]
async fn streams_of_2025_11_25_sessions_start_primed_and_carry_ids_and_retry() {
    let daemon = Daemon::start("[mcp]\nretry = \"250ms\"\n");
    let id = daemon.initialize("2025-11-25").await;
    let response = post(
        &daemon,
        &id,
        call(5, "sleep", json!({"duration_ms": 30, "steps": 3})),
    )
    .await;
    assert_eq!(response.headers()["x-accel-buffering"], "no");
    let text = response.text().await.unwrap();
    assert!(
        text.starts_with("retry: 250\n\n"),
        "the retry hint comes first: {text}"
    );
    let parsed =
        futures::StreamExt::collect::<Vec<_>>(eventsource_stream::Eventsource::eventsource(
            futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(text))]),
        ))
        .await;
    let events: Vec<eventsource_stream::Event> = parsed.into_iter().map(Result::unwrap).collect();
    assert_eq!(events.len(), 5, "priming, three progress, the result");
    assert!(
        events[0].data.is_empty(),
        "the priming event has empty data"
    );
    let stream = events[0].id.rsplit_once('-').unwrap().0.to_owned();
    for (n, event) in events.iter().enumerate() {
        assert_eq!(event.id, format!("{stream}-{n}"));
    }
    let last: Value = serde_json::from_str(&events[4].data).unwrap();
    assert_eq!(last["id"], 5);
}

#[tokio::test]
async fn older_sessions_get_plain_streams() {
    let daemon = Daemon::start("");
    let id = daemon.initialize("2025-06-18").await;
    let response = post(&daemon, &id, call(5, "echo", json!({"text": "hi"}))).await;
    let events = drain(common::sse(response)).await;
    assert_eq!(events.len(), 1);
    assert!(events[0].id.is_empty());
}

/// Resumes `stream` after event `last_id` in session `id`.
async fn resume(daemon: &Daemon, id: &str, last_id: &str) -> reqwest::Response {
    client()
        .get(daemon.url("/mcp"))
        .header("Accept", "text/event-stream")
        .header("Mcp-Session-Id", id)
        .header("Last-Event-ID", last_id)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_broken_call_stream_resumes_with_last_event_id_without_gap_or_duplicate() {
    let daemon = Daemon::start("");
    let id = daemon.initialize("2025-11-25").await;
    let response = post(
        &daemon,
        &id,
        call(8, "sleep", json!({"duration_ms": 600, "steps": 6})),
    )
    .await;
    let mut first = common::sse(response);
    let priming = next_event(&mut first).await.unwrap();
    let progress = next_event(&mut first).await.unwrap();
    assert!(progress.data.contains("\"progress\":1"));
    drop(first);
    let resumed = resume(&daemon, &id, &progress.id).await;
    assert_eq!(resumed.status(), 200);
    let events = drain(common::sse(resumed)).await;
    let stream = priming.id.rsplit_once('-').unwrap().0;
    let numbers: Vec<String> = events.iter().map(|e| e.id.clone()).collect();
    let expected: Vec<String> = (2..=7).map(|n| format!("{stream}-{n}")).collect();
    assert_eq!(
        numbers, expected,
        "every frame after the last one seen, once"
    );
    let last: Value = serde_json::from_str(&events.last().unwrap().data).unwrap();
    assert_eq!(last["id"], 8);
    assert_eq!(last["result"]["isError"], false);
}

#[tokio::test]
async fn a_stream_is_never_resumed_by_another_session_or_with_a_bad_id() {
    let daemon = Daemon::start("");
    let mine = daemon.initialize("2025-11-25").await;
    let theirs = daemon.initialize("2025-11-25").await;
    let response = post(
        &daemon,
        &mine,
        call(8, "sleep", json!({"duration_ms": 2000, "steps": 4})),
    )
    .await;
    let mut stream = common::sse(response);
    let priming = next_event(&mut stream).await.unwrap();
    let stolen = resume(&daemon, &theirs, &priming.id).await;
    assert_eq!(stolen.status(), 400);
    let garbled = resume(&daemon, &mine, "not-an-id").await;
    assert_eq!(garbled.status(), 400);
}

#[tokio::test]
async fn the_reconnection_fixture_closes_the_stream_and_the_result_arrives_on_resume() {
    let daemon = Daemon::start("[tools]\nfixtures = true\n");
    let id = daemon.initialize("2025-11-25").await;
    let response = post(&daemon, &id, call(9, "test_reconnection", json!({}))).await;
    let events = drain(common::sse(response)).await;
    assert_eq!(
        events.len(),
        1,
        "only the priming event before the server closes"
    );
    let resumed = drain(common::sse(resume(&daemon, &id, &events[0].id).await)).await;
    let last: Value = serde_json::from_str(&resumed.last().unwrap().data).unwrap();
    assert_eq!(last["id"], 9);
    assert!(
        last["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains("reconnected")
    );
}

#[tokio::test]
async fn an_abandoned_resumable_call_is_cancelled_after_the_resume_window() {
    let daemon = Daemon::start("[mcp]\nresume_window = \"200ms\"\n");
    let header = daemon.initialize("2025-11-25").await;
    let (uuid, token) = header.split_once('.').unwrap();
    let session = common::Session {
        id: uuid.to_owned(),
        token: token.to_owned(),
        cwd: String::new(),
    };
    let response = post(
        &daemon,
        &header,
        call(8, "sleep", json!({"duration_ms": 20000, "steps": 100})),
    )
    .await;
    let mut stream = common::sse(response);
    next_event(&mut stream).await;
    assert_eq!(daemon.describe(&session).await["running_calls"], 1);
    drop(stream);
    daemon.wait_for_running_calls(&session, 0).await;
}

#[tokio::test]
async fn logging_set_level_filters_the_log_messages_of_a_call() {
    let daemon = Daemon::start("[tools]\nfixtures = true\n");
    let id = daemon.initialize("2025-06-18").await;
    let logged = |messages: &[Value]| {
        messages
            .iter()
            .filter(|m| m["method"] == "notifications/message")
            .count()
    };
    let run = || async {
        let response = post(&daemon, &id, call(4, "test_tool_with_logging", json!({}))).await;
        drain(common::sse(response))
            .await
            .iter()
            .map(|e| serde_json::from_str::<Value>(&e.data).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(logged(&run().await), 0, "no level set: no log messages");
    let set = post(
        &daemon,
        &id,
        json!({"jsonrpc": "2.0", "id": 2, "method": "logging/setLevel",
                                        "params": {"level": "info"}}),
    )
    .await;
    let body: Value = set.json().await.unwrap();
    assert_eq!(body["result"], json!({}));
    let messages = run().await;
    assert_eq!(logged(&messages), 3);
    let first = messages
        .iter()
        .find(|m| m["method"] == "notifications/message")
        .unwrap();
    assert_eq!(first["params"]["level"], "info");
    assert_eq!(first["params"]["data"], "Tool execution started");
    let bad = post(
        &daemon,
        &id,
        json!({"jsonrpc": "2.0", "id": 3, "method": "logging/setLevel",
                                        "params": {"level": "loud"}}),
    )
    .await;
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32602);
}

#[tokio::test]
async fn a_construct_session_works_through_the_standard_headers() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let response = client()
        .post(daemon.url("/mcp"))
        .header("Accept", ACCEPT)
        .header("Mcp-Session-Id", &session.id)
        .bearer_auth(&session.token)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let without_token = client()
        .post(daemon.url("/mcp"))
        .header("Accept", ACCEPT)
        .header("Mcp-Session-Id", &session.id)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(without_token.status(), 404);
}

#[tokio::test]
async fn with_api_keys_initialize_needs_one() {
    let daemon = Daemon::start("[security]\napi_keys = [\"k-0123456789abcdef\"]\n");
    let send = |key: Option<&'static str>| {
        let mut request = client()
            .post(daemon.url("/mcp"))
            .header("Accept", ACCEPT)
            .json(&initialize_body("2025-11-25"));
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send()
    };
    assert_eq!(send(None).await.unwrap().status(), 401);
    assert_eq!(
        send(Some("k-wrong-wrong-wrong")).await.unwrap().status(),
        401
    );
    let ok = send(Some("k-0123456789abcdef")).await.unwrap();
    assert_eq!(ok.status(), 200);
    let headers: &HeaderMap = ok.headers();
    assert!(headers.contains_key("mcp-session-id"));
}
