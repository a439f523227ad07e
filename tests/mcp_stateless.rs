//! Standard MCP, modern era (revision 2026-07-28): stateless requests, their validation ladder
//! and statuses, cached list results, cancellation by closing the stream.

mod common;

use common::{Daemon, Session, client, next_data, next_event};
use serde_json::{Value, json};

const MODERN: &str = "2026-07-28";

fn meta(version: &str) -> Value {
    json!({"io.modelcontextprotocol/protocolVersion": version,
           "io.modelcontextprotocol/clientInfo": {"name": "modern-test", "version": "1"},
           "io.modelcontextprotocol/clientCapabilities": {}})
}

/// A modern request: `params` get `_meta` unless they have one; headers follow the body unless
/// `headers` overrides them.
struct Modern<'a> {
    method: &'a str,
    params: Value,
    version_header: &'a str,
    method_header: Option<&'a str>,
    name_header: Option<&'a str>,
}

impl<'a> Modern<'a> {
    fn new(method: &'a str, params: Value) -> Self {
        Self {
            method,
            params,
            version_header: MODERN,
            method_header: Some(method),
            name_header: None,
        }
    }

    async fn send(self, daemon: &Daemon, session: Option<&Session>) -> reqwest::Response {
        let mut params = self.params;
        if params.get("_meta").is_none() {
            params["_meta"] = meta(MODERN);
        }
        let mut request = client()
            .post(daemon.url("/mcp"))
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", self.version_header)
            .json(&json!({"jsonrpc": "2.0", "id": 11, "method": self.method, "params": params}));
        if let Some(method) = self.method_header {
            request = request.header("Mcp-Method", method);
        }
        if let Some(name) = self.name_header {
            request = request.header("Mcp-Name", name);
        }
        request = match session {
            Some(session) => request
                .bearer_auth(&session.token)
                .header("X-Construct-Session", &session.id),
            // Anonymous requests run in the daemon's own session: the owner key opens it.
            None => daemon.keyed(request),
        };
        request.send().await.unwrap()
    }
}

async fn json_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn server_discover_lists_versions_capabilities_and_identity() {
    let daemon = Daemon::start("");
    let (status, body) = json_of(
        Modern::new("server/discover", json!({}))
            .send(&daemon, None)
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["id"], 11);
    let result = &body["result"];
    assert_eq!(result["resultType"], "complete");
    let versions = result["supportedVersions"].as_array().unwrap();
    assert!(versions.contains(&json!(MODERN)) && versions.contains(&json!("2025-11-25")));
    assert!(result["capabilities"]["tools"].is_object());
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        "construct-actor"
    );
    assert!(result["ttlMs"].as_u64().is_some());
    assert_eq!(result["cacheScope"], "public");
}

#[tokio::test]
async fn tools_list_is_complete_sorted_and_cacheable() {
    let daemon = Daemon::start("");
    let (status, body) = json_of(
        Modern::new("tools/list", json!({}))
            .send(&daemon, None)
            .await,
    )
    .await;
    assert_eq!(status, 200);
    let result = &body["result"];
    assert_eq!(result["resultType"], "complete");
    assert!(result["ttlMs"].is_u64());
    let names: Vec<&str> = result["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted);
}

#[tokio::test]
async fn malformed_meta_is_400_with_32602() {
    let daemon = Daemon::start("");
    for params in [
        json!({"_meta": {}}),
        json!({"_meta": {"io.modelcontextprotocol/clientCapabilities": {}}}),
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}}),
        json!({"_meta": "nope"}),
    ] {
        let (status, body) = json_of(
            Modern::new("server/discover", params.clone())
                .send(&daemon, None)
                .await,
        )
        .await;
        assert_eq!(status, 400, "{params}");
        assert_eq!(body["error"]["code"], -32602, "{params}");
        assert_eq!(body["id"], 11, "errors echo the request id");
    }
}

#[tokio::test]
async fn headers_that_disagree_with_the_body_are_400_with_32020() {
    let daemon = Daemon::start("");
    let mut version = Modern::new("tools/list", json!({"_meta": meta("v999.0.0")}));
    version.version_header = MODERN;
    let mut method = Modern::new("tools/list", json!({}));
    method.method_header = Some("TOOLS/LIST");
    let mut missing = Modern::new("tools/list", json!({}));
    missing.method_header = None;
    let mut name = Modern::new(
        "tools/call",
        json!({"name": "echo", "arguments": {"text": "x"}}),
    );
    name.name_header = Some("sleep");
    let mut no_name = Modern::new(
        "tools/call",
        json!({"name": "echo", "arguments": {"text": "x"}}),
    );
    no_name.name_header = None;
    for request in [version, method, missing, name, no_name] {
        let (status, body) = json_of(request.send(&daemon, None).await).await;
        assert_eq!(status, 400);
        assert_eq!(body["error"]["code"], -32020);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Header mismatch")
        );
    }
}

#[tokio::test]
async fn an_unsupported_version_is_400_with_32022_listing_the_supported_ones() {
    let daemon = Daemon::start("");
    let mut request = Modern::new("server/discover", json!({"_meta": meta("v999.0.0")}));
    request.version_header = "v999.0.0";
    let (status, body) = json_of(request.send(&daemon, None).await).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], -32022);
    assert_eq!(body["error"]["data"]["requested"], "v999.0.0");
    assert!(
        body["error"]["data"]["supported"]
            .as_array()
            .unwrap()
            .contains(&json!(MODERN))
    );
}

#[tokio::test]
async fn legacy_and_unknown_methods_are_404_with_32601() {
    let daemon = Daemon::start("");
    for method in [
        "initialize",
        "ping",
        "logging/setLevel",
        "resources/subscribe",
        "unknown/method",
    ] {
        let (status, body) =
            json_of(Modern::new(method, json!({})).send(&daemon, None).await).await;
        assert_eq!(status, 404, "{method}");
        assert_eq!(body["error"]["code"], -32601, "{method}");
    }
}

#[tokio::test]
async fn tools_call_streams_progress_and_a_complete_result() {
    let daemon = Daemon::start("");
    let mut request = Modern::new(
        "tools/call",
        json!({"name": "sleep", "arguments": {"duration_ms": 20, "steps": 2},
               "_meta": {"progressToken": "p-1",
                         "io.modelcontextprotocol/protocolVersion": MODERN,
                         "io.modelcontextprotocol/clientCapabilities": {}}}),
    );
    request.name_header = Some("  sleep  ");
    let response = request.send(&daemon, None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-accel-buffering"], "no");
    let mut stream = common::sse(response);
    let first = next_event(&mut stream).await.unwrap();
    assert!(
        first.id.is_empty(),
        "modern streams cannot be resumed, so carry no ids"
    );
    let first: Value = serde_json::from_str(&first.data).unwrap();
    assert_eq!(first["params"]["progressToken"], "p-1");
    assert_eq!(next_data(&mut stream).await["params"]["progress"], 2);
    let last = next_data(&mut stream).await;
    assert_eq!(last["result"]["resultType"], "complete");
    assert_eq!(last["result"]["content"][0]["text"], "slept 20 ms");
    assert!(next_event(&mut stream).await.is_none());
}

#[tokio::test]
async fn closing_a_modern_stream_cancels_its_call() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let mut request = Modern::new(
        "tools/call",
        json!({"name": "sleep", "arguments": {"duration_ms": 20000, "steps": 100}}),
    );
    request.name_header = Some("sleep");
    let mut stream = common::sse(request.send(&daemon, Some(&session)).await);
    next_event(&mut stream).await;
    assert_eq!(daemon.describe(&session).await["running_calls"], 1);
    drop(stream);
    daemon.wait_for_running_calls(&session, 0).await;
}

#[tokio::test]
async fn a_construct_session_runs_modern_requests_in_its_own_workspace_and_events() {
    let daemon = Daemon::start("");
    let session = daemon.session().await;
    let mut events = daemon.follow(&session).await;
    daemon.wait_for_subscribers(&session, 1).await;
    let mut request = Modern::new(
        "tools/call",
        json!({"name": "sleep", "arguments": {"duration_ms": 10, "steps": 1},
               "_meta": {"progressToken": 77,
                         "io.modelcontextprotocol/protocolVersion": MODERN,
                         "io.modelcontextprotocol/clientCapabilities": {}}}),
    );
    request.name_header = Some("sleep");
    let response = request.send(&daemon, Some(&session)).await;
    let mut stream = common::sse(response);
    while next_event(&mut stream).await.is_some() {}
    assert_eq!(next_data(&mut events).await["token"], 77);
}

#[tokio::test]
async fn subscriptions_listen_acknowledges_first_and_stays_open() {
    let daemon = Daemon::start("");
    let request = Modern::new(
        "subscriptions/listen",
        json!({"notifications": {"toolsListChanged": true, "promptsListChanged": true}}),
    );
    let response = request.send(&daemon, None).await;
    assert_eq!(response.status(), 200);
    let mut stream = common::sse(response);
    let ack = next_data(&mut stream).await;
    assert_eq!(ack["method"], "notifications/subscriptions/acknowledged");
    assert_eq!(
        ack["params"]["_meta"]["io.modelcontextprotocol/subscriptionId"],
        11
    );
    assert_eq!(
        ack["params"]["notifications"],
        json!({"toolsListChanged": true}),
        "only the tool list's changes are told"
    );
    let more = tokio::time::timeout(
        std::time::Duration::from_millis(300),
        futures::StreamExt::next(&mut stream),
    )
    .await;
    assert!(more.is_err(), "the stream stays open and quiet");
}

#[tokio::test]
async fn get_and_delete_are_405_in_the_modern_era() {
    let daemon = Daemon::start("");
    let get = client()
        .get(daemon.url("/mcp"))
        .header("MCP-Protocol-Version", MODERN)
        .header("Accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 405);
    let delete = client()
        .delete(daemon.url("/mcp"))
        .header("MCP-Protocol-Version", MODERN)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 405);
}

#[tokio::test]
async fn with_api_keys_every_anonymous_modern_request_needs_one() {
    let key = "k-0123456789abcdef";
    let daemon = Daemon::start(&format!("[security]\napi_keys = [\"{key}\"]\n"));
    let refused = Modern::new("server/discover", json!({}))
        .send(&daemon, None)
        .await;
    assert_eq!(refused.status(), 401);
    let accepted = client()
        .post(daemon.url("/mcp"))
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", MODERN)
        .header("Mcp-Method", "server/discover")
        .bearer_auth(key)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": meta(MODERN)}}))
        .send()
        .await
        .unwrap();
    assert_eq!(accepted.status(), 200);
}

#[tokio::test]
async fn a_python_style_discover_probe_from_a_legacy_client_gets_an_answer_it_can_use() {
    // The Python SDK probes server/discover first and falls back to initialize only on an error;
    // this daemon speaks the modern era, so the probe succeeds and lists the modern revision.
    let daemon = Daemon::start("");
    let (status, body) = json_of(
        Modern::new("server/discover", json!({}))
            .send(&daemon, None)
            .await,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["result"]["supportedVersions"][0], MODERN);
}

/// A `tools/call` of `sleep` made with `key`, anonymously; whatever the answer.
async fn anonymous_sleep(daemon: &Daemon, key: &str, duration_ms: u64) -> reqwest::Response {
    common::stream_client()
        .post(daemon.url("/mcp"))
        .bearer_auth(key)
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", MODERN)
        .header("Mcp-Method", "tools/call")
        .header("Mcp-Name", "sleep")
        .json(&json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                      "params": {"name": "sleep", "arguments": {"duration_ms": duration_ms},
                                 "_meta": meta(MODERN)}}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn one_keys_anonymous_calls_cannot_take_another_keys_room() {
    let (a, b) = ("key-a-0123456789abcdef", "key-b-0123456789abcdef");
    let daemon = Daemon::start(&format!(
        "[security]\napi_keys = [\"{a}\", \"{b}\"]\n[tools]\nmax_calls_per_session = 2\n"
    ));
    // Key A fills its stateless session with long calls…
    let long = [
        anonymous_sleep(&daemon, a, 60_000).await,
        anonymous_sleep(&daemon, a, 60_000).await,
    ];
    for response in &long {
        assert_eq!(response.status(), 200);
    }
    let third = anonymous_sleep(&daemon, a, 10).await;
    assert_eq!(third.status(), 429);
    // …and key B's calls run as if A were not there.
    let other = anonymous_sleep(&daemon, b, 10).await;
    assert_eq!(other.status(), 200);
    let mut stream = common::sse(other);
    let mut last = Value::Null;
    while let Some(event) = common::next_event(&mut stream).await {
        last = serde_json::from_str(&event.data).unwrap();
    }
    assert_eq!(last["result"]["isError"], false, "{last}");
}

/// An anonymous `subscriptions/listen` made with `key`; whatever the answer.
async fn anonymous_listen(daemon: &Daemon, key: &str) -> reqwest::Response {
    common::stream_client()
        .post(daemon.url("/mcp"))
        .bearer_auth(key)
        .header("Accept", "application/json, text/event-stream")
        .header("MCP-Protocol-Version", MODERN)
        .header("Mcp-Method", "subscriptions/listen")
        .json(
            &json!({"jsonrpc": "2.0", "id": 6, "method": "subscriptions/listen",
                      "params": {"notifications": {}, "_meta": meta(MODERN)}}),
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn one_keys_listen_streams_cannot_take_another_keys_room() {
    let (a, b) = ("key-a-0123456789abcdef", "key-b-0123456789abcdef");
    let daemon = Daemon::start(&format!(
        "[security]\napi_keys = [\"{a}\", \"{b}\"]\n[mcp]\nmax_listeners = 1\n"
    ));
    let held = anonymous_listen(&daemon, a).await;
    assert_eq!(held.status(), 200);
    assert_eq!(anonymous_listen(&daemon, a).await.status(), 503);
    assert_eq!(anonymous_listen(&daemon, b).await.status(), 200);
    drop(held);
}
