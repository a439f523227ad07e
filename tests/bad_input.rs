//! The bad-input sweep, over real HTTP against the real daemon: malformed JSON, wrong types in
//! every field of every request body (session bodies, the JSON-RPC envelope, each method's
//! params, `tools/call` params, and every argument of every tool as `tools/list` describes it),
//! huge and deeply nested bodies, invalid UTF-8, header injection attempts over raw TCP, path
//! traversal in tool arguments, huge, deep and unknown tool arguments, and `_meta` of every kind
//! and size (over its limits: `-32602`).
//!
//! Whatever comes in, the daemon answers in time (every request is bounded by a timeout), never
//! with a 5xx other than the documented `503` (busy), and never panics (its standard error is
//! scanned for "panicked" after each test).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::{Daemon, Session, WAIT, client, sse};
use futures::StreamExt as _;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// A daemon with every tool on (the two that reach outside restricted to nothing useful), so
/// that every tool's schema is swept, and no creation rate limit in the way of the sweep.
fn daemon() -> Daemon {
    Daemon::start(
        r#"[sessions]
create_per_minute = 100000

[tools]
enabled = ["content_search", "echo", "file_edit", "file_read", "file_write", "glob_search",
           "sleep", "shell", "http_request"]

[tools.shell]
allow = ["true"]

[tools.http_request]
allow_hosts = ["127.0.0.1"]
"#,
    )
}

/// What a sweep saw, for the summary line and the final checks.
#[derive(Default)]
struct Tally {
    statuses: BTreeMap<u16, usize>,
    requests: usize,
}

impl Tally {
    /// Records `status` for `what`, which must not be a 5xx other than 503.
    fn check(&mut self, what: &str, status: u16) {
        self.requests += 1;
        *self.statuses.entry(status).or_default() += 1;
        assert!(
            status < 500 || status == 503,
            "{what}: answered {status}, a server error"
        );
    }

    fn finish(self, daemon: &Daemon, test: &str) {
        eprintln!(
            "{test}: {} requests, statuses {:?}",
            self.requests, self.statuses
        );
        let stderr = daemon.stderr();
        assert!(
            !stderr.contains("panicked"),
            "the daemon panicked: {stderr}"
        );
    }
}

/// Sends `request`; its status and whole body, both within [`WAIT`] (a hang fails the test).
async fn send(what: &str, request: reqwest::RequestBuilder) -> (u16, Vec<u8>) {
    tokio::time::timeout(WAIT, async {
        let response = request
            .send()
            .await
            .unwrap_or_else(|err| panic!("{what}: {err}"));
        let status = response.status().as_u16();
        let body = response
            .bytes()
            .await
            .map(|b| b.to_vec())
            .unwrap_or_default();
        (status, body)
    })
    .await
    .unwrap_or_else(|_| panic!("{what}: no complete answer within {WAIT:?}"))
}

fn mcp(daemon: &Daemon, session: &Session) -> reqwest::RequestBuilder {
    client()
        .post(daemon.url("/mcp"))
        .bearer_auth(&session.token)
        .header("X-Construct-Session", &session.id)
        .header("Content-Type", "application/json")
}

/// The JSON-RPC messages in an answer body, whether plain JSON or SSE `data:` lines.
fn messages(body: &[u8]) -> Vec<Value> {
    let text = String::from_utf8_lossy(body);
    if let Ok(value) = serde_json::from_str::<Value>(&text) {
        return vec![value];
    }
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str(data.trim()).ok())
        .collect()
}

/// Whether a `POST /session` body is one serde reads (an object whose unknown members are skipped).
fn readable_session_body(body: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Body {
        cwd: Option<serde::de::IgnoredAny>,
        label: Option<serde::de::IgnoredAny>,
    }
    serde_json::from_slice::<Body>(body).is_ok()
}

/// A tool as `tools/list` describes it, with arguments that hold a plausible value for each
/// required field (see [`plausible`]).
struct DescribedTool {
    name: String,
    properties: serde_json::Map<String, Value>,
    required: Vec<String>,
    base: serde_json::Map<String, Value>,
}

impl DescribedTool {
    fn of(tool: &Value) -> Self {
        let schema = &tool["inputSchema"];
        let properties = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let required: Vec<String> = schema["required"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let base = required
            .iter()
            .map(|field| (field.clone(), plausible(&properties[field])))
            .collect();
        Self {
            name: tool["name"].as_str().unwrap().to_owned(),
            properties,
            required,
            base,
        }
    }
}

/// Values of every JSON type, and the awkward corners of each.
fn bad_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(false),
        json!(0),
        json!(-1),
        json!(1.5),
        json!(1e300),
        json!(-1e300),
        json!(u64::MAX),
        json!(i64::MIN),
        serde_json::from_str("18446744073709551616").unwrap(),
        json!(""),
        json!("x"),
        json!("\u{0}\r\n\u{7f}\u{fffd}"),
        json!("../".repeat(50)),
        json!("é".repeat(5_000)),
        json!([]),
        json!([1, "2", null]),
        json!({}),
        json!({"nested": {"deeper": [1, 2, 3]}}),
    ]
}

/// The JSON type names `value` satisfies in a JSON Schema `type`.
fn json_types(value: &Value) -> Vec<&'static str> {
    match value {
        Value::Null => vec!["null"],
        Value::Bool(_) => vec!["boolean"],
        Value::Number(n) => {
            let integral = n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0);
            if integral {
                vec!["number", "integer"]
            } else {
                vec!["number"]
            }
        }
        Value::String(_) => vec!["string"],
        Value::Array(_) => vec!["array"],
        Value::Object(_) => vec!["object"],
    }
}

/// The types a property schema allows, when it says (`type` as a string or a list).
fn allowed_types(schema: &Value) -> Option<Vec<String>> {
    match &schema["type"] {
        Value::String(one) => Some(vec![one.clone()]),
        Value::Array(many) => Some(
            many.iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
        ),
        _ => None,
    }
}

/// A value of the first type a property schema allows, harmless for any tool.
fn plausible(schema: &Value) -> Value {
    if let Some(first) = schema["enum"].as_array().and_then(|values| values.first()) {
        return first.clone();
    }
    match allowed_types(schema)
        .and_then(|types| types.into_iter().next())
        .as_deref()
    {
        Some("integer" | "number") => json!(schema["minimum"].as_u64().unwrap_or(1).max(1)),
        Some("boolean") => json!(false),
        Some("array") => json!([]),
        Some("object") => json!({}),
        _ => json!("x"),
    }
}

// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn malformed_json_is_a_400_parse_error() {
    let daemon = daemon();
    let session = daemon.session().await;
    let mut tally = Tally::default();
    let bodies: Vec<Vec<u8>> = [
        "",
        " ",
        "{",
        "}",
        "nul",
        "[",
        "{\"jsonrpc\":}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"} trailing",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}{\"jsonrpc\":\"2.0\"}",
        "\u{feff}{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
        "{'jsonrpc':'2.0','id':1,'method':'ping'}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",}",
        "/* c */ {\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":NaN,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":Infinity,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1e999999,\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":\"\\ud800\",\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":\"\\u00\",\"method\":\"ping\"}",
        "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\u{0}\"}",
    ]
    .iter()
    .map(|body| body.as_bytes().to_vec())
    .chain([vec![0xff, 0xfe, 0x00], vec![0; 1024]])
    .collect();
    for body in bodies {
        let what = format!("POST /mcp {:?}", String::from_utf8_lossy(&body));
        let (status, answer) = send(&what, mcp(&daemon, &session).body(body.clone())).await;
        tally.check(&what, status);
        assert_eq!(status, 400, "{what}");
        let answer: Value = serde_json::from_slice(&answer).expect("a JSON-RPC error");
        assert_eq!(answer["id"], Value::Null, "{what}: {answer}");
        assert!(
            answer["error"]["code"] == -32700 || answer["error"]["code"] == -32600,
            "{what}: {answer}"
        );

        let what = format!("POST /session {:?}", String::from_utf8_lossy(&body));
        let request = daemon
            .keyed(client().post(daemon.url("/session")))
            .header("Content-Type", "application/json")
            .body(body.clone());
        let (status, answer) = send(&what, request).await;
        tally.check(&what, status);
        // An empty body means all defaults, and unknown members are ignored (without being
        // parsed further); anything serde cannot read at all is a 400 with a reason.
        if !body.iter().all(u8::is_ascii_whitespace) && !readable_session_body(&body) {
            assert_eq!(status, 400, "{what}");
            let answer: Value = serde_json::from_slice(&answer).expect("a JSON error");
            assert!(answer["error"].is_string(), "{what}: {answer}");
        }
    }
    tally.finish(&daemon, "malformed JSON");
}

#[tokio::test]
async fn wrong_types_in_session_bodies_and_json_rpc_envelopes_are_4xx() {
    let daemon = daemon();
    let session = daemon.session().await;
    let mut tally = Tally::default();

    // POST /session: each field, each value; other fields absent or valid.
    for field in ["cwd", "label"] {
        for value in bad_values() {
            let body = json!({ field: value });
            let what = format!("POST /session {body}");
            let request = daemon
                .keyed(client().post(daemon.url("/session")))
                .json(&body);
            let (status, _) = send(&what, request).await;
            tally.check(&what, status);
            let is_string = value.is_string();
            if !is_string && !value.is_null() {
                assert_eq!(status, 400, "{what}");
            }
        }
    }
    for body in [
        json!([]),
        json!("cwd"),
        json!(7),
        json!(null),
        json!({"cwd": "~", "extra": {}}),
    ] {
        let what = format!("POST /session {body}");
        let (status, _) = send(
            &what,
            daemon
                .keyed(client().post(daemon.url("/session")))
                .json(&body),
        )
        .await;
        tally.check(&what, status);
    }

    // The envelope: each member, each value, for a request of each method.
    let methods = [
        (
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                              "clientInfo": {"name": "sweep", "version": "1"}}),
        ),
        ("ping", json!({})),
        ("tools/list", json!({})),
        ("logging/setLevel", json!({"level": "info"})),
        (
            "tools/call",
            json!({"name": "echo", "arguments": {"text": "hi"}}),
        ),
        ("notifications/initialized", json!({})),
        ("notifications/cancelled", json!({"requestId": 1})),
    ];
    for (method, params) in &methods {
        let valid = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        for member in ["jsonrpc", "id", "method", "params"] {
            for value in bad_values() {
                let mut message = valid.clone();
                message[member] = value;
                let what = format!("{method}: {member} = {}", message[member]);
                let (status, body) = send(&what, mcp(&daemon, &session).json(&message)).await;
                tally.check(&what, status);
                if member == "jsonrpc" && message["jsonrpc"] != "2.0" {
                    assert_eq!(status, 400, "{what}");
                }
                if status == 400 {
                    let answer: Value = serde_json::from_slice(&body).expect("a JSON-RPC error");
                    assert!(answer["error"]["code"].is_i64(), "{what}: {answer}");
                }
            }
            // And without it.
            let mut message = valid.clone();
            message.as_object_mut().unwrap().remove(member);
            let what = format!("{method} without {member}");
            let (status, _) = send(&what, mcp(&daemon, &session).json(&message)).await;
            tally.check(&what, status);
        }
        // Each param of each method.
        if let Some(fields) = params.as_object() {
            for field in fields.keys() {
                for value in bad_values() {
                    let mut message = valid.clone();
                    message["params"][field] = value;
                    let what = format!("{method}: params.{field} = {}", message["params"][field]);
                    let (status, _) = send(&what, mcp(&daemon, &session).json(&message)).await;
                    tally.check(&what, status);
                }
            }
        }
    }

    // The modern (stateless) era: `_meta` and its members, each value.
    let modern = |method: &str, message: &Value| {
        let mut request = daemon
            .keyed(client().post(daemon.url("/mcp")))
            .header("Accept", "application/json, text/event-stream")
            .header("MCP-Protocol-Version", "2026-07-28")
            .header("Mcp-Method", method)
            .json(message);
        if method == "tools/call" {
            request = request.header("Mcp-Name", "echo");
        }
        request
    };
    let meta = json!({"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                      "io.modelcontextprotocol/clientCapabilities": {}});
    for (method, params) in [
        ("tools/list", json!({})),
        (
            "tools/call",
            json!({"name": "echo", "arguments": {"text": "hi"}}),
        ),
        ("server/discover", json!({})),
    ] {
        let mut valid = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        valid["params"]["_meta"] = meta.clone();
        let (status, _) = send(method, modern(method, &valid)).await;
        assert_eq!(status, 200, "a valid modern {method}");
        for value in bad_values() {
            let mut message = valid.clone();
            message["params"]["_meta"] = value.clone();
            let what = format!("modern {method}: _meta = {value}");
            let (status, _) = send(&what, modern(method, &message)).await;
            tally.check(&what, status);
            assert_eq!(status, 400, "{what}");
            for member in [
                "io.modelcontextprotocol/protocolVersion",
                "io.modelcontextprotocol/clientCapabilities",
                "io.modelcontextprotocol/logLevel",
            ] {
                let mut message = valid.clone();
                message["params"]["_meta"][member] = value.clone();
                let what = format!("modern {method}: _meta.{member} = {value}");
                let (status, _) = send(&what, modern(method, &message)).await;
                tally.check(&what, status);
            }
        }
    }
    tally.finish(&daemon, "wrong types in bodies and envelopes");
}

#[tokio::test]
async fn wrong_types_in_tools_call_params_and_every_tool_argument_are_32602() {
    let daemon = daemon();
    let session = daemon.session().await;
    let mut tally = Tally::default();
    let call = |id: u64, params: &Value| json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params});
    let mut id = 0;

    // tools/call's own params.
    let valid = json!({"name": "echo", "arguments": {"text": "hi"}, "_meta": {"progressToken": 1}});
    for value in bad_values() {
        for path in ["name", "arguments", "_meta", "progressToken"] {
            let mut params = valid.clone();
            if path == "progressToken" {
                params["_meta"]["progressToken"] = value.clone();
            } else {
                params[path] = value.clone();
            }
            id += 1;
            let what = format!("tools/call {path} = {value}");
            let (status, body) = send(&what, mcp(&daemon, &session).json(&call(id, &params))).await;
            tally.check(&what, status);
            let answers = messages(&body);
            let last = answers
                .last()
                .unwrap_or_else(|| panic!("{what}: no answer"));
            let wrong_type = match path {
                "name" => !value.is_string(),
                "arguments" => !value.is_object() && !value.is_null(),
                "_meta" => !value.is_object() && !value.is_null(),
                _ => !(value.is_string() || value.is_number() || value.is_null()),
            };
            if wrong_type {
                assert_eq!(last["error"]["code"], -32602, "{what}: {last}");
            }
        }
    }

    // Every argument of every tool, as tools/list describes them.
    let listed = daemon.rpc(&session, "tools/list", json!({})).await;
    let tools = listed["result"]["tools"]
        .as_array()
        .expect("a tool list")
        .clone();
    assert!(tools.len() >= 9, "every tool is on: {listed}");
    for DescribedTool {
        name,
        properties,
        required,
        base,
    } in tools.iter().map(DescribedTool::of)
    {
        let name = name.as_str();
        for (field, property) in &properties {
            let allowed = allowed_types(property);
            for value in bad_values() {
                let mut arguments = base.clone();
                arguments.insert(field.clone(), value.clone());
                id += 1;
                let params = json!({"name": name, "arguments": arguments});
                let what = format!("{name}: {field} = {value}");
                let (status, body) =
                    send(&what, mcp(&daemon, &session).json(&call(id, &params))).await;
                tally.check(&what, status);
                let answers = messages(&body);
                let last = answers
                    .last()
                    .unwrap_or_else(|| panic!("{what}: no answer"));
                let fits = allowed.as_ref().is_none_or(|allowed| {
                    json_types(&value)
                        .iter()
                        .any(|t| allowed.iter().any(|a| a == t))
                });
                if !fits {
                    assert_eq!(last["error"]["code"], -32602, "{what}: {last}");
                    let message = last["error"]["message"].as_str().unwrap_or_default();
                    assert!(
                        message.contains(field.as_str()),
                        "{what}: {message} names the field"
                    );
                } else {
                    assert!(
                        last.get("result").is_some() || last["error"]["code"] == -32602,
                        "{what}: {last}"
                    );
                }
            }
        }
        // Missing required arguments, and arguments that are not an object.
        for arguments in [json!({}), json!([]), json!("x"), json!(7)] {
            id += 1;
            let params = json!({"name": name, "arguments": arguments});
            let what = format!("{name}: arguments = {arguments}");
            let (status, body) = send(&what, mcp(&daemon, &session).json(&call(id, &params))).await;
            tally.check(&what, status);
            let last = messages(&body)
                .pop()
                .unwrap_or_else(|| panic!("{what}: no answer"));
            if !(required.is_empty() && arguments == json!({})) {
                assert_eq!(last["error"]["code"], -32602, "{what}: {last}");
            }
        }
    }
    tally.finish(&daemon, "wrong types in tool arguments");
}

/// The arguments of every tool (as `tools/list` describes them) other than wrong types: a huge
/// string in every field, values nested deeper than any schema expects, and unknown fields. Each
/// is answered in time, with a result or `-32602`; unknown fields are refused naming the field,
/// and the daemon stays healthy.
#[tokio::test]
async fn huge_deep_and_unknown_tool_arguments_are_answered_or_32602() {
    let daemon = daemon();
    let session = daemon.session().await;
    let mut tally = Tally::default();
    let huge = "x".repeat(256 * 1024);
    // 120 levels: with the envelope's four, just under the JSON parser's limit of 128.
    let deep = (0..60).fold(json!("leaf"), |inner, _| json!({"d": [inner]}));
    let listed = daemon.rpc(&session, "tools/list", json!({})).await;
    let tools = listed["result"]["tools"].as_array().unwrap().clone();
    let mut id = 10_000;
    for DescribedTool {
        name,
        properties,
        base,
        ..
    } in tools.iter().map(DescribedTool::of)
    {
        let name = name.as_str();
        let mut cases: Vec<(String, serde_json::Map<String, Value>, Option<&str>)> = Vec::new();
        for field in properties.keys() {
            for (label, value) in [("huge", json!(huge)), ("deep", deep.clone())] {
                let mut arguments = base.clone();
                arguments.insert(field.clone(), value);
                cases.push((format!("{name}: {field} = {label}"), arguments, None));
            }
        }
        for unknown in ["zz_unknown", "__proto__", ""] {
            let mut arguments = base.clone();
            arguments.insert(unknown.to_owned(), json!(1));
            cases.push((
                format!("{name}: unknown field {unknown:?}"),
                arguments,
                Some(unknown),
            ));
        }
        for (what, arguments, unknown) in cases {
            id += 1;
            let message = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                                 "params": {"name": name, "arguments": arguments}});
            let (status, body) = send(&what, mcp(&daemon, &session).json(&message)).await;
            tally.check(&what, status);
            let last = messages(&body)
                .pop()
                .unwrap_or_else(|| panic!("{what}: no answer"));
            assert!(
                last.get("result").is_some() || last["error"]["code"] == -32602,
                "{what}: {}",
                last.to_string().chars().take(300).collect::<String>()
            );
            if let Some(field) = unknown {
                assert_eq!(last["error"]["code"], -32602, "{what}: {last}");
                let text = last["error"]["message"].as_str().unwrap_or_default();
                assert!(text.contains(&format!("'{field}'")), "{what}: {text}");
            }
        }
    }
    assert_health(&daemon).await;
    tally.finish(&daemon, "huge, deep and unknown tool arguments");
}

/// `_meta` as a client may fill it, on a `tools/call` and on `ping`, through Construct headers
/// and as a stateless request: tokens of every type and size, keys of every size, deep nesting.
/// Whatever it holds, the answer comes in time and is never a server error; anything over
/// `mcp.max_meta_bytes` or `mcp.max_progress_token_bytes` is `-32602` naming the limit.
#[tokio::test]
async fn every_kind_of_meta_is_answered_and_over_size_ones_are_32602() {
    let daemon = daemon();
    let session = daemon.session().await;
    let mut tally = Tally::default();
    let deep = (0..120).fold(json!(1), |inner, _| json!([inner]));
    let mut metas: Vec<(String, Value, Option<&str>)> = bad_values()
        .into_iter()
        .map(|token| {
            let over = token.to_string().len() > 1024;
            let limit = over.then_some("mcp.max_progress_token_bytes");
            (
                format!("progressToken = {token:.60}"),
                json!({"progressToken": token}),
                limit,
            )
        })
        .collect();
    for (label, meta, limit) in [
        (
            "a token of 1022 characters",
            json!({"progressToken": "t".repeat(1022)}),
            None,
        ),
        (
            "a token of 1023 characters",
            json!({"progressToken": "t".repeat(1023)}),
            Some("mcp.max_progress_token_bytes"),
        ),
        (
            "a token of escapes",
            json!({"progressToken": "\u{0}".repeat(200)}),
            Some("mcp.max_progress_token_bytes"),
        ),
        ("a deep token", json!({"progressToken": deep.clone()}), None),
        ("a deep _meta", json!({"k": deep.clone()}), None),
        ("a key of 60 KiB", json!({"k".repeat(60 * 1024): 1}), None),
        (
            "a value of 70 KiB",
            json!({"k": "v".repeat(70 * 1024)}),
            Some("mcp.max_meta_bytes"),
        ),
        (
            "10 000 keys",
            Value::Object((0..10_000).map(|n| (format!("key{n}"), json!(n))).collect()),
            Some("mcp.max_meta_bytes"),
        ),
    ] {
        metas.push((label.to_owned(), meta, limit));
    }
    let mut id = 20_000;
    for (label, meta, limit) in metas {
        for method in ["tools/call", "ping"] {
            id += 1;
            let mut params = json!({"_meta": meta.clone()});
            if method == "tools/call" {
                params["name"] = json!("echo");
                params["arguments"] = json!({"text": "hi"});
            }
            let message = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
            let what = format!("{method} with {label}");
            let (status, body) = send(&what, mcp(&daemon, &session).json(&message)).await;
            tally.check(&what, status);
            let last = messages(&body)
                .pop()
                .unwrap_or_else(|| panic!("{what}: no answer"));
            match limit {
                Some(limit) => {
                    assert_eq!(last["error"]["code"], -32602, "{what}: {last}");
                    let text = last["error"]["message"].as_str().unwrap_or_default();
                    assert!(text.contains(limit), "{what}: {text}");
                }
                None if method == "ping" => assert!(last.get("result").is_some(), "{what}: {last}"),
                None => assert!(
                    last.get("result").is_some() || last["error"]["code"] == -32602,
                    "{what}: {last}"
                ),
            }

            // The same as a stateless request: `-32602` there is a 400.
            let mut stateless_meta = meta.clone();
            if !stateless_meta.is_object() {
                continue;
            }
            stateless_meta["io.modelcontextprotocol/protocolVersion"] = json!("2026-07-28");
            stateless_meta["io.modelcontextprotocol/clientCapabilities"] = json!({});
            let mut message = message.clone();
            message["params"]["_meta"] = stateless_meta;
            let mut request = daemon
                .keyed(client().post(daemon.url("/mcp")))
                .header("Accept", "application/json, text/event-stream")
                .header("MCP-Protocol-Version", "2026-07-28")
                .header("Mcp-Method", method)
                .json(&message);
            if method == "tools/call" {
                request = request.header("Mcp-Name", "echo");
            }
            let what = format!("stateless {what}");
            let (status, body) = send(&what, request).await;
            tally.check(&what, status);
            let last = messages(&body)
                .pop()
                .unwrap_or_else(|| panic!("{what}: no answer"));
            if let Some(limit) = limit {
                assert_eq!(status, 400, "{what}");
                assert_eq!(last["error"]["code"], -32602, "{what}: {last}");
                assert!(
                    last["error"]["message"]
                        .as_str()
                        .unwrap_or_default()
                        .contains(limit)
                );
            }
        }
    }
    assert_health(&daemon).await;
    tally.finish(&daemon, "every kind of _meta");
}

/// `tools/call` with `"_meta": true` (or any other non-object) is `-32602` naming `_meta`, as for
/// a `progressToken` of the wrong type inside it, rather than ignored with the call run.
#[tokio::test]
async fn a_meta_that_is_not_an_object_is_32602() {
    let daemon = daemon();
    let session = daemon.session().await;
    for meta in [json!(true), json!([]), json!("x"), json!(1)] {
        let message = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                             "params": {"name": "echo", "arguments": {"text": "a"}, "_meta": meta}});
        let (_, body) = send("_meta", mcp(&daemon, &session).json(&message)).await;
        let last = messages(&body).pop().expect("an answer");
        assert_eq!(last["error"]["code"], -32602, "_meta = {meta}: {last}");
        assert!(
            last["error"]["message"]
                .as_str()
                .is_some_and(|message| message.contains("_meta")),
            "_meta = {meta}: {last}"
        );
    }
}

#[tokio::test]
async fn bodies_over_the_limit_are_413_and_at_the_limit_are_served() {
    let daemon = Daemon::start("[server]\nmax_body_bytes = 65536\n");
    let session = daemon.session().await;
    let mut tally = Tally::default();
    const LIMIT: usize = 65536;
    let ping = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

    // Exactly at the limit (padded with whitespace): served.
    let mut at_limit = ping.to_vec();
    at_limit.resize(LIMIT, b' ');
    let (status, _) = send("at the limit", mcp(&daemon, &session).body(at_limit)).await;
    tally.check("at the limit", status);
    assert_eq!(status, 200);

    for size in [LIMIT + 1, 4 * LIMIT, 64 * LIMIT] {
        let mut body = ping.to_vec();
        body.resize(size, b' ');
        let what = format!("POST /mcp of {size} bytes");
        let (status, _) = send(&what, mcp(&daemon, &session).body(body.clone())).await;
        tally.check(&what, status);
        assert_eq!(status, 413, "{what}");
        let what = format!("POST /session of {size} bytes");
        let (status, _) = send(
            &what,
            daemon
                .keyed(client().post(daemon.url("/session")))
                .body(body),
        )
        .await;
        tally.check(&what, status);
        assert_eq!(status, 413, "{what}");
    }

    // Chunked, with no length announced.
    let chunks = futures::stream::iter(
        (0..64).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b' '; 16 * 1024]))),
    );
    let what = "a chunked 1 MiB body";
    let (status, _) = send(
        what,
        mcp(&daemon, &session).body(reqwest::Body::wrap_stream(chunks)),
    )
    .await;
    tally.check(what, status);
    assert_eq!(status, 413, "{what}");

    assert_health(&daemon).await;
    tally.finish(&daemon, "huge bodies");
}

/// `POST /mcp` (and `POST /session`, which reads its body the same way) announcing
/// `Content-Length: 1000000000000` (over `server.max_body_bytes`) and sending 11 bytes is refused
/// with 413 at once, from the announced length alone: waiting for the rest would hold the
/// connection for the whole 30 s body timeout.
#[tokio::test]
async fn an_announced_length_over_the_limit_is_413_at_once() {
    let daemon = daemon();
    let session = daemon.session().await;
    let auth = format!("Bearer {}", session.token);
    let key = format!("Bearer {}", daemon.api_key());
    for (line, headers) in [
        (
            "POST /mcp HTTP/1.1",
            vec![
                ("Authorization", auth.as_str()),
                ("X-Construct-Session", session.id.as_str()),
            ],
        ),
        (
            "POST /session HTTP/1.1",
            vec![("Authorization", key.as_str())],
        ),
    ] {
        let mut headers = headers;
        headers.push(("Content-Length", "1000000000000"));
        let request = raw_request(&daemon, line, &headers, b"{\"jsonrpc\":");
        let started = Instant::now();
        let (status, answer) = raw(&daemon, &request).await;
        assert_eq!(status, Some(413), "{line}: {answer}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{line}: {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test]
async fn deeply_nested_json_is_a_400_not_a_stack_overflow() {
    let daemon = daemon();
    let session = daemon.session().await;
    let mut tally = Tally::default();
    const DEPTH: usize = 100_000;
    let arrays = "[".repeat(DEPTH);
    let objects = "{\"a\":".repeat(DEPTH);
    let closed = format!("{}{}", "[".repeat(DEPTH), "]".repeat(DEPTH));
    let in_params = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"params\":{{\"x\":{closed}}}}}"
    );
    let in_arguments = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{{\"name\":\"echo\",\"arguments\":{{\"text\":{closed}}}}}}}"
    );
    for (label, body) in [
        ("100 000 [", &arrays),
        ("100 000 {\"a\":", &objects),
        ("100 000 [ then ]", &closed),
        ("nested in params", &in_params),
        ("nested in tool arguments", &in_arguments),
    ] {
        let what = format!("POST /mcp: {label}");
        let (status, answer) = send(&what, mcp(&daemon, &session).body(body.clone())).await;
        tally.check(&what, status);
        assert_eq!(status, 400, "{what}");
        let answer: Value = serde_json::from_slice(&answer).unwrap();
        assert_eq!(answer["error"]["code"], -32700, "{what}: {answer}");

        let what = format!("POST /session: {label}");
        let request = daemon
            .keyed(client().post(daemon.url("/session")))
            .body(body.clone());
        let (status, _) = send(&what, request).await;
        tally.check(&what, status);
        if !readable_session_body(body.as_bytes()) {
            assert_eq!(status, 400, "{what}");
        }
    }
    // Nesting the parser accepts, all the way into a tool's schema validation.
    let shallow = format!("{}1{}", "[".repeat(100), "]".repeat(100));
    let body = format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{{\"name\":\"echo\",\"arguments\":{{\"text\":{shallow}}}}}}}"
    );
    let (status, answer) = send("100 deep", mcp(&daemon, &session).body(body)).await;
    tally.check("100 deep", status);
    let last = messages(&answer).pop().expect("an answer");
    assert_eq!(last["error"]["code"], -32602, "{last}");
    assert_health(&daemon).await;
    tally.finish(&daemon, "deep nesting");
}

#[tokio::test]
async fn invalid_utf8_in_bodies_headers_and_paths_is_refused() {
    let daemon = daemon();
    let session = daemon.session().await;
    let mut tally = Tally::default();

    // In a body: inside a JSON string, and as a tool argument.
    for body in [
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"pi\xffng\"}".to_vec(),
        b"{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\",\"arguments\":{\"text\":\"\xc3\x28\"}}}".to_vec(),
        b"{\"jsonrpc\":\"2.0\",\"id\":\"\xed\xa0\x80\",\"method\":\"ping\"}".to_vec(),
    ] {
        let what = format!("body {:?}", String::from_utf8_lossy(&body));
        let (status, _) = send(&what, mcp(&daemon, &session).body(body.clone())).await;
        tally.check(&what, status);
        assert_eq!(status, 400, "{what}");
        let request = daemon.keyed(client().post(daemon.url("/session"))).body(
            b"{\"cwd\":\"/tm\xffp\",\"label\":\"\xfe\"}".to_vec(),
        );
        let (status, _) = send("session body", request).await;
        tally.check("session body", status);
        assert_eq!(status, 400);
    }

    // In headers and paths, by raw TCP (HTTP clients refuse to send them).
    let auth = format!("Bearer {}", session.token);
    let ping = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let events = format!("GET /session/{}/events HTTP/1.1", session.id);
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "Authorization",
            raw_request_bytes(
                &daemon,
                b"POST /mcp HTTP/1.1",
                &[
                    (b"Authorization", b"Bearer \xff\xfe"),
                    (b"X-Construct-Session", session.id.as_bytes()),
                ],
                ping,
            ),
        ),
        (
            "X-Construct-Session",
            raw_request_bytes(
                &daemon,
                b"POST /mcp HTTP/1.1",
                &[
                    (b"Authorization", auth.as_bytes()),
                    (b"X-Construct-Session", b"\xc3\x28"),
                ],
                ping,
            ),
        ),
        (
            "Mcp-Session-Id",
            raw_request_bytes(
                &daemon,
                b"POST /mcp HTTP/1.1",
                &[
                    (b"Accept", b"application/json, text/event-stream"),
                    (b"Mcp-Session-Id", b"\xff.\xff"),
                ],
                ping,
            ),
        ),
        (
            "Mcp-Method",
            raw_request_bytes(
                &daemon,
                b"POST /mcp HTTP/1.1",
                &[
                    (b"MCP-Protocol-Version", b"2026-07-28"),
                    (b"Mcp-Method", b"tools/\xfflist"),
                ],
                ping,
            ),
        ),
        (
            "Last-Event-ID",
            raw_request_bytes(
                &daemon,
                events.as_bytes(),
                &[
                    (b"Authorization", auth.as_bytes()),
                    (b"Last-Event-ID", b"1\xff"),
                ],
                b"",
            ),
        ),
        (
            "Origin",
            raw_request_bytes(
                &daemon,
                b"POST /mcp HTTP/1.1",
                &[
                    (b"Origin", b"http://\xff"),
                    (b"Authorization", auth.as_bytes()),
                    (b"X-Construct-Session", session.id.as_bytes()),
                ],
                ping,
            ),
        ),
        (
            "Content-Type",
            raw_request_bytes(
                &daemon,
                b"POST /session HTTP/1.1",
                &[(b"Content-Type", b"application/\xffjson")],
                b"{}",
            ),
        ),
        (
            "path %ff",
            raw_request_bytes(
                &daemon,
                b"GET /session/%ff%fe/events HTTP/1.1",
                &[(b"Authorization", auth.as_bytes())],
                b"",
            ),
        ),
        (
            "path raw 0xff",
            raw_request_bytes(
                &daemon,
                b"GET /session/\xff\xfe HTTP/1.1",
                &[(b"Authorization", auth.as_bytes())],
                b"",
            ),
        ),
        (
            "method",
            raw_request_bytes(&daemon, b"P\xffST /mcp HTTP/1.1", &[], ping),
        ),
    ];
    for (what, request) in cases {
        let (status, answer) = raw(&daemon, &request).await;
        tally.check(what, status.unwrap_or(0));
        let status = status.unwrap_or_else(|| panic!("{what}: no answer: {answer:?}"));
        // `POST /session` does not need a Content-Type at all, so an unreadable one is ignored.
        let ignored = what == "Content-Type" && status == 200;
        assert!(
            ignored || (400..500).contains(&status),
            "{what}: {status} {answer}"
        );
    }
    assert_health(&daemon).await;
    tally.finish(&daemon, "invalid UTF-8");
}

/// A `POST`, `GET` or `DELETE /mcp` with valid Construct credentials and
/// `MCP-Protocol-Version: 2025-\xff` (a byte that is not visible ASCII) is 400 with `-32022`, as
/// for any revision this daemon does not implement, rather than served as if the header were
/// absent (in the legacy era). Without the header the same `POST` is served.
#[tokio::test]
async fn an_unreadable_protocol_version_header_is_400() {
    let daemon = daemon();
    let session = daemon.session().await;
    let auth = format!("Bearer {}", session.token);
    let ping = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let credentials: [(&[u8], &[u8]); 2] = [
        (b"Authorization", auth.as_bytes()),
        (b"X-Construct-Session", session.id.as_bytes()),
    ];
    let mut unreadable = credentials.to_vec();
    unreadable.push((b"MCP-Protocol-Version", b"2025-\xff"));
    unreadable.push((b"Accept", b"application/json, text/event-stream"));
    for (line, body) in [
        (&b"POST /mcp HTTP/1.1"[..], &ping[..]),
        (b"GET /mcp HTTP/1.1", b""),
        (b"DELETE /mcp HTTP/1.1", b""),
    ] {
        let request = raw_request_bytes(&daemon, line, &unreadable, body);
        let (status, answer) = raw(&daemon, &request).await;
        let line = String::from_utf8_lossy(line);
        assert_eq!(status, Some(400), "{line}: {answer}");
        assert!(answer.contains("-32022"), "{line}: {answer}");
        assert!(answer.contains("not visible ASCII"), "{line}: {answer}");
    }
    let request = raw_request_bytes(&daemon, b"POST /mcp HTTP/1.1", &credentials, ping);
    let (status, answer) = raw(&daemon, &request).await;
    assert_eq!(status, Some(200), "without the header: {answer}");
}

#[tokio::test]
async fn header_injection_attempts_over_raw_tcp_are_refused() {
    let daemon = daemon();
    let session = daemon.session().await;
    let mut tally = Tally::default();
    let auth = format!("Bearer {}", session.token);
    let ping = br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;
    let sid = session.id.as_bytes();
    let post = b"POST /mcp HTTP/1.1".as_slice();
    let long = vec![b'a'; 100 * 1024];
    let mut many: Vec<(&[u8], &[u8])> = vec![
        (b"Authorization", auth.as_bytes()),
        (b"X-Construct-Session", sid),
    ];
    let names: Vec<Vec<u8>> = (0..200)
        .map(|i| format!("X-Filler-{i}").into_bytes())
        .collect();
    for name in &names {
        many.push((name, b"1"));
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "bare CR in a value",
            raw_request_bytes(
                &daemon,
                post,
                &[
                    (b"Authorization", b"Bearer x\rX-Injected: 1"),
                    (b"X-Construct-Session", sid),
                ],
                ping,
            ),
        ),
        (
            "bare LF in a value",
            raw_request_bytes(
                &daemon,
                post,
                &[
                    (b"Authorization", auth.as_bytes()),
                    (b"X-Construct-Session", b"x\nX-Injected: 1"),
                ],
                ping,
            ),
        ),
        (
            "CR LF then an injected header in Last-Event-ID",
            raw_request_bytes(
                &daemon,
                format!("GET /session/{}/events HTTP/1.1", session.id).as_bytes(),
                &[
                    (b"Authorization", auth.as_bytes()),
                    (b"Last-Event-ID", b"1\r\nSet-Cookie: injected=1"),
                ],
                b"",
            ),
        ),
        (
            "NUL in a value",
            raw_request_bytes(
                &daemon,
                post,
                &[
                    (b"Authorization", b"Bearer \0abc"),
                    (b"X-Construct-Session", sid),
                ],
                ping,
            ),
        ),
        (
            "obs-fold continuation",
            raw_request_bytes(
                &daemon,
                post,
                &[
                    (b"Authorization", auth.as_bytes()),
                    (b"X-Construct-Session", sid),
                    (b"X-Folded", b"a\r\n X-Injected: 1"),
                ],
                ping,
            ),
        ),
        (
            "a header line without a colon",
            raw_request_bytes(
                &daemon,
                post,
                &[
                    (b"Authorization", auth.as_bytes()),
                    (b"X-Construct-Session", sid),
                    (b"NoColonHere\r\nX", b"1"),
                ],
                ping,
            ),
        ),
        (
            "space before the colon",
            raw_request_bytes(
                &daemon,
                post,
                &[
                    (b"Authorization ", auth.as_bytes()),
                    (b"X-Construct-Session", sid),
                ],
                ping,
            ),
        ),
        (
            "CR LF in the request target",
            raw_request_bytes(&daemon, b"GET /health\r\nX-Injected: 1 HTTP/1.1", &[], b""),
        ),
        (
            "two different Content-Lengths",
            raw_request_bytes(
                &daemon,
                post,
                &[
                    (b"Authorization", auth.as_bytes()),
                    (b"X-Construct-Session", sid),
                    (b"Content-Length", b"5"),
                    (b"Content-Length", b"41"),
                ],
                ping,
            ),
        ),
        (
            "Content-Length and Transfer-Encoding",
            raw_request_bytes(
                &daemon,
                post,
                &[
                    (b"Authorization", auth.as_bytes()),
                    (b"X-Construct-Session", sid),
                    (b"Transfer-Encoding", b"chunked"),
                ],
                ping,
            ),
        ),
        (
            "a 100 KiB header",
            raw_request_bytes(
                &daemon,
                post,
                &[
                    (b"Authorization", auth.as_bytes()),
                    (b"X-Construct-Session", sid),
                    (b"X-Long", &long),
                ],
                ping,
            ),
        ),
        ("200 headers", raw_request_bytes(&daemon, post, &many, ping)),
        ("a smuggled second request", {
            let mut smuggle = raw_request_bytes(
                &daemon,
                post,
                &[
                    (b"Authorization", auth.as_bytes()),
                    (b"X-Construct-Session", sid),
                    (b"Content-Length", b"0"),
                ],
                b"",
            );
            smuggle.extend_from_slice(b"GET /session/x HTTP/1.1\r\nHost: evil\r\n\r\n");
            smuggle
        }),
        ("a bad chunk size", {
            let host = daemon.base.trim_start_matches("http://");
            format!("POST /mcp HTTP/1.1\r\nHost: {host}\r\nAuthorization: {auth}\r\nX-Construct-Session: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\nzz\r\n{{}}\r\n0\r\n\r\n", session.id).into_bytes()
        }),
        ("HTTP/0.9", b"GET /health\r\n\r\n".to_vec()),
        (
            "garbage",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 hello\r\n\r\n".to_vec(),
        ),
    ];
    for (what, request) in cases {
        let (status, answer) = raw(&daemon, &request).await;
        tally.check(what, status.unwrap_or(0));
        // Refused (or the connection closed), or, where the attempt is harmless HTTP, served
        // as what it really is: never a header the client injected.
        if let Some(status) = status {
            assert!(status < 500, "{what}: {status}");
        }
        let head = answer
            .split("\r\n\r\n")
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        assert!(
            !head.contains("x-injected") && !head.contains("set-cookie"),
            "{what}: the answer carries an injected header: {head}"
        );
        eprintln!("{what}: {status:?}");
    }
    assert_health(&daemon).await;
    let (status, _) = send(
        "ping",
        mcp(&daemon, &session).json(&json!({"jsonrpc": "2.0", "id": 1, "method": "ping"})),
    )
    .await;
    assert_eq!(status, 200, "the session still works");
    tally.finish(&daemon, "header injection");
}

#[tokio::test]
async fn path_traversal_in_tool_arguments_is_refused() {
    let daemon = daemon();
    let work = daemon.home.path().join("work");
    std::fs::create_dir_all(work.join("sub")).unwrap();
    std::fs::write(
        daemon.home.path().join("secret.txt"),
        "TOP-SECRET-OUTSIDE\n",
    )
    .unwrap();
    std::fs::write(work.join("inside.txt"), "inside\n").unwrap();
    std::os::unix::fs::symlink(daemon.home.path().join("secret.txt"), work.join("link.txt"))
        .unwrap();
    std::os::unix::fs::symlink(daemon.home.path(), work.join("sub/up")).unwrap();
    std::os::unix::fs::symlink("/etc", work.join("etc")).unwrap();
    let session = daemon.session_with(json!({"cwd": work})).await;
    let mut tally = Tally::default();
    let home = daemon.home.path().to_str().unwrap().to_owned();

    let paths = [
        "../secret.txt".to_owned(),
        "../../../../../../etc/passwd".to_owned(),
        "/etc/passwd".to_owned(),
        format!("{home}/secret.txt"),
        "sub/../../secret.txt".to_owned(),
        "./../secret.txt".to_owned(),
        "sub/up/secret.txt".to_owned(),
        "link.txt".to_owned(),
        "etc/passwd".to_owned(),
        "..".to_owned(),
        "/".to_owned(),
        "....//....//etc/passwd".to_owned(),
        "%2e%2e/secret.txt".to_owned(),
        "..\\secret.txt".to_owned(),
        "inside.txt/../../secret.txt".to_owned(),
        "~/secret.txt".to_owned(),
        "\u{0}../secret.txt".to_owned(),
        "/proc/self/environ".to_owned(),
        "/dev/zero".to_owned(),
    ];
    let mut id = 0;
    let mut refused = 0;
    for path in &paths {
        let calls = [
            ("file_read", json!({"path": path})),
            (
                "file_write",
                json!({"path": format!("{path}.written"), "content": "pwned"}),
            ),
            (
                "file_write",
                json!({"path": path, "content": "pwned", "create_dirs": true}),
            ),
            (
                "file_edit",
                json!({"path": path, "old_string": "TOP", "new_string": "pwned"}),
            ),
            ("glob_search", json!({"pattern": "**/*", "path": path})),
            ("glob_search", json!({"pattern": format!("{path}/**")})),
            (
                "content_search",
                json!({"pattern": "TOP-SECRET|root:", "path": path}),
            ),
            (
                "content_search",
                json!({"pattern": "TOP-SECRET|root:", "glob": format!("{path}")}),
            ),
        ];
        for (tool, arguments) in calls {
            id += 1;
            let message = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
                                 "params": {"name": tool, "arguments": arguments}});
            let what = format!("{tool} {arguments}");
            let (status, body) = send(&what, mcp(&daemon, &session).json(&message)).await;
            tally.check(&what, status);
            let text = String::from_utf8_lossy(&body);
            assert!(
                !text.contains("TOP-SECRET-OUTSIDE") && !text.contains("root:x:0:0"),
                "{what}: leaked: {text}"
            );
            let last = messages(&body)
                .pop()
                .unwrap_or_else(|| panic!("{what}: no answer"));
            if last["result"]["isError"] == true || last.get("error").is_some() {
                refused += 1;
            } else if std::env::var_os("SWEEP_VERBOSE").is_some() {
                eprintln!("served: {what}: {}", last["result"]["content"][0]["text"]);
            }
        }
    }
    eprintln!("path traversal: {refused} of {id} calls refused; nothing leaked");
    // Nothing was written or changed outside the workspace.
    assert_eq!(
        std::fs::read_to_string(daemon.home.path().join("secret.txt")).unwrap(),
        "TOP-SECRET-OUTSIDE\n"
    );
    let outside: Vec<_> = walk(daemon.home.path())
        .into_iter()
        .filter(|p| !p.starts_with(&work) && p.to_string_lossy().contains("written"))
        .collect();
    assert!(
        outside.is_empty(),
        "files written outside the workspace: {outside:?}"
    );
    assert!(!std::path::Path::new("/etc/passwd.written").exists());
    tally.finish(&daemon, "path traversal");
}

/// Every file under `root`, not following symlinks.
fn walk(root: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(entry.path());
            } else if kind.is_file() {
                found.push(entry.path());
            }
        }
    }
    found
}

#[tokio::test]
async fn bad_last_event_ids_and_unknown_paths_are_4xx() {
    let daemon = daemon();
    let session = daemon.session().await;
    let mut tally = Tally::default();
    for id in [
        "",
        " ",
        "-1",
        "1.5",
        "1e3",
        "0x10",
        "18446744073709551616",
        "abc",
        "1 2",
        "１",
        "99999999999999999999999999999",
    ] {
        let what = format!("Last-Event-ID {id:?}");
        let response = tokio::time::timeout(WAIT, daemon.follow_from(&session, Some(id)))
            .await
            .expect("answered in time");
        let status = response.status().as_u16();
        tally.check(&what, status);
        assert_eq!(status, 400, "{what}");
    }
    // Ids the session never reached are not an error: nothing was missed.
    for id in ["0", "18446744073709551615", " 7 "] {
        let response = daemon.follow_from(&session, Some(id)).await;
        tally.check(id, response.status().as_u16());
        assert_eq!(response.status(), 200, "Last-Event-ID {id:?}");
        let mut stream = sse(response);
        let _ = tokio::time::timeout(Duration::from_millis(100), stream.next()).await;
    }
    for path in [
        "/session/not-a-uuid",
        "/session/not-a-uuid/events",
        "/session/00000000-0000-0000-0000-000000000000",
        "/session/../health",
        "/mcp/../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/nope",
        &format!("/{}", "a/".repeat(2_000)),
    ] {
        let what = format!("GET {path}");
        let (status, _) = send(
            &what,
            client().get(daemon.url(path)).bearer_auth(&session.token),
        )
        .await;
        tally.check(&what, status);
        assert!(
            status == 200 || (400..500).contains(&status),
            "{what}: {status}"
        );
    }
    tally.finish(&daemon, "bad ids and paths");
}

// ---------------------------------------------------------------------------------------------
// Raw TCP

fn raw_request(daemon: &Daemon, line: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let headers: Vec<(&[u8], &[u8])> = headers
        .iter()
        .map(|(name, value)| (name.as_bytes(), value.as_bytes()))
        .collect();
    raw_request_bytes(daemon, line.as_bytes(), &headers, body)
}

/// A request with `Host`, the given headers, `Content-Length` of `body` unless given, and
/// `Connection: close`; bytes are written as they are.
fn raw_request_bytes(
    daemon: &Daemon,
    line: &[u8],
    headers: &[(&[u8], &[u8])],
    body: &[u8],
) -> Vec<u8> {
    let host = daemon.base.trim_start_matches("http://");
    let mut request = line.to_vec();
    request.extend_from_slice(format!("\r\nHost: {host}\r\n").as_bytes());
    for (name, value) in headers {
        request.extend_from_slice(name);
        request.extend_from_slice(b": ");
        request.extend_from_slice(value);
        request.extend_from_slice(b"\r\n");
    }
    let has_length = headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case(b"content-length"));
    if !has_length && !body.is_empty() {
        request.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    request.extend_from_slice(b"Content-Type: application/json\r\nConnection: close\r\n\r\n");
    request.extend_from_slice(body);
    request
}

/// Writes `request`, reads the answer until the server closes or goes quiet; its status (none if
/// the server closed without answering) and text.
async fn raw(daemon: &Daemon, request: &[u8]) -> (Option<u16>, String) {
    let addr = daemon.base.trim_start_matches("http://");
    let mut socket = TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before taking everything: that is fine.
    let _ = socket.write_all(request).await;
    let mut answer = Vec::new();
    let deadline = Instant::now() + WAIT;
    let mut buffer = [0u8; 8192];
    loop {
        let quiet = if answer.is_empty() {
            WAIT
        } else {
            Duration::from_millis(500)
        };
        match tokio::time::timeout(quiet, socket.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => answer.extend_from_slice(&buffer[..n]),
            Err(_) if !answer.is_empty() => break,
            Err(_) => panic!(
                "no answer within {WAIT:?} to {:?}",
                String::from_utf8_lossy(request)
            ),
        }
        assert!(Instant::now() < deadline, "an answer that never ends");
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| text.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok());
    (status, text)
}

async fn assert_health(daemon: &Daemon) {
    let (status, _) = send("/health", client().get(daemon.url("/health"))).await;
    assert_eq!(status, 200);
}
