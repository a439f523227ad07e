//! The MCP server entry `connect` hands an AI CLI: its name, the daemon's URL and the headers
//! to send. Every CLI gets the same facts in its own file format (see [`super::config_file`]),
//! and Claude Code through its own command (see [`super::claude`]); both read them from here.

use super::json::Json;
use crate::headers::SESSION_HEADER;

/// The name of the MCP server entry `connect` writes.
pub const SERVER_NAME: &str = "construct";

/// The MCP server entry a CLI is given: the daemon's URL and the headers to send with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The daemon's MCP URL.
    pub url: String,
    /// The headers, in the order written.
    pub headers: Vec<(&'static str, String)>,
}

impl Entry {
    /// The entry of a Construct session: its token and id in the two headers.
    pub fn session(url: &str, token: &str, session_id: &str) -> Self {
        Self {
            url: url.to_owned(),
            headers: vec![
                ("Authorization", format!("Bearer {token}")),
                (SESSION_HEADER, session_id.to_owned()),
            ],
        }
    }

    /// The entry of a plain standard client: the API key, when the daemon needs one, is all
    /// it sends; its `initialize` opens a session.
    pub fn standard(url: &str, api_key: Option<&str>) -> Self {
        Self {
            url: url.to_owned(),
            headers: api_key
                .map(|key| ("Authorization", format!("Bearer {key}")))
                .into_iter()
                .collect(),
        }
    }

    /// Stand-in values, to check that an existing file can be edited before a session exists.
    pub fn placeholder() -> Self {
        Self::session("http://127.0.0.1:1/mcp", "t", "s")
    }

    /// The headers as a JSON object, in order.
    fn headers_json(&self) -> Json {
        Json::object(
            self.headers
                .iter()
                .map(|(name, value)| (*name, Json::string(value))),
        )
    }

    /// `first`'s members then, when there are headers, `(headers_key, {…})`: an entry as a JSON
    /// object.
    pub fn members<'a>(&self, mut first: Vec<(&'a str, Json)>, headers_key: &'a str) -> Json {
        if !self.headers.is_empty() {
            first.push((headers_key, self.headers_json()));
        }
        Json::object(first)
    }

    /// Claude Code's form of the entry, as `.mcp.json` and `claude mcp add-json` take it.
    pub fn claude_json(&self) -> Json {
        self.members(
            vec![
                ("type", Json::string("http")),
                ("url", Json::string(&self.url)),
            ],
            "headers",
        )
    }
}
