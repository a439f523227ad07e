//! JSON-RPC 2.0 as MCP uses it: decoding one incoming message, encoding responses and errors.
//!
//! Decoding classifies a body as a request, a notification or a response before anything else
//! looks at it, so every later step works on a well-formed message. Batches are not part of MCP
//! since revision 2025-06-18 and are refused as invalid requests.

use std::fmt;

use serde::de::{Error as _, MapAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::error::Category;
use serde_json::{Map, Number, Value};

/// Invalid JSON was received.
pub const PARSE_ERROR: i32 = -32700;
/// The JSON is not a valid request object.
pub const INVALID_REQUEST: i32 = -32600;
/// The method does not exist or is not available.
pub const METHOD_NOT_FOUND: i32 = -32601;
/// Invalid method parameters.
pub const INVALID_PARAMS: i32 = -32602;
/// Internal error.
pub const INTERNAL_ERROR: i32 = -32603;

/// A request id: a number or a string (MCP forbids `null`), echoed exactly as sent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RequestId {
    /// A numeric id.
    Number(Number),
    /// A string id.
    Text(String),
}

impl RequestId {
    /// The id as a key: its JSON text, so that `1` and `"1"` stay apart (how a session knows a
    /// call by its request id, and how an answer finds the request it answers).
    pub fn key(&self) -> String {
        serde_json::to_string(self).expect("a request id is always valid JSON")
    }
}

/// A message that expects a response.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// Echoed in the response.
    pub id: RequestId,
    /// The method name.
    pub method: String,
    /// The parameters object, when present.
    pub params: Option<Map<String, Value>>,
}

/// A message that expects no response.
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The method name.
    pub method: String,
    /// The parameters object, when present.
    pub params: Option<Map<String, Value>>,
}

/// Any single message a client may send.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// Expects a response.
    Request(Request),
    /// Expects none.
    Notification(Notification),
    /// The client's answer to a server request.
    Response(Response),
}

/// A client's answer to a request the daemon sent it (e.g. `sampling/createMessage`).
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The id of the daemon's request.
    pub id: RequestId,
    /// Its `result`, or its `error` object.
    pub outcome: Result<Value, Value>,
}

/// A JSON-RPC error object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("{message} ({code})")]
pub struct RpcError {
    /// One of the codes above.
    pub code: i32,
    /// One line saying what was wrong.
    pub message: String,
}

impl RpcError {
    /// An error with `code` and `message`.
    pub fn new(code: i32, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

/// The members of a message's top-level object that decoding looks at. Read straight from the
/// body: no map of the whole object and no key strings are built (a request is decoded on every
/// call). Every member, these and any other, is parsed as a value tree, so invalid JSON anywhere
/// (a bad escape, a number out of range, nesting past serde_json's limit) is still a parse error:
/// serde_json's skipping of an unread value would not check it.
#[derive(Default)]
struct Members {
    jsonrpc: Option<Value>,
    id: Option<Value>,
    method: Option<Value>,
    params: Option<Value>,
    result: Option<Value>,
    error: Option<Value>,
}

/// A member's name, read without keeping it.
#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
enum Name {
    Jsonrpc,
    Id,
    Method,
    Params,
    Result,
    Error,
    #[serde(other)]
    Other,
}

impl<'de> Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(body: D) -> Result<Self, D::Error> {
        body.deserialize_map(MembersVisitor)
    }
}

struct MembersVisitor;

impl<'de> Visitor<'de> for MembersVisitor {
    type Value = Members;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a JSON-RPC message object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members, A::Error> {
        let mut members = Members::default();
        while let Some(name) = map.next_key::<Name>()? {
            let slot = match name {
                Name::Jsonrpc => &mut members.jsonrpc,
                Name::Id => &mut members.id,
                Name::Method => &mut members.method,
                Name::Params => &mut members.params,
                Name::Result => &mut members.result,
                Name::Error => &mut members.error,
                Name::Other => {
                    map.next_value::<Value>()?;
                    continue;
                }
            };
            // `null` is kept as a value: `"id": null` is an invalid id, not a missing one.
            if slot.replace(map.next_value()?).is_some() {
                return Err(A::Error::custom("a member appears twice"));
            }
        }
        Ok(members)
    }
}

/// Decodes one message from a request body.
pub fn decode(body: &[u8]) -> Result<Incoming, RpcError> {
    let parse_error =
        |err: serde_json::Error| RpcError::new(PARSE_ERROR, format!("parse error: {err}"));
    if body.trim_ascii_start().first() != Some(&b'{') {
        // Parsed as a value tree, as a message's members are: the same nesting limit applies.
        serde_json::from_slice::<Value>(body).map_err(parse_error)?;
        return Err(invalid(
            "a message must be a JSON object (batches are not supported)",
        ));
    }
    let members: Members = serde_json::from_slice(body).map_err(|err| match err.classify() {
        // Every member is read as any JSON value, so the one shape error left is a repeated one.
        Category::Data => invalid(&format!("{err}")),
        _ => parse_error(err),
    })?;
    if members.jsonrpc.as_ref().and_then(Value::as_str) != Some("2.0") {
        return Err(invalid("\"jsonrpc\" must be \"2.0\""));
    }
    let params = match members.params {
        None => None,
        Some(Value::Object(params)) => Some(params),
        Some(_) => return Err(invalid("\"params\" must be an object")),
    };
    let id = match members.id {
        None => None,
        Some(id) => Some(
            serde_json::from_value::<RequestId>(id)
                .map_err(|_| invalid("\"id\" must be a string or a number"))?,
        ),
    };
    match (members.method, id) {
        (Some(Value::String(method)), Some(id)) => {
            Ok(Incoming::Request(Request { id, method, params }))
        }
        (Some(Value::String(method)), None) => {
            Ok(Incoming::Notification(Notification { method, params }))
        }
        (Some(_), _) => Err(invalid("\"method\" must be a string")),
        (None, Some(id)) => match (members.result, members.error) {
            (Some(result), None) => Ok(Incoming::Response(Response {
                id,
                outcome: Ok(result),
            })),
            (None, Some(error)) => Ok(Incoming::Response(Response {
                id,
                outcome: Err(error),
            })),
            (Some(_), Some(_)) => Err(invalid("a response has a result or an error, not both")),
            (None, None) => Err(invalid("a request needs a \"method\"")),
        },
        (None, _) => Err(invalid("a request needs a \"method\"")),
    }
}

fn invalid(message: &str) -> RpcError {
    RpcError::new(INVALID_REQUEST, format!("invalid request: {message}"))
}

#[derive(Serialize)]
struct Success<'a, T: Serialize> {
    jsonrpc: &'static str,
    id: &'a RequestId,
    result: T,
}

#[derive(Serialize)]
struct Failure<'a> {
    jsonrpc: &'static str,
    id: Option<&'a RequestId>,
    error: ErrorObject<'a>,
}

#[derive(Serialize)]
struct ErrorObject<'a> {
    #[serde(flatten)]
    error: &'a RpcError,
    #[serde(skip_serializing_if = "Option::is_none")]
    data: Option<Value>,
}

/// The text of a successful response.
pub fn success(id: &RequestId, result: impl Serialize) -> String {
    serde_json::to_string(&Success {
        jsonrpc: "2.0",
        id,
        result,
    })
    .unwrap_or_else(|err| failure(Some(id), &RpcError::new(INTERNAL_ERROR, err.to_string())))
}

/// The text of an error response; `id` is `null` when the request's id could not be read.
pub fn failure(id: Option<&RequestId>, error: &RpcError) -> String {
    failure_with_data(id, error, None)
}

/// [`failure`] with the error's optional `data` member.
pub fn failure_with_data(id: Option<&RequestId>, error: &RpcError, data: Option<Value>) -> String {
    serde_json::to_string(&Failure {
        jsonrpc: "2.0",
        id,
        error: ErrorObject { error, data },
    })
    .expect("an error response is always valid JSON")
}

/// The error response for an unknown method.
pub fn method_not_found(id: &RequestId, method: &str) -> String {
    failure(
        Some(id),
        &RpcError::new(METHOD_NOT_FOUND, format!("method not found: {method}")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(body: &str) -> i32 {
        decode(body.as_bytes()).unwrap_err().code
    }

    #[test]
    fn requests_notifications_and_responses_are_told_apart() {
        let request = decode(br#"{"jsonrpc":"2.0","id":"a","method":"ping"}"#).unwrap();
        assert!(
            matches!(request, Incoming::Request(Request { id: RequestId::Text(ref t), .. }) if t == "a")
        );
        let note = decode(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).unwrap();
        assert!(matches!(note, Incoming::Notification(_)));
        let response = decode(br#"{"jsonrpc":"2.0","id":1,"result":{}}"#).unwrap();
        let expected = Response {
            id: RequestId::Number(1.into()),
            outcome: Ok(serde_json::json!({})),
        };
        assert_eq!(response, Incoming::Response(expected));
        let refusal = decode(br#"{"jsonrpc":"2.0","id":"x","error":{"code":-1}}"#).unwrap();
        assert!(matches!(
            refusal,
            Incoming::Response(Response {
                outcome: Err(_),
                ..
            })
        ));
    }

    #[test]
    fn malformed_messages_get_the_right_codes() {
        assert_eq!(code("{"), PARSE_ERROR);
        assert_eq!(code("[]"), INVALID_REQUEST);
        assert_eq!(
            code(r#"{"jsonrpc":"1.0","id":1,"method":"x"}"#),
            INVALID_REQUEST
        );
        assert_eq!(code(r#"{"jsonrpc":"2.0","id":1}"#), INVALID_REQUEST);
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":null,"method":"x"}"#),
            INVALID_REQUEST
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":7}"#),
            INVALID_REQUEST
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":"x","params":[1]}"#),
            INVALID_REQUEST
        );
        assert_eq!(
            code(r#" [{"jsonrpc":"2.0","id":1,"method":"x"}]"#),
            INVALID_REQUEST
        );
        assert_eq!(code("7"), INVALID_REQUEST);
        assert_eq!(code("[1,"), PARSE_ERROR);
        let too_deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        assert_eq!(code(&too_deep), PARSE_ERROR);
        assert_eq!(code(""), PARSE_ERROR);
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":"x"} {}"#),
            PARSE_ERROR
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"method":"x","#),
            PARSE_ERROR
        );
        assert_eq!(
            code(r#"{"jsonrpc":"2.0","id":1,"id":2,"method":"x"}"#),
            INVALID_REQUEST
        );
    }

    #[test]
    fn members_it_does_not_know_are_skipped() {
        let request =
            decode(br#"{"extra":{"deep":[1,{"a":null}]},"jsonrpc":"2.0","method":"m","id":3}"#)
                .unwrap();
        let expected = Request {
            id: RequestId::Number(3.into()),
            method: "m".into(),
            params: None,
        };
        assert_eq!(request, Incoming::Request(expected));
    }

    #[test]
    fn invalid_json_in_a_member_it_does_not_read_is_still_a_parse_error() {
        let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        for extra in [r#""\ud800""#, "1e999999", &deep, r#""\x""#] {
            let body = format!(r#"{{"jsonrpc":"2.0","method":"m","id":3,"extra":{extra}}}"#);
            assert_eq!(code(&body), PARSE_ERROR, "{extra:.20}");
        }
        let mut body = br#"{"jsonrpc":"2.0","method":"m","id":3,"extra":"?"}"#.to_vec();
        let question = body.iter().rposition(|&byte| byte == b'?').unwrap();
        body[question] = 0xff;
        assert_eq!(decode(&body).unwrap_err().code, PARSE_ERROR);
    }

    #[test]
    fn ids_are_echoed_exactly() {
        let id: RequestId = serde_json::from_str("12345678901234567890").unwrap();
        assert_eq!(
            success(&id, serde_json::json!({})),
            r#"{"jsonrpc":"2.0","id":12345678901234567890,"result":{}}"#
        );
    }
}
