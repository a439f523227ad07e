//! The request log: one line per request on standard error, JSON or text per `[log] format`,
//! with the id echoed in `X-Request-Id`, the session when known, the route pattern, method,
//! status and latency; and never a token, whichever header carried it.

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{ACCEPT, Daemon, WAIT, client, stream_client};
use serde_json::{Value, json};

/// A daemon logging JSON at `info` (the harness otherwise keeps tests quiet at `warn`).
fn json_daemon() -> Daemon {
    Daemon::start_with(
        "[log]\nformat = \"json\"\n",
        &[("CONSTRUCT_ACTOR_LOG__LEVEL", "info")],
    )
}

/// The `X-Request-Id` of a response.
fn request_id(response: &reqwest::Response) -> String {
    response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// Every line on standard error so far, each of which must be a JSON object.
fn json_lines(daemon: &Daemon) -> Vec<Value> {
    daemon
        .stderr()
        .lines()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|err| panic!("not a JSON line ({err}): {line}"));
            assert!(value.is_object(), "{line}");
            value
        })
        .collect()
}

/// The request lines (their `fields`) logged for each of `ids`, once all are there; fails the
/// test after [`WAIT`]. Each id must have exactly one.
fn request_lines(daemon: &Daemon, ids: &[&str]) -> HashMap<String, Value> {
    let deadline = Instant::now() + WAIT;
    loop {
        let mut found: HashMap<String, Vec<Value>> = HashMap::new();
        for line in json_lines(daemon) {
            let fields = &line["fields"];
            if fields["message"] == "request" {
                assert_eq!(line["level"], "INFO", "{line}");
                let id = fields["request_id"]
                    .as_str()
                    .expect("a request id")
                    .to_owned();
                found.entry(id).or_default().push(fields.clone());
            }
        }
        if ids.iter().all(|id| found.contains_key(*id)) {
            return ids
                .iter()
                .map(|id| {
                    let mut lines = found.remove(*id).unwrap();
                    assert_eq!(lines.len(), 1, "one line for request {id}: {lines:?}");
                    ((*id).to_owned(), lines.remove(0))
                })
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "no request line for some of {ids:?}; stderr:\n{}",
            daemon.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Checks one request line against what the client saw.
fn check(line: &Value, method: &str, route: &str, status: u16, session: Option<&str>) {
    assert_eq!(line["method"], method, "{line}");
    assert_eq!(line["route"], route, "{line}");
    assert_eq!(line["status"], status, "{line}");
    let latency = line["latency_ms"].as_f64().expect("a latency in ms");
    assert!((0.0..10_000.0).contains(&latency), "{line}");
    match session {
        Some(id) => assert_eq!(line["session"], id, "{line}"),
        None => assert!(line.get("session").is_none(), "{line}"),
    }
}

#[tokio::test]
async fn every_request_logs_one_json_line_with_its_id_and_never_a_token() {
    let daemon = json_daemon();
    let http = client();

    let health = http.get(daemon.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);

    let created = daemon
        .keyed(http.post(daemon.url("/session")))
        .json(&json!({"cwd": daemon.home.path()}))
        .send()
        .await
        .unwrap();
    let create_id = request_id(&created);
    let body: Value = created.json().await.unwrap();
    let session = body["session_id"].as_str().unwrap().to_owned();
    let token = body["token"].as_str().unwrap().to_owned();

    let described = http
        .get(daemon.url(&format!("/session/{session}")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(described.status(), 200);

    // A stream is logged when it starts, while it is still open.
    let events = stream_client()
        .get(daemon.url(&format!("/session/{session}/events")))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let events_id = request_id(&events);
    let open = request_lines(&daemon, &[&events_id]);
    check(
        &open[&events_id],
        "GET",
        "/session/{id}/events",
        200,
        Some(&session),
    );
    drop(events);

    let call = http
        .post(daemon.url("/mcp"))
        .bearer_auth(&token)
        .header("X-Construct-Session", &session)
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "echo", "arguments": {"text": "hi"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), 200);
    let call_id = request_id(&call);
    assert!(call.text().await.unwrap().contains("hi"));

    // A standard client: the Mcp-Session-Id handed out is <uuid>.<token>.
    let initialized = daemon.initialize_raw("2025-11-25").await;
    assert_eq!(initialized.status(), 200);
    let mcp_session_id = initialized.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let (standard, standard_token) = mcp_session_id.split_once('.').unwrap();
    let listed = http
        .post(daemon.url("/mcp"))
        .header("Accept", ACCEPT)
        .header("Mcp-Session-Id", &mcp_session_id)
        .header("MCP-Protocol-Version", "2025-11-25")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), 200);

    let wrong = http
        .get(daemon.url(&format!("/session/{session}")))
        .bearer_auth("0".repeat(64))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let nowhere = http.get(daemon.url("/nowhere")).send().await.unwrap();
    assert_eq!(nowhere.status(), 404);
    let deleted = daemon.delete_session(&session, &token).await;
    assert_eq!(deleted.status(), 204);

    let expected: Vec<(String, &str, &str, u16, Option<&str>)> = vec![
        (request_id(&health), "GET", "/health", 200, None),
        (create_id, "POST", "/session", 200, None),
        (
            request_id(&described),
            "GET",
            "/session/{id}",
            200,
            Some(&session),
        ),
        (call_id, "POST", "/mcp", 200, Some(&session)),
        (
            request_id(&initialized),
            "POST",
            "/mcp",
            200,
            Some(standard),
        ),
        (request_id(&listed), "POST", "/mcp", 200, Some(standard)),
        (
            request_id(&wrong),
            "GET",
            "/session/{id}",
            401,
            Some(&session),
        ),
        (request_id(&nowhere), "GET", "unmatched", 404, None),
        (
            request_id(&deleted),
            "DELETE",
            "/session/{id}",
            204,
            Some(&session),
        ),
    ];
    let ids: Vec<&str> = expected.iter().map(|(id, ..)| id.as_str()).collect();
    let lines = request_lines(&daemon, &ids);
    for (id, method, route, status, session) in &expected {
        check(&lines[id], method, route, *status, *session);
    }
    // Every id is distinct, and the daemon's own log lines of a request carry its id.
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());
    let stderr = daemon.stderr();
    assert!(json_lines(&daemon).iter().any(|line| {
        line["fields"]["message"] == "session created"
            && line["span"]["request_id"] == expected[1].0.as_str()
    }));
    // No token in any form: not the session's, not the token half of Mcp-Session-Id.
    for secret in [token.as_str(), standard_token, mcp_session_id.as_str()] {
        assert!(!stderr.contains(secret), "a token was logged:\n{stderr}");
    }
}

#[tokio::test]
async fn a_sane_incoming_request_id_is_kept_and_anything_else_replaced() {
    let daemon = json_daemon();
    let with = |id: String| {
        client()
            .get(daemon.url("/health"))
            .header("X-Request-Id", id)
            .send()
    };
    let kept = with("client-id.42_x".into()).await.unwrap();
    assert_eq!(request_id(&kept), "client-id.42_x");
    let mut ids = vec![request_id(&kept)];
    for bad in ["a".repeat(64), "with space".into(), String::new()] {
        let replaced = with(bad.clone()).await.unwrap();
        let id = request_id(&replaced);
        assert_ne!(id, bad);
        assert_eq!(id.len(), 32, "a fresh id: {id}");
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        ids.push(id);
    }
    // A refusal by the Origin fence still carries its id and has its line.
    let refused = client()
        .get(daemon.url("/health"))
        .header("Origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    ids.push(request_id(&refused));
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let lines = request_lines(&daemon, &ids);
    check(&lines[ids[0]], "GET", "/health", 200, None);
    check(&lines[ids[4]], "GET", "/health", 403, None);
}

#[tokio::test]
async fn text_logs_carry_the_same_fields_on_one_plain_line() {
    let daemon = Daemon::start_with("", &[("CONSTRUCT_ACTOR_LOG__LEVEL", "info")]);
    let health = client().get(daemon.url("/health")).send().await.unwrap();
    let id = request_id(&health);
    let deadline = Instant::now() + WAIT;
    let line = loop {
        if let Some(line) = daemon
            .stderr()
            .lines()
            .find(|line| line.contains(&format!("request_id={id}")))
        {
            break line.to_owned();
        }
        assert!(Instant::now() < deadline, "no line for {id}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for part in [
        " INFO ",
        " request ",
        "method=GET",
        "route=/health",
        "status=200",
        "latency_ms=",
    ] {
        assert!(line.contains(part), "{part:?} missing from {line:?}");
    }
    assert!(
        !line.contains('\u{1b}'),
        "no colours off a terminal: {line:?}"
    );
}

#[tokio::test]
async fn mcp_lines_name_the_json_rpc_method_the_tool_and_the_client() {
    let daemon = json_daemon();
    let session = daemon.session().await;
    let send = |message: Value| {
        client()
            .post(daemon.url("/mcp"))
            .bearer_auth(&session.token)
            .header("X-Construct-Session", &session.id)
            .json(&message)
            .send()
    };
    let initialize = send(json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "claude-code\nforged=1", "version": "2.1.197"}}}))
    .await
    .unwrap();
    assert_eq!(initialize.status(), 200);
    let initialized = send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await
        .unwrap();
    assert_eq!(initialized.status(), 202);
    let call = send(json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                           "params": {"name": "echo", "arguments": {"text": "hi"}}}))
    .await
    .unwrap();
    assert_eq!(call.status(), 200);
    let broken = client()
        .post(daemon.url("/mcp"))
        .bearer_auth(&session.token)
        .header("X-Construct-Session", &session.id)
        .header("Content-Type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);
    let ids = [
        request_id(&initialize),
        request_id(&initialized),
        request_id(&call),
        request_id(&broken),
    ];
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    let lines = request_lines(&daemon, &ids);
    let init = &lines[ids[0]];
    check(init, "POST", "/mcp", 200, Some(&session.id));
    assert_eq!(init["rpc_method"], "initialize", "{init}");
    // The client's own text, with the line break that would forge a field made harmless.
    assert_eq!(init["client"], "claude-code?forged=1", "{init}");
    assert_eq!(init["client_version"], "2.1.197", "{init}");
    assert_eq!(lines[ids[1]]["rpc_method"], "notifications/initialized");
    let call = &lines[ids[2]];
    assert_eq!(call["rpc_method"], "tools/call", "{call}");
    assert_eq!(call["tool"], "echo", "{call}");
    assert!(call.get("client").is_none(), "{call}");
    let broken = &lines[ids[3]];
    check(broken, "POST", "/mcp", 400, Some(&session.id));
    assert!(broken.get("rpc_method").is_none(), "{broken}");
    // The session now knows its client, as the admin listing (and so `sessions`) shows it.
    let admin = daemon
        .printed_admin_token()
        .expect("a generated admin token");
    let listed = daemon.client_sessions(&admin).await;
    let entry = listed
        .iter()
        .find(|entry| entry["session_id"] == session.id.as_str())
        .unwrap();
    assert_eq!(
        entry["client"],
        json!({"name": "claude-code?forged=1", "version": "2.1.197"})
    );
}
