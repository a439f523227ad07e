//! What a JSON-RPC message says about itself and its client, made safe to keep and to log: the
//! method, the tool a `tools/call` names, and the `clientInfo` (name, version) of an
//! `initialize`.
//!
//! Everything here comes from the client, so each text is bounded in length and has its control
//! characters replaced: it may be written to a log line or shown in a terminal as it is.

use construct_actors::MAX_LABEL_CHARS;
use serde_json::{Map, Value};

use super::jsonrpc::Incoming;

/// Longest method or tool name kept, in characters.
const MAX_NAME_CHARS: usize = 128;

/// The client's `clientInfo` from its `initialize`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// `clientInfo.name`, e.g. `claude-code`.
    pub name: String,
    /// `clientInfo.version`, when it gave one.
    pub version: Option<String>,
}

impl ClientInfo {
    /// The `clientInfo` in an `initialize`'s `params`, when it names the client.
    pub fn of(params: Option<&Map<String, Value>>) -> Option<Self> {
        let info = params?.get("clientInfo")?;
        let text = |key: &str| {
            info.get(key)
                .and_then(Value::as_str)
                .map(|text| safe(text, MAX_LABEL_CHARS))
                .filter(|text| !text.is_empty())
        };
        Some(Self {
            name: text("name")?,
            version: text("version"),
        })
    }
}

/// What the request log tells of one decoded message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageFacts {
    /// The JSON-RPC method; `None` for a client's response to the server.
    pub method: Option<String>,
    /// The tool a `tools/call` names.
    pub tool: Option<String>,
    /// The client, from an `initialize`.
    pub client: Option<ClientInfo>,
}

/// The target of the request log's lines (`crate::http::request_log`), the one reader of
/// [`MessageFacts`].
pub const REQUEST_LOG: &str = "construct_actor::http::request_log";

impl MessageFacts {
    /// Whether the request log writes its lines at all: when it does not, nobody reads the facts.
    pub fn wanted() -> bool {
        tracing::enabled!(target: REQUEST_LOG, tracing::Level::INFO)
    }

    /// The facts of `incoming`.
    pub fn of(incoming: &Incoming) -> Self {
        let (method, params) = match incoming {
            Incoming::Request(request) => (&request.method, request.params.as_ref()),
            Incoming::Notification(note) => (&note.method, note.params.as_ref()),
            Incoming::Response(_) => return Self::default(),
        };
        let tool = (method == "tools/call")
            .then(|| {
                params?
                    .get("name")?
                    .as_str()
                    .map(|name| safe(name, MAX_NAME_CHARS))
            })
            .flatten();
        let client = (method == "initialize")
            .then(|| ClientInfo::of(params))
            .flatten();
        Self {
            method: Some(safe(method, MAX_NAME_CHARS)),
            tool,
            client,
        }
    }
}

/// `text`, at most `max` characters, with control characters (newlines, escapes) as `?`.
fn safe(text: &str, max: usize) -> String {
    text.chars()
        .take(max)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::jsonrpc::decode;

    fn facts(body: &str) -> MessageFacts {
        MessageFacts::of(&decode(body.as_bytes()).unwrap())
    }

    #[test]
    fn the_method_tool_and_client_are_taken_where_they_are() {
        let call = facts(
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"sleep","arguments":{}}}"#,
        );
        assert_eq!(call.method.as_deref(), Some("tools/call"));
        assert_eq!(call.tool.as_deref(), Some("sleep"));
        assert_eq!(call.client, None);
        let init = facts(
            r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"clientInfo":{"name":"claude-code","version":"2.1.197"}}}"#,
        );
        assert_eq!(
            init.client,
            Some(ClientInfo {
                name: "claude-code".into(),
                version: Some("2.1.197".into())
            })
        );
        let note = facts(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        assert_eq!(note.method.as_deref(), Some("notifications/initialized"));
        assert_eq!(
            facts(r#"{"jsonrpc":"2.0","id":1,"result":{}}"#),
            MessageFacts::default()
        );
    }

    #[test]
    fn client_text_is_bounded_and_cannot_break_a_line() {
        let long = "x".repeat(10_000);
        let body = serde_json::json!({"jsonrpc": "2.0", "id": 0, "method": "initialize",
            "params": {"clientInfo": {"name": format!("a\nb\u{1b}[2J{long}"), "version": 3}}});
        let init = facts(&body.to_string());
        let client = init.client.unwrap();
        assert!(client.name.starts_with("a?b?[2J"), "{}", client.name);
        assert_eq!(client.name.chars().count(), MAX_LABEL_CHARS);
        assert_eq!(client.version, None, "a version that is not text is absent");
        let nameless = facts(
            r#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"clientInfo":{"name":""}}}"#,
        );
        assert_eq!(nameless.client, None);
        let long_method = facts(&format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"{}"}}"#,
            "m".repeat(1000)
        ));
        assert_eq!(long_method.method.unwrap().chars().count(), MAX_NAME_CHARS);
    }
}
