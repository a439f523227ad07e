//! What each fuzz target checks, shared by the targets (`fuzz_targets/*.rs`) and by the
//! regression test that replays stored inputs (`tests/fuzz_regressions.rs` at the root), so that
//! a crash found by fuzzing becomes a regression test by copying its input into
//! `fuzz/regressions/<target>/`.
#![allow(dead_code)] // each fuzz target uses its own check

use actix_web::http::header::HeaderValue;
use construct_actor::http::events::parse_last_event_id;
use construct_actor::mcp::jsonrpc::{self, Incoming};
use construct_actor::mcp::relay::parse_event_id;
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
        Ok(Incoming::Notification(_) | Incoming::Response) => {}
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
