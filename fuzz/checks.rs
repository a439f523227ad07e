//! What each fuzz target checks, shared by the targets (`fuzz_targets/*.rs`) and by the
//! regression test that replays stored inputs (`tests/fuzz_regressions.rs` at the root), so that
//! a crash found by fuzzing becomes a regression test by copying its input into
//! `fuzz/regressions/<target>/`.
#![allow(dead_code)] // each fuzz target uses its own check

use std::sync::LazyLock;

use actix_web::http::header::HeaderValue;
use construct_actor::http::events::parse_last_event_id;
use construct_actor::mcp::jsonrpc::{self, Incoming};
use construct_actor::mcp::meta::{self, MetaLimits};
use construct_actor::mcp::relay::parse_event_id;
use construct_actor::tools::{self, ToolRegistry, ToolsConfig};
use serde_json::Value;

/// `jsonrpc::decode` never panics, fails only with -32700 or -32600, and whatever it decides is
/// answerable: the success and error encoders produce JSON, echoing a request's id exactly.
pub fn jsonrpc_decode(data: &[u8]) {
    match jsonrpc::decode(data) {
        Ok(Incoming::Request(request)) => {
            let answer = jsonrpc::success(&request.id, Value::Null);
            let parsed: Value = serde_json::from_str(&answer).expect("a success is JSON");
            let echoed: jsonrpc::RequestId =
                serde_json::from_value(parsed["id"].clone()).expect("the id is echoed");
            assert_eq!(echoed, request.id);
            let failure = jsonrpc::failure(
                Some(&request.id),
                &jsonrpc::RpcError::new(jsonrpc::METHOD_NOT_FOUND, request.method.clone()),
            );
            serde_json::from_str::<Value>(&failure).expect("a failure is JSON");
        }
        Ok(Incoming::Notification(_) | Incoming::Response(_)) => {}
        Err(error) => {
            assert!(
                error.code == jsonrpc::PARSE_ERROR || error.code == jsonrpc::INVALID_REQUEST,
                "decode only fails with -32700 or -32600, not {}",
                error.code
            );
            let failure = jsonrpc::failure(None, &error);
            serde_json::from_str::<Value>(&failure).expect("a failure is JSON");
        }
    }
}

/// The two `Last-Event-ID` parsers never panic, and what they accept means what it says: an
/// accepted id, written back, parses to the same value.
pub fn event_id(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data)
        && let Some((stream, number)) = parse_event_id(text)
    {
        assert!(
            !stream.is_empty(),
            "an empty stream part was accepted: {text:?}"
        );
        let written = format!("{stream}-{number}");
        assert_eq!(
            parse_event_id(&written),
            Some((stream.clone(), number)),
            "{text:?} does not round-trip"
        );
        assert!(text.contains(&stream));
    }
    // Whatever bytes a header may carry (HeaderValue refuses only what HTTP itself forbids).
    if let Ok(value) = HeaderValue::from_bytes(data)
        && let Some(id) = parse_last_event_id(&value)
    {
        let written = HeaderValue::from_str(&id.to_string()).expect("digits are a header");
        assert_eq!(parse_last_event_id(&written), Some(id));
        let text = value.to_str().expect("an accepted value is visible ASCII");
        let digits = text.trim().trim_start_matches('+').trim_start_matches('0');
        assert!(
            digits.len() <= id.to_string().len(),
            "{text:?} accepted as {id}"
        );
    }
}

/// Small limits, so that arbitrary inputs land on both sides of them.
const LIMITS: MetaLimits = MetaLimits {
    max_meta_bytes: 256,
    max_progress_token_bytes: 32,
};

/// Every built-in tool and every fixture, with their compiled schemas (built once).
static REGISTRY: LazyLock<ToolRegistry> = LazyLock::new(|| {
    ToolRegistry::new(&ToolsConfig {
        enabled: tools::ALL.iter().map(|name| (*name).to_owned()).collect(),
        fixtures: true,
        ..ToolsConfig::default()
    })
});

/// A message's `_meta` and a `tools/call`'s arguments, as every path checks them before a tool
/// runs: the `_meta` check never panics, refuses only with -32602 naming its limit, and what it
/// accepts is within the limits; every tool's schema judges the arguments (and the whole params
/// object, as arguments of any shape) without panicking, and a refusal is one line.
pub fn tools_call(data: &[u8]) {
    let Ok(incoming) = jsonrpc::decode(data) else {
        return;
    };
    let params = match &incoming {
        Incoming::Request(request) => request.params.clone(),
        Incoming::Notification(notification) => notification.params.clone(),
        Incoming::Response(_) => None,
    };
    match meta::check(&incoming, LIMITS) {
        Ok(()) => {
            let meta = params.as_ref().and_then(|params| params.get("_meta"));
            if let Some(meta) = meta {
                assert!(
                    meta::fits(meta, LIMITS.max_meta_bytes),
                    "an over-size _meta passed"
                );
                let written = serde_json::to_string(meta).expect("JSON writes back");
                assert!(written.len() <= LIMITS.max_meta_bytes);
                if let Some(token) = meta.get("progressToken") {
                    let token = serde_json::to_string(token).expect("JSON writes back");
                    assert!(token.len() <= LIMITS.max_progress_token_bytes);
                }
            }
        }
        Err(error) => {
            assert_eq!(error.code, jsonrpc::INVALID_PARAMS);
            assert!(error.message.contains("mcp.max_"), "{}", error.message);
        }
    }
    let Some(params) = params else {
        return;
    };
    let arguments = params.get("arguments").cloned().unwrap_or(Value::Null);
    let whole = Value::Object(params);
    for name in REGISTRY.names() {
        for args in [&arguments, &whole] {
            if let Err(reason) = REGISTRY.validate(name, args) {
                assert!(
                    !reason.contains('\n'),
                    "{name}: a refusal of more than one line"
                );
            }
        }
    }
}
