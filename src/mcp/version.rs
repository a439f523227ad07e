//! Protocol revisions this daemon speaks, the two eras they fall in, and what differs between
//! them in a result.
//!
//! Legacy revisions (2025-11-25 and before) open a session with `initialize`; the modern one
//! (2026-07-28) is stateless: every request carries its revision in a header and in `_meta`.
//! Which era a request belongs to is decided by its `MCP-Protocol-Version` header, as the
//! specification's versioning page describes for dual-era servers: a modern value selects the
//! stateless rules; no header, or a legacy value, the session rules. A header whose bytes are not
//! visible ASCII names no revision at all: the HTTP layer refuses it as it would an unsupported
//! revision (`400`) instead of taking it as absent, which would quietly choose the session rules.

use serde_json::{Value, json};

/// The newest legacy revision, reported on `/health` and offered at `initialize`.
pub const LATEST: &str = "2025-11-25";

/// The modern (stateless) revision.
pub const MODERN: &str = "2026-07-28";

/// Every legacy revision a client may ask for at `initialize`, newest first.
pub const LEGACY: &[&str] = &[LATEST, "2025-06-18", "2025-03-26", "2024-11-05"];

/// Every revision this daemon implements, newest first (what `server/discover` lists).
pub const ALL: &[&str] = &[MODERN, LATEST, "2025-06-18", "2025-03-26", "2024-11-05"];

/// The first revision whose SSE streams start with a priming event and can be resumed.
const RESUMABLE_SINCE: &str = "2025-11-25";

/// The revision to answer a client that asked for `requested` at `initialize`: the same one when
/// supported, otherwise the latest, as the lifecycle chapter prescribes (the client then decides
/// whether it can go on).
pub fn negotiate(requested: Option<&str>) -> &'static str {
    requested
        .and_then(|asked| LEGACY.iter().copied().find(|known| *known == asked))
        .unwrap_or(LATEST)
}

/// Whether a session that negotiated `version` gets priming events and resumable streams.
/// Revisions are dates, so they compare as text.
pub fn resumable(version: &str) -> bool {
    version >= RESUMABLE_SINCE
}

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
            // Kept beside whatever `_meta` the result has (an upstream server's, passed on).
            let meta = fields.entry("_meta").or_insert_with(|| json!({}));
            if !meta.is_object() {
                *meta = json!({});
            }
            meta["io.modelcontextprotocol/serverInfo"] = server_info();
        }
        result
    }
}

/// This daemon's name and version, as MCP's `Implementation`.
pub fn server_info() -> Value {
    json!({"name": env!("CARGO_PKG_NAME"), "version": env!("CARGO_PKG_VERSION")})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_supported_revision_is_echoed_and_others_get_the_latest() {
        assert_eq!(negotiate(Some("2025-03-26")), "2025-03-26");
        assert_eq!(negotiate(Some("1999-01-01")), LATEST);
        assert_eq!(negotiate(Some(MODERN)), LATEST);
        assert_eq!(negotiate(None), LATEST);
    }

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

    #[test]
    fn streams_are_resumable_from_2025_11_25() {
        assert!(resumable("2025-11-25"));
        assert!(!resumable("2025-06-18"));
    }
}
