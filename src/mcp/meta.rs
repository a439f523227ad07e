//! Size limits on what a client puts in `params._meta`, checked for every message on every path
//! before anything else reads it.
//!
//! `_meta` is the one part of a message the daemon copies into what it keeps: the
//! `progressToken` goes into every progress event of the call, into the session's history, every
//! follower's queue, and a resumable stream's buffer. A token of a megabyte on a call of 300
//! steps once grew the daemon by hundreds of megabytes that stayed for the session's lifetime. So
//! `_meta` as a whole (`mcp.max_meta_bytes`) and the token in particular
//! (`mcp.max_progress_token_bytes`) are measured as JSON bytes, and a message over either is
//! refused with `-32602` naming the limit. Real clients send small integer or short string tokens
//! and a few hundred bytes of `_meta`; the defaults are far above that.
//!
//! Measuring stops as soon as the limit is passed, so an oversized value costs no more than the
//! limit to look at.

use std::io;

use serde::Serialize;
use serde_json::{Map, Value};

use super::jsonrpc::{INVALID_PARAMS, Incoming, RpcError};

/// How large `_meta` and its `progressToken` may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetaLimits {
    /// `params._meta` as a whole, in bytes of JSON.
    pub max_meta_bytes: usize,
    /// `params._meta.progressToken`, in bytes of JSON (a string's quotes and escapes included).
    pub max_progress_token_bytes: usize,
}

/// Refuses `incoming` when its `params._meta`, or the `progressToken` in it, is over `limits`.
/// A `_meta` that is not an object is left to the method's own checks, which name that mistake.
pub fn check(incoming: &Incoming, limits: MetaLimits) -> Result<(), RpcError> {
    let params = match incoming {
        Incoming::Request(request) => request.params.as_ref(),
        Incoming::Notification(notification) => notification.params.as_ref(),
        Incoming::Response(_) => None,
    };
    check_params(params, limits)
}

fn check_params(params: Option<&Map<String, Value>>, limits: MetaLimits) -> Result<(), RpcError> {
    let Some(meta) = params.and_then(|params| params.get("_meta")) else {
        return Ok(());
    };
    if let Some(token) = meta.get("progressToken")
        && !fits(token, limits.max_progress_token_bytes)
    {
        return Err(too_large(
            "params._meta.progressToken",
            limits.max_progress_token_bytes,
            "mcp.max_progress_token_bytes",
        ));
    }
    if !fits(meta, limits.max_meta_bytes) {
        return Err(too_large(
            "params._meta",
            limits.max_meta_bytes,
            "mcp.max_meta_bytes",
        ));
    }
    Ok(())
}

fn too_large(what: &str, limit: usize, key: &str) -> RpcError {
    RpcError::new(
        INVALID_PARAMS,
        format!("invalid params: {what} is larger than {limit} bytes of JSON (the daemon's {key})"),
    )
}

/// Whether `value`, written as JSON, takes at most `max` bytes.
pub fn fits(value: &impl Serialize, max: usize) -> bool {
    let mut counter = Counter { left: max };
    serde_json::to_writer(&mut counter, value).is_ok()
}

/// A writer that takes at most `left` more bytes, then fails, which stops the serializer.
struct Counter {
    left: usize,
}

impl io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.left = self
            .left
            .checked_sub(buf.len())
            .ok_or_else(|| io::Error::other("over the limit"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::mcp::jsonrpc::decode;

    const LIMITS: MetaLimits = MetaLimits {
        max_meta_bytes: 64,
        max_progress_token_bytes: 10,
    };

    fn checked(message: Value) -> Result<(), RpcError> {
        check(&decode(message.to_string().as_bytes()).unwrap(), LIMITS)
    }

    fn call(meta: Value) -> Value {
        json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
               "params": {"name": "echo", "arguments": {"text": "x".repeat(500)}, "_meta": meta}})
    }

    #[test]
    fn sizes_are_counted_as_json_bytes() {
        assert!(fits(&json!("12345678"), 10), "8 characters and 2 quotes");
        assert!(!fits(&json!("123456789"), 10));
        assert!(fits(&json!(1234567890), 10) && !fits(&json!(12345678901u64), 10));
        assert!(
            !fits(&json!("\u{0}"), 7),
            "an escape counts as written: \"\\u0000\""
        );
    }

    #[test]
    fn a_token_or_meta_over_its_limit_is_32602_naming_the_limit() {
        assert!(checked(call(json!({"progressToken": "12345678"}))).is_ok());
        assert!(checked(call(json!(null))).is_ok());
        assert!(
            checked(call(json!("not an object"))).is_ok(),
            "left to the method"
        );
        let error = checked(call(json!({"progressToken": "123456789"}))).unwrap_err();
        assert_eq!(error.code, INVALID_PARAMS);
        assert!(
            error.message.contains("progressToken")
                && error.message.contains("10 bytes")
                && error.message.contains("mcp.max_progress_token_bytes"),
            "{error}"
        );
        let error = checked(call(json!({"other": "y".repeat(60)}))).unwrap_err();
        assert!(
            error
                .message
                .contains("params._meta is larger than 64 bytes")
                && error.message.contains("mcp.max_meta_bytes"),
            "{error}"
        );
        let nested = json!({"progressToken": {"deep": [[[[["x"]]]]]}});
        assert!(
            checked(call(nested)).is_err(),
            "a token of any type is measured"
        );
    }

    #[test]
    fn every_method_and_notifications_are_checked() {
        let big = json!({"k": "v".repeat(100)});
        for message in [
            json!({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"_meta": big}}),
            json!({"jsonrpc": "2.0", "id": 1, "method": "nope", "params": {"_meta": big}}),
            json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"_meta": big}}),
        ] {
            assert!(checked(message).is_err());
        }
        assert!(checked(json!({"jsonrpc": "2.0", "id": 1, "result": {"_meta": big}})).is_ok());
    }
}
