//! Protocol revisions this daemon speaks: the legacy ones a client may negotiate at `initialize`,
//! the modern (stateless) one, and which of them get resumable streams. The eras they fall in are
//! `crate::mcp::era`.

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
    fn streams_are_resumable_from_2025_11_25() {
        assert!(resumable("2025-11-25"));
        assert!(!resumable("2025-06-18"));
    }
}
