//! The life of a `tools/call`: cancellation by notification and by disconnect, concurrency
//! limits, duplicate ids, and a panicking tool failing only its own call.

mod common;

use std::time::{Duration, Instant};

use common::{Daemon, WAIT, client, error_text, next_data, next_event};
use serde_json::{Value, json};

fn long_sleep(id: u64) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": "sleep", "arguments": {"duration_ms": 20_000, "steps": 100}}})
}

#[tokio::test]
async fn a_panicking_tool_fails_its_own_call_and_the_daemon_goes_on() {
    let daemon = Daemon::start("[tools]\nfixtures = true\n");
    let session = daemon.session().await;
    let messages = daemon
        .call(&session, "test_panic", json!({}), json!({}))
        .await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["id"], 7);
    assert_eq!(messages[0]["error"]["code"], -32603);
    assert!(
        messages[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("test_panic")
    );
    daemon.wait_for_running_calls(&session, 0).await;
    let after = daemon
        .call(&session, "echo", json!({"text": "still here"}), json!({}))
        .await;
    assert_eq!(after[0]["result"]["content"][0]["text"], "still here");
}

#[tokio::test]
async fn notifications_cancelled_stops_the_call_without_a_response() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let mut stream = common::sse(daemon.mcp(&session, long_sleep(21)).await);
    assert_eq!(
        next_data(&mut stream).await["method"],
        "notifications/progress"
    );
    daemon.wait_for_running_calls(&session, 1).await;
    let cancel = daemon
        .mcp(
            &session,
            json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                   "params": {"requestId": 21, "reason": "user pressed stop"}}),
        )
        .await;
    assert_eq!(cancel.status(), 202);
    // Whatever progress was already queued may still arrive; the stream must end with no result.
    while let Some(event) = next_event(&mut stream).await {
        let message: Value = serde_json::from_str(&event.data).unwrap();
        assert_eq!(
            message["method"], "notifications/progress",
            "no response after cancel"
        );
    }
    daemon.wait_for_running_calls(&session, 0).await;
}

#[tokio::test]
async fn cancelling_an_unknown_request_changes_nothing() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let mut stream = common::sse(daemon.mcp(&session, long_sleep(5)).await);
    next_data(&mut stream).await;
    for other in [json!(6), json!("5")] {
        let cancel = daemon
            .mcp(
                &session,
                json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                                  "params": {"requestId": other}}),
            )
            .await;
        assert_eq!(cancel.status(), 202);
    }
    assert_eq!(
        next_data(&mut stream).await["method"],
        "notifications/progress"
    );
    assert_eq!(daemon.describe(&session).await["running_calls"], 1);
}

#[tokio::test]
async fn another_session_cannot_cancel_my_call() {
    let daemon = Daemon::start("");
    let mine = daemon.session().await;
    let theirs = daemon.session().await;
    let mut stream = common::sse(daemon.mcp(&mine, long_sleep(9)).await);
    next_data(&mut stream).await;
    daemon
        .mcp(
            &theirs,
            json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                             "params": {"requestId": 9}}),
        )
        .await;
    assert_eq!(
        next_data(&mut stream).await["method"],
        "notifications/progress"
    );
    assert_eq!(daemon.describe(&mine).await["running_calls"], 1);
}

#[tokio::test]
async fn closing_the_stream_cancels_the_call() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let mut events = daemon.follow(&session).await;
    daemon.wait_for_subscribers(&session, 1).await;
    let mut stream = common::sse(daemon.mcp(&session, long_sleep(1)).await);
    next_data(&mut stream).await;
    daemon.wait_for_running_calls(&session, 1).await;
    drop(stream);
    daemon.wait_for_running_calls(&session, 0).await;
    // The follower saw the call's progress up to the cancellation, then nothing more of it:
    // drain what arrived and check no new event shows up for a while.
    while tokio::time::timeout(
        Duration::from_millis(500),
        futures::StreamExt::next(&mut events),
    )
    .await
    .is_ok()
    {}
    let quiet = tokio::time::timeout(
        Duration::from_millis(600),
        futures::StreamExt::next(&mut events),
    )
    .await;
    assert!(quiet.is_err(), "the cancelled call kept reporting progress");
}

#[tokio::test]
async fn the_per_session_limit_is_a_429_and_frees_up_when_a_call_ends() {
    let daemon = Daemon::start("[tools]\nmax_calls_per_session = 1\n");
    let session = daemon.session().await;
    let other = daemon.session().await;
    let mut first = common::sse(daemon.mcp(&session, long_sleep(1)).await);
    next_data(&mut first).await;
    let refused = daemon.mcp(&session, long_sleep(2)).await;
    assert_eq!(refused.status(), 429);
    assert!(
        error_text(refused)
            .await
            .contains("maximum of 1 tool calls")
    );
    // Another session is not affected.
    let theirs = daemon
        .call(&other, "echo", json!({"text": "ok"}), json!({}))
        .await;
    assert_eq!(theirs[0]["result"]["isError"], false);
    drop(first);
    daemon.wait_for_running_calls(&session, 0).await;
    let again = daemon
        .call(&session, "echo", json!({"text": "ok"}), json!({}))
        .await;
    assert_eq!(again[0]["result"]["isError"], false);
}

#[tokio::test]
async fn the_daemon_wide_limit_is_a_503() {
    let daemon = Daemon::start("[tools]\nmax_concurrent_calls = 1\n");
    let first_session = daemon.session().await;
    let second_session = daemon.session().await;
    let mut first = common::sse(daemon.mcp(&first_session, long_sleep(1)).await);
    next_data(&mut first).await;
    let refused = daemon.mcp(&second_session, long_sleep(1)).await;
    assert_eq!(refused.status(), 503);
    assert!(error_text(refused).await.contains("maximum of tool calls"));
    drop(first);
    daemon.wait_for_running_calls(&first_session, 0).await;
    let deadline = Instant::now() + WAIT;
    loop {
        let response = daemon
            .mcp(
                &second_session,
                json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                                         "params": {"name": "echo", "arguments": {"text": "x"}}}),
            )
            .await;
        if response.status() == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "the slot was never released");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_request_id_already_running_in_the_session_is_refused() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let mut first = common::sse(daemon.mcp(&session, long_sleep(3)).await);
    next_data(&mut first).await;
    let mut second = common::sse(daemon.mcp(&session, long_sleep(3)).await);
    let answer = next_data(&mut second).await;
    assert_eq!(answer["id"], 3);
    assert_eq!(answer["error"]["code"], -32600);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already running")
    );
    // The first call is untouched.
    assert_eq!(
        next_data(&mut first).await["method"],
        "notifications/progress"
    );
}

#[tokio::test]
async fn a_slow_call_reader_loses_progress_but_never_the_final_response() {
    // About 6 MB of progress: more than loopback's socket buffers hold (the send buffer
    // grows to 4 MiB at most), so however fast the daemon writes, most must wait in the call's
    // queue of 2, which drops them.
    const STEPS: u64 = 40_000;
    let daemon = Daemon::start("[sessions]\ncall_queue = 2\n");
    let session = daemon.session().await;
    let response = client()
        .post(daemon.url("/mcp"))
        .bearer_auth(&session.token)
        .header("X-Construct-Session", &session.id)
        .json(&json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                      "params": {"name": "sleep", "arguments": {"duration_ms": 0, "steps": STEPS}}}))
        .send()
        .await
        .unwrap();
    // Do not read until the call is over, so its progress queue overflows.
    daemon.wait_for_running_calls(&session, 0).await;
    let mut stream = common::sse(response);
    let mut messages = Vec::new();
    while let Some(event) = next_event(&mut stream).await {
        messages.push(serde_json::from_str::<Value>(&event.data).unwrap());
    }
    let last = messages.last().unwrap();
    assert_eq!(last["id"], 4);
    assert_eq!(last["result"]["isError"], false);
    assert!(
        messages.len() < 40_001,
        "progress beyond the queue was dropped"
    );
}
