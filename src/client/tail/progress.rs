//! One progress event of a session, read leniently from the daemon's JSON and shown as a line
//! or a bar's title.

use serde_json::Value;

use crate::client::text::one_line;

/// One progress event, as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// The call's progress token, as text (strings without quotes).
    pub token: String,
    /// The tool's name, when the event has one.
    pub tool: Option<String>,
    /// How far.
    pub progress: u64,
    /// Out of how much, when known.
    pub total: Option<u64>,
    /// What it is doing.
    pub message: Option<String>,
    /// When (RFC 3339, as the daemon wrote it).
    pub timestamp: String,
}

impl Progress {
    /// Reads a `ProgressEvent` leniently: a field of the wrong type is taken as absent.
    pub fn from_json(data: &Value) -> Self {
        let number = |value: &Value| {
            value
                .as_u64()
                .or_else(|| value.as_f64().map(|f| f.max(0.0) as u64))
        };
        Self {
            token: match &data["token"] {
                Value::String(text) => one_line(text),
                Value::Null => "?".to_owned(),
                other => one_line(&other.to_string()),
            },
            tool: data["tool"].as_str().map(one_line),
            progress: number(&data["progress"]).unwrap_or(0),
            total: number(&data["total"]),
            message: data["message"].as_str().map(one_line),
            timestamp: data["timestamp"]
                .as_str()
                .map_or_else(String::new, one_line),
        }
    }

    /// The title of the call: its tool, or `tool #<token>` when the event names none.
    pub fn title(&self) -> String {
        match &self.tool {
            Some(tool) => tool.clone(),
            None => format!("tool #{}", self.token),
        }
    }

    /// `[<timestamp>] <tool> #<token> <progress>/<total> <message>` (parts that are unknown left
    /// out).
    pub fn line(&self) -> String {
        let mut line = format!(
            "[{}] {} #{} {}",
            self.timestamp,
            self.tool.as_deref().unwrap_or("tool"),
            self.token,
            self.progress
        );
        if let Some(total) = self.total {
            line.push_str(&format!("/{total}"));
        }
        if let Some(message) = &self.message {
            line.push(' ');
            line.push_str(message);
        }
        line
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn lines_show_what_the_event_has() {
        let full = Progress::from_json(&json!({"token": 5, "progress": 1, "total": 3,
            "message": "step 1\nof 3", "tool": "sleep", "timestamp": "2026-01-01T00:00:00Z"}));
        assert_eq!(
            full.line(),
            "[2026-01-01T00:00:00Z] sleep #5 1/3 step 1 of 3"
        );
        assert_eq!(full.title(), "sleep");
        let bare = Progress::from_json(&json!({"token": "abc", "progress": 2, "timestamp": "t"}));
        assert_eq!(bare.line(), "[t] tool #abc 2");
        assert_eq!(bare.title(), "tool #abc");
    }
}
