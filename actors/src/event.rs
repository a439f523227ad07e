//! What a session's followers receive: [`ProgressEvent`]s, serialized once for all of them.
//!
//! A tool's progress is turned into JSON by the publisher, before it reaches the session actor,
//! so the actor only stamps an id on shared bytes and hands a cheap clone to each subscriber:
//! fan-out to a thousand dashboards costs a thousand reference-count increments, not a thousand
//! serializations.

use bytestring::ByteString;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The client's `progressToken`, echoed exactly as given: a JSON number or a string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ProgressToken {
    /// A numeric token, kept as JSON wrote it (so `7` stays `7`, never `7.0`).
    Number(serde_json::Number),
    /// A string token.
    Text(String),
}

impl std::fmt::Display for ProgressToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(number) => write!(f, "{number}"),
            Self::Text(text) => f.write_str(text),
        }
    }
}

/// One progress report of one tool call, as the session events stream shows it (PROTOCOL.md).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressEvent {
    /// The progress token of the call that reported it.
    pub token: ProgressToken,
    /// Work done so far; increases with every report of one call.
    pub progress: u64,
    /// Total work, when the tool knows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// A human-readable line about the current step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The tool that reported it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    /// When it was reported (RFC 3339, UTC).
    pub timestamp: DateTime<Utc>,
}

impl ProgressEvent {
    /// Serializes the event once, into bytes every subscriber can share.
    pub fn serialize(&self) -> SerializedEvent {
        // A struct of strings, numbers and a timestamp always serializes.
        let json = serde_json::to_string(self).expect("a ProgressEvent is always valid JSON");
        SerializedEvent(ByteString::from(json))
    }
}

/// A [`ProgressEvent`] already turned into JSON text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SerializedEvent(ByteString);

impl SerializedEvent {
    /// Event JSON that was serialized elsewhere: read back from the cluster's store, where the
    /// publishing node wrote what [`ProgressEvent::serialize`] made.
    pub fn from_json(json: ByteString) -> Self {
        Self(json)
    }

    /// The JSON text.
    pub fn json(&self) -> &ByteString {
        &self.0
    }

    /// The JSON's length in bytes: what keeping the event costs, for the byte budgets of
    /// histories and queues.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the JSON is empty (it never is for a serialized [`ProgressEvent`]).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An event as one subscriber receives it: the session's id for it and the shared JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedEvent {
    /// Position in the session's events stream; increases by one with every event published.
    pub id: u64,
    /// The event's JSON, shared with every other subscriber.
    pub data: SerializedEvent,
}

impl PublishedEvent {
    /// Event `id` of a session kept in the cluster's store, as read back from its stream.
    pub(crate) fn from_stream(id: u64, json: ByteString) -> Self {
        Self {
            id,
            data: SerializedEvent::from_json(json),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(token: ProgressToken) -> ProgressEvent {
        ProgressEvent {
            token,
            progress: 2,
            total: None,
            message: None,
            tool: Some("sleep".into()),
            timestamp: DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z")
                .unwrap()
                .with_timezone(&Utc),
        }
    }

    #[test]
    fn absent_fields_are_omitted_and_tokens_echo_as_given() {
        let numeric: ProgressToken = serde_json::from_str("7").unwrap();
        let json = event(numeric).serialize();
        assert_eq!(
            &**json.json(),
            r#"{"token":7,"progress":2,"tool":"sleep","timestamp":"2026-01-02T03:04:05Z"}"#
        );
        let text = event(ProgressToken::Text("abc".into())).serialize();
        assert!(text.json().starts_with(r#"{"token":"abc","#));
    }
}
