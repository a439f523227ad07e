//! The two eras of MCP, and how each answers a message.
//!
//! Legacy revisions (2025-11-25 and before) open a session with `initialize` ([`legacy`]); the
//! modern one (2026-07-28) is stateless: every request carries its revision in a header and in
//! `_meta` ([`modern`]). Which era a request belongs to is decided by its `MCP-Protocol-Version`
//! header, as the specification's versioning page describes for dual-era servers: a modern value
//! selects the stateless rules; no header, or a legacy value, the session rules. A header whose
//! bytes are not visible ASCII names no revision at all: the HTTP layer refuses it as it would an
//! unsupported revision (`400`) instead of taking it as absent, which would quietly choose the
//! session rules.

pub mod legacy;
pub mod modern;

use serde_json::{Value, json};

use super::version::{LEGACY, server_info};

/// The two ways of speaking MCP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// Sessions opened by `initialize` (2025-11-25 and before).
    Legacy,
    /// Stateless requests (2026-07-28).
    Modern,
}

impl Era {
    /// The era of a request whose `MCP-Protocol-Version` header is `header` (`None`: no header;
    /// an unreadable one never gets here).
    pub fn of(header: Option<&str>) -> Self {
        match header {
            Some(version) if !LEGACY.contains(&version) => Self::Modern,
            _ => Self::Legacy,
        }
    }

    /// `result` as a finished request's result in this era: modern results say they are
    /// complete and who answered.
    pub fn complete(self, mut result: Value) -> Value {
        if self == Self::Modern
            && let Value::Object(fields) = &mut result
        {
            fields.insert("resultType".into(), json!("complete"));
            fields.insert(
                "_meta".into(),
                json!({"io.modelcontextprotocol/serverInfo": server_info()}),
            );
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::version::MODERN;

    #[test]
    fn the_header_decides_the_era() {
        assert_eq!(Era::of(None), Era::Legacy);
        assert_eq!(Era::of(Some("2025-06-18")), Era::Legacy);
        assert_eq!(Era::of(Some(MODERN)), Era::Modern);
        assert_eq!(
            Era::of(Some("v999")),
            Era::Modern,
            "unknown versions get modern errors"
        );
    }

    #[test]
    fn modern_results_are_marked_complete() {
        let modern = Era::Modern.complete(json!({"tools": []}));
        assert_eq!(modern["resultType"], "complete");
        assert_eq!(
            modern["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
            "construct-actor"
        );
        assert_eq!(Era::Legacy.complete(json!({})), json!({}));
    }
}
