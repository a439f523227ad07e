//! `POST /mcp` for Construct sessions: authentication, every method, every JSON-RPC error.

mod common;

use common::{Daemon, Session, client, error_text};
use serde_json::{Value, json};

fn ping() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "ping"})
}

async fn post_raw(daemon: &Daemon, session: &Session, body: &'static str) -> reqwest::Response {
    client()
        .post(daemon.url("/mcp"))
        .bearer_auth(&session.token)
        .header("X-Construct-Session", &session.id)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn missing_or_malformed_credentials_are_401_with_a_reason() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let cases: Vec<(reqwest::RequestBuilder, &str)> = vec![
        (
            client()
                .post(daemon.url("/mcp"))
                .header("X-Construct-Session", &session.id),
            "missing Authorization header",
        ),
        (
            client()
                .post(daemon.url("/mcp"))
                .header("Authorization", format!("Basic {}", session.token))
                .header("X-Construct-Session", &session.id),
            "Authorization header must be \"Bearer <token>\"",
        ),
        (
            client()
                .post(daemon.url("/mcp"))
                .bearer_auth(&session.token)
                .header("X-Construct-Session", "not-a-uuid"),
            "X-Construct-Session header is not a session id",
        ),
    ];
    for (request, reason) in cases {
        let response = request.json(&ping()).send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(error_text(response).await, reason);
    }
}

#[tokio::test]
async fn a_token_without_a_session_header_is_a_400_naming_both_headers() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let response = client()
        .post(daemon.url("/mcp"))
        .bearer_auth(&session.token)
        .json(&ping())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let reason = error_text(response).await;
    assert!(reason.contains("Mcp-Session-Id") && reason.contains("X-Construct-Session"));
}

#[tokio::test]
async fn unknown_session_and_wrong_token_get_the_same_401() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let other = daemon.session().await;
    let wrong_token = Session {
        token: other.token.clone(),
        ..session.clone()
    };
    let unknown = Session {
        id: uuid::Uuid::new_v4().to_string(),
        ..session.clone()
    };
    let first = daemon.mcp(&wrong_token, ping()).await;
    let second = daemon.mcp(&unknown, ping()).await;
    assert_eq!(first.status(), 401);
    assert_eq!(second.status(), 401);
    assert_eq!(error_text(first).await, error_text(second).await);
}

#[tokio::test]
async fn initialize_negotiates_and_describes_the_server() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let answer = daemon
        .rpc(
            &session,
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "test", "version": "1"}}),
        )
        .await;
    assert_eq!(answer["jsonrpc"], "2.0");
    assert_eq!(answer["id"], 1);
    let result = &answer["result"];
    assert_eq!(result["protocolVersion"], "2025-06-18");
    // The user's own MCP servers' tools come and go.
    assert_eq!(result["capabilities"]["tools"]["listChanged"], true);
    assert_eq!(result["serverInfo"]["name"], "construct-actor");
    assert!(result["serverInfo"]["version"].is_string());

    let unknown = daemon
        .rpc(
            &session,
            "initialize",
            json!({"protocolVersion": "1999-01-01"}),
        )
        .await;
    assert_eq!(unknown["result"]["protocolVersion"], "2025-11-25");
}

#[tokio::test]
async fn ping_answers_an_empty_object() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let answer = daemon.rpc(&session, "ping", json!({})).await;
    assert_eq!(answer["result"], json!({}));
}

#[tokio::test]
async fn tools_list_is_sorted_and_has_schemas() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let answer = daemon.rpc(&session, "tools/list", json!({})).await;
    let tools = answer["result"]["tools"].as_array().unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "content_search",
            "echo",
            "file_edit",
            "file_read",
            "file_write",
            "glob_search",
            "sleep"
        ]
    );
    for tool in tools {
        assert!(tool["description"].as_str().is_some_and(|d| !d.is_empty()));
        assert_eq!(tool["inputSchema"]["type"], "object");
    }
}

#[tokio::test]
async fn only_enabled_tools_are_listed() {
    let daemon = Daemon::start("[tools]\nenabled = [\"echo\"]\n");
    let session = daemon.session().await;
    let answer = daemon.rpc(&session, "tools/list", json!({})).await;
    assert_eq!(answer["result"]["tools"].as_array().unwrap().len(), 1);
    let messages = daemon.call(&session, "sleep", json!({}), json!({})).await;
    assert_eq!(messages[0]["error"]["code"], -32602);
}

#[tokio::test]
async fn an_unknown_method_is_32601() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let answer = daemon.rpc(&session, "resources/list", json!({})).await;
    assert_eq!(answer["error"]["code"], -32601);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("resources/list")
    );
}

#[tokio::test]
async fn invalid_json_is_a_400_parse_error() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let response = post_raw(&daemon, &session, "{\"jsonrpc\": ").await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], -32700);
    assert_eq!(body["id"], Value::Null);
}

#[tokio::test]
async fn wrong_json_rpc_shapes_are_400_invalid_request() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    for body in [
        r#"{"jsonrpc":"2.0","id":1}"#,
        r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
        r#"{"id":1,"method":"ping"}"#,
        r#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#,
        r#""just a string""#,
    ] {
        let response = post_raw(&daemon, &session, body).await;
        assert_eq!(response.status(), 400, "{body}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["error"]["code"], -32600, "{body}");
    }
}

#[tokio::test]
async fn notifications_and_client_responses_are_202_without_a_body() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    for message in [
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 3}}),
        json!({"jsonrpc": "2.0", "id": 4, "result": {}}),
    ] {
        let response = daemon.mcp(&session, message).await;
        assert_eq!(response.status(), 202);
        assert!(response.bytes().await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn an_oversized_mcp_body_is_a_413() {
    let daemon = Daemon::start("[server]\nmax_body_bytes = 256\n");
    let session = daemon.session().await;
    let response = daemon
        .mcp(
            &session,
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                   "params": {"name": "echo", "arguments": {"text": "x".repeat(1000)}}}),
        )
        .await;
    assert_eq!(response.status(), 413);
}

#[tokio::test]
async fn tools_call_streams_n_progress_notifications_then_the_result() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let messages = daemon
        .call(
            &session,
            "sleep",
            json!({"duration_ms": 50, "steps": 5}),
            json!({"progressToken": 42}),
        )
        .await;
    assert_eq!(messages.len(), 6);
    for (i, note) in messages[..5].iter().enumerate() {
        assert_eq!(note["method"], "notifications/progress");
        assert_eq!(note["params"]["progressToken"], 42);
        assert_eq!(note["params"]["progress"], i as u64 + 1);
        assert_eq!(note["params"]["total"], 5);
        assert_eq!(note["params"]["message"], format!("step {} of 5", i + 1));
    }
    let last = &messages[5];
    assert_eq!(last["id"], 7);
    assert_eq!(last["result"]["isError"], false);
    assert_eq!(
        last["result"]["content"][0],
        json!({"type": "text", "text": "slept 50 ms"})
    );
}

#[tokio::test]
async fn string_progress_tokens_are_echoed_and_missing_ones_minted() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let given = daemon
        .call(
            &session,
            "sleep",
            json!({"duration_ms": 10, "steps": 2}),
            json!({"progressToken": "abc"}),
        )
        .await;
    assert_eq!(given[0]["params"]["progressToken"], "abc");

    let minted = daemon
        .call(
            &session,
            "sleep",
            json!({"duration_ms": 10, "steps": 2}),
            json!({}),
        )
        .await;
    let token = &minted[0]["params"]["progressToken"];
    assert!(token.as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(&minted[1]["params"]["progressToken"], token);
}

#[tokio::test]
async fn echo_returns_its_text() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let messages = daemon
        .call(&session, "echo", json!({"text": "héllo"}), json!({}))
        .await;
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["result"]["content"][0]["text"], "héllo");
}

#[tokio::test]
async fn bad_tool_calls_are_32602_naming_the_problem() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let cases = [
        (json!({"name": "nope"}), "unknown tool: nope"),
        (json!({"arguments": {}}), "params.name"),
        (
            json!({"name": "echo", "arguments": [1]}),
            "params.arguments",
        ),
        (json!({"name": "echo", "arguments": {}}), "text"),
        (json!({"name": "echo", "arguments": {"text": 5}}), "string"),
        (
            json!({"name": "sleep", "arguments": {"duration_ms": 1_000_000_000}}),
            "duration_ms",
        ),
        (
            json!({"name": "echo", "arguments": {"text": "a"}, "_meta": {"progressToken": [1]}}),
            "progressToken",
        ),
    ];
    for (params, needle) in cases {
        let response = daemon
            .mcp(
                &session,
                json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": params}),
            )
            .await;
        assert_eq!(response.status(), 200);
        let mut stream = common::sse(response);
        let answer = common::next_data(&mut stream).await;
        assert_eq!(answer["id"], 9);
        assert_eq!(answer["error"]["code"], -32602, "{params}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message} should name {needle}");
        assert!(common::next_event(&mut stream).await.is_none());
    }
}
